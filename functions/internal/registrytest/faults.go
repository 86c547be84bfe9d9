/*
Copyright 2026 The Ansible Playbook Operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package registrytest

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Fault is a hostile answer the proxy gives to manifest requests: what a
// captive portal, a broken cache or a malicious registry in front of the
// real one sends. Faults that rewrite an answer start from the registry's
// real one, so everything else about it stays true.
type Fault int

const (
	// NoFault forwards manifest requests untouched.
	NoFault Fault = iota
	// HTMLPage answers 200 with a login page (text/html) to HEAD and GET.
	HTMLPage
	// WrongMediaType serves the manifest as application/octet-stream.
	WrongMediaType
	// TruncatedBody sends half of a GET's manifest under the full
	// Content-Length, then closes the connection.
	TruncatedBody
	// UnsizedTruncatedBody sends half of a GET's manifest without a
	// Content-Length (chunked) and without a Docker-Content-Digest, so only
	// the body itself can tell.
	UnsizedTruncatedBody
	// SHA512Digest names a well-formed sha512 digest in Docker-Content-Digest.
	SHA512Digest
	// MalformedDigest names "sha256:" and 12 hex digits in Docker-Content-Digest.
	MalformedDigest
	// HeadDigestMismatch makes HEAD name a well-formed digest of other content;
	// GET answers stay true.
	HeadDigestMismatch
	// BodyDigestMismatch makes a GET's Docker-Content-Digest name a digest its
	// body does not hash to; HEAD answers stay true.
	BodyDigestMismatch
	// RedirectLoop redirects every manifest request to itself (307).
	RedirectLoop
	// EchoCredentials answers 401 with the Authorization header it received,
	// and its base64 part decoded, in the error message.
	EchoCredentials
	// ResetConnection resets the TCP connection without answering.
	ResetConnection
)

// LoginPage is the body HTMLPage serves.
const LoginPage = "<!DOCTYPE html><html><head><title>Sign in to continue</title></head><body><form action=\"/login\"></form></body></html>\n"

// SetFault makes the next n manifest requests (/v2/<name>/manifests/<ref>)
// get f, or all of them until Reset when n <= 0. Pings, token and blob
// requests pass through.
func (p *Proxy) SetFault(f Fault, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault, p.faultLeft = f, n
	if n <= 0 {
		p.faultLeft = -1
	}
}

// Hold makes manifest requests wait until release is called (or Reset).
// held is closed when the first request is waiting, so a test knows the
// client has read its input and is talking to the registry.
func (p *Proxy) Hold() (held <-chan struct{}, release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	hold, waiting := make(chan struct{}), make(chan struct{})
	p.hold, p.held = hold, waiting
	return waiting, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.hold == hold {
			close(hold)
			p.hold = nil
		}
	}
}

// waitHold blocks a manifest request while a Hold is in force; it reports
// false when the client gave up.
func (p *Proxy) waitHold(r *http.Request) bool {
	if !manifestPath.MatchString(r.URL.Path) {
		return true
	}
	p.mu.Lock()
	hold, held := p.hold, p.held
	if hold != nil {
		select {
		case <-held:
		default:
			close(held)
		}
	}
	p.mu.Unlock()
	if hold == nil {
		return true
	}
	select {
	case <-hold:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (p *Proxy) takeFault(r *http.Request) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fault == NoFault || p.faultLeft == 0 || !manifestPath.MatchString(r.URL.Path) {
		return NoFault
	}
	if p.faultLeft > 0 {
		p.faultLeft--
	}
	return p.fault
}

func (p *Proxy) serveFault(w http.ResponseWriter, r *http.Request, f Fault) {
	switch f {
	case HTMLPage:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(LoginPage)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = io.WriteString(w, LoginPage)
		}
	case RedirectLoop:
		http.Redirect(w, r, r.URL.RequestURI(), http.StatusTemporaryRedirect)
	case EchoCredentials:
		writeRegistryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "credentials refused: "+echo(r.Header.Get("Authorization")))
	case ResetConnection:
		resetConnection(w)
	default:
		p.reverseProxy(func(resp *http.Response) error { return rewrite(resp, f) }).ServeHTTP(w, r)
	}
}

// echo renders an Authorization header the way a careless server quotes
// it back: as received, its credentials alone, and base64 ones decoded.
func echo(auth string) string {
	scheme, value, _ := strings.Cut(auth, " ")
	out := fmt.Sprintf("you sent %q, credentials %s", auth, value)
	if decoded, err := base64.StdEncoding.DecodeString(value); err == nil && strings.EqualFold(scheme, "basic") {
		out += fmt.Sprintf(", that is %s", decoded)
	}
	return out
}

// rewrite turns the registry's true answer into the fault's.
func rewrite(resp *http.Response, f Fault) error {
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	get := resp.Request.Method == http.MethodGet
	digest := resp.Header.Get("Docker-Content-Digest")
	switch f {
	case WrongMediaType:
		resp.Header.Set("Content-Type", "application/octet-stream")
	case SHA512Digest:
		sum := sha512.Sum512([]byte(digest))
		resp.Header.Set("Docker-Content-Digest", "sha512:"+hex.EncodeToString(sum[:]))
	case MalformedDigest:
		resp.Header.Set("Docker-Content-Digest", "sha256:0123456789ab")
	case HeadDigestMismatch:
		if !get {
			resp.Header.Set("Docker-Content-Digest", otherDigest(digest))
		}
	case BodyDigestMismatch:
		if get {
			resp.Header.Set("Docker-Content-Digest", otherDigest(digest))
		}
	case TruncatedBody, UnsizedTruncatedBody:
		if !get {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body[:len(body)/2]))
		if f == UnsizedTruncatedBody {
			resp.ContentLength = -1
			resp.Header.Del("Content-Length")
			resp.Header.Del("Docker-Content-Digest")
		}
	}
	return nil
}

// otherDigest is a well-formed digest of content other than digest's.
func otherDigest(digest string) string {
	sum := sha256.Sum256([]byte("not " + digest))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// resetConnection closes the client's connection with a TCP reset, the way
// a crashing server or a middlebox drops it.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // close sends RST instead of FIN
	}
	_ = conn.Close()
}
