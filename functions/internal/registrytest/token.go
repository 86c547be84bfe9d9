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
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Values shared by the token server and docker-registry's auth.token config.
const (
	tokenService = "test-registry"
	tokenIssuer  = "test-issuer"
	tokenTTL     = 5 * time.Minute
)

// tokenServer implements the Docker registry token protocol
// (https://distribution.github.io/distribution/spec/auth/token/) just far
// enough for docker-registry: it grants every requested scope to a client
// that presents the registry's basic credentials.
type tokenServer struct {
	srv      *httptest.Server
	realm    string
	username string
	password string
	key      *rsa.PrivateKey
	certDER  []byte // self-signed cert for key; docker-registry's rootcertbundle
	requests atomic.Int64
	// echo makes a refused login quote the credentials it received.
	echo bool
}

// accessEntry is one element of the JWT "access" claim.
type accessEntry struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

type tokenClaims struct {
	Issuer    string        `json:"iss"`
	Subject   string        `json:"sub"`
	Audience  string        `json:"aud"`
	Expiry    int64         `json:"exp"`
	NotBefore int64         `json:"nbf"`
	IssuedAt  int64         `json:"iat"`
	ID        string        `json:"jti"`
	Access    []accessEntry `json:"access"`
}

// startTokenServer listens on 127.0.0.1 but advertises the realm as
// "localhost": go-containerregistry rejects loopback IP-literal realms that
// differ from the registry host (an SSRF guard), while host names pass.
// With cert != nil it serves HTTPS, as a TLS registry requires.
func startTokenServer(t testing.TB, username, password string, cert *serverCert, echo bool) *tokenServer {
	t.Helper()
	key, certDER := newSigningCert(t)
	ts := &tokenServer{username: username, password: password, key: key, certDER: certDER, echo: echo}
	ts.srv = httptest.NewUnstartedServer(http.HandlerFunc(ts.serveToken))
	scheme := "http"
	if cert != nil {
		ts.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert.tls}}
		ts.srv.StartTLS()
		scheme = "https"
	} else {
		ts.srv.Start()
	}
	t.Cleanup(ts.srv.Close)
	_, port, err := net.SplitHostPort(ts.srv.Listener.Addr().String())
	mustOK(t, err, "reading token server port")
	ts.realm = fmt.Sprintf("%s://localhost:%s/token", scheme, port)
	return ts
}

// certPEM is written to disk as docker-registry's rootcertbundle.
func (ts *tokenServer) certPEM() []byte {
	return pemBlock("CERTIFICATE", ts.certDER)
}

func (ts *tokenServer) serveToken(w http.ResponseWriter, r *http.Request) {
	ts.requests.Add(1)
	user, ok := ts.authenticate(r)
	if !ok {
		// Anonymous clients must fail so tests can exercise "unauthorized".
		w.Header().Set("WWW-Authenticate", `Basic realm="test-token"`)
		msg := "token server requires valid basic credentials"
		if ts.echo {
			msg += ": " + echo(r.Header.Get("Authorization"))
		}
		writeRegistryError(w, http.StatusUnauthorized, "UNAUTHORIZED", msg)
		return
	}
	now := time.Now()
	token, err := ts.sign(tokenClaims{
		Issuer:    tokenIssuer,
		Subject:   user,
		Audience:  tokenService,
		Expiry:    now.Add(tokenTTL).Unix(),
		NotBefore: now.Add(-time.Minute).Unix(),
		IssuedAt:  now.Unix(),
		ID:        rand.Text(),
		Access:    parseScopes(r.URL.Query()["scope"]),
	})
	if err != nil {
		writeRegistryError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token":        token,
		"access_token": token,
		"expires_in":   int(tokenTTL.Seconds()),
		"issued_at":    now.UTC().Format(time.RFC3339),
	})
}

// authenticate checks basic credentials in constant time and returns the user.
func (ts *tokenServer) authenticate(r *http.Request) (string, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(ts.username)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(ts.password)) == 1
	return user, userOK && passOK
}

// parseScopes turns scope parameters such as "repository:team/app:pull,push"
// into access entries. A parameter may hold several space-separated scopes.
// The name is everything between the first and the last colon, because
// repository names may carry a registry host with a port.
func parseScopes(params []string) []accessEntry {
	access := []accessEntry{}
	for _, param := range params {
		for _, scope := range strings.Fields(param) {
			typ, rest, ok := strings.Cut(scope, ":")
			i := strings.LastIndex(rest, ":")
			if !ok || i <= 0 {
				continue
			}
			access = append(access, accessEntry{Type: typ, Name: rest[:i], Actions: strings.Split(rest[i+1:], ",")})
		}
	}
	return access
}

// sign builds an RS256 JWT whose x5c header carries the signing
// certificate, which is how docker-registry locates the verification key.
func (ts *tokenServer) sign(claims tokenClaims) (string, error) {
	header, err := jsonSegment(map[string]any{
		"alg": "RS256",
		"typ": "JWT",
		"x5c": []string{base64.StdEncoding.EncodeToString(ts.certDER)},
	})
	if err != nil {
		return "", err
	}
	payload, err := jsonSegment(claims)
	if err != nil {
		return "", err
	}
	input := header + "." + payload
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ts.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func jsonSegment(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encoding jwt segment: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// writeRegistryError answers in the registry API's error format, so clients
// surface the code (e.g. "UNAUTHORIZED") exactly as a real registry's.
func writeRegistryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "message": message}},
	})
}
