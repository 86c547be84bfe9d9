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

package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
)

// RetryPolicy bounds how the transport retries 429 and 5xx answers.
type RetryPolicy struct {
	// Attempts is the total number of tries per request (default 4).
	Attempts int
	// Base is the first backoff; it doubles each retry (default 250ms).
	Base time.Duration
	// MaxWait caps one wait, including a Retry-After the registry asks for (default 30s).
	MaxWait time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 4
	}
	if p.Base <= 0 {
		p.Base = 250 * time.Millisecond
	}
	if p.MaxWait <= 0 {
		p.MaxWait = 30 * time.Second
	}
	return p
}

// retryable are the statuses worth another try: rate limiting and server trouble.
func retryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryTransport retries retryable statuses with exponential backoff, waiting
// what Retry-After asks for when the registry says (go-containerregistry's own
// retry ignores Retry-After, so it is switched off in favour of this one).
// A connection reset and a manifest body cut short are retried the same way.
// Manifest bodies are read here, bounded, so a truncated one can be asked
// for again.
type retryTransport struct {
	inner  http.RoundTripper
	policy RetryPolicy
	now    func() time.Time
}

var _ http.RoundTripper = (*retryTransport)(nil)

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		resp, err := t.inner.RoundTrip(req)
		last := attempt >= t.policy.Attempts || !rewindable(req)
		wait := t.backoff(attempt, "")
		switch {
		case err != nil:
			if last || !connectionDropped(err) || req.Context().Err() != nil {
				return nil, err
			}
		case retryable(resp.StatusCode):
			if last {
				return resp, nil
			}
			if wait = t.backoff(attempt, resp.Header.Get("Retry-After")); wait > t.policy.MaxWait {
				return resp, nil // the registry asks for longer than we wait: report it
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
			_ = resp.Body.Close()
		case req.Method == http.MethodGet && resp.StatusCode == http.StatusOK && isManifestRequest(req):
			body, rerr := readManifest(resp)
			if rerr == nil {
				resp.Body = io.NopCloser(bytes.NewReader(body))
				return resp, nil
			}
			var aerr *answerError
			if last || errors.As(rerr, &aerr) || req.Context().Err() != nil {
				return nil, cutShort(req, resp, body, rerr)
			}
		default:
			return resp, nil
		}
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// rewindable reports whether req can be sent again: it has no body, or one
// that can be rewound.
func rewindable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// connectionDropped reports a connection the registry (or a middlebox)
// reset or closed before answering: worth another try, like a 5xx.
func connectionDropped(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// readManifest reads a manifest body of at most maxManifest bytes.
func readManifest(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	if err != nil {
		return body, err
	}
	if len(body) > maxManifest {
		return nil, badAnswer("registry %s answered GET %s with more than %d MiB, not a manifest", resp.Request.URL.Host, resp.Request.URL.Path, maxManifest>>20)
	}
	return body, nil
}

func cutShort(req *http.Request, resp *http.Response, body []byte, err error) error {
	var aerr *answerError
	if errors.As(err, &aerr) {
		return err
	}
	of := ""
	if resp.ContentLength >= 0 {
		of = fmt.Sprintf(" of %d", resp.ContentLength)
	}
	return badAnswer("registry %s answered GET %s with a body cut short after %d%s bytes (%v)", req.URL.Host, req.URL.Path, len(body), of, err)
}

// backoff is Retry-After when given (seconds or an HTTP date), else Base·2^(attempt-1).
func (t *retryTransport) backoff(attempt int, retryAfter string) time.Duration {
	if d, ok := parseRetryAfter(retryAfter, t.now()); ok {
		return d
	}
	return t.policy.Base << (attempt - 1)
}

func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		if d := at.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// hostRouter sends requests for insecure registries through a transport that
// skips certificate verification, and everything else through the verifying one.
type hostRouter struct {
	secure   http.RoundTripper
	insecure http.RoundTripper
	hosts    map[string]bool // normalized host[:port] of insecure registries
}

var _ http.RoundTripper = (*hostRouter)(nil)

func (r *hostRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.hosts[imageref.NormalizeHost(req.URL.Host)] {
		return r.insecure.RoundTrip(req)
	}
	return r.secure.RoundTrip(req)
}

// newTransport builds the one HTTP transport of a run: proxies from the
// environment (HTTPS_PROXY, NO_PROXY), the system roots plus caBundle, and
// unverified TLS only for the named insecure registries.
func newTransport(caBundle []byte, insecureHosts []string, policy RetryPolicy, now func() time.Time) (http.RoundTripper, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 32 // parallel lookups against one registry reuse connections
	if len(caBundle) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(caBundle) {
			return nil, fmt.Errorf("caBundle holds no PEM certificate")
		}
		base.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	var rt http.RoundTripper = base
	if len(insecureHosts) > 0 {
		skip := base.Clone()
		if skip.TLSClientConfig == nil {
			skip.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		skip.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // only for registries the user named insecure
		hosts := map[string]bool{}
		for _, h := range insecureHosts {
			hosts[imageref.NormalizeHost(h)] = true
			if imageref.NormalizeHost(h) == imageref.DockerHub {
				hosts["index.docker.io"] = true // the host Docker Hub requests go to
			}
		}
		rt = &hostRouter{secure: base, insecure: skip, hosts: hosts}
	}
	return &retryTransport{inner: rt, policy: policy.withDefaults(), now: now}, nil
}

// maxRedirects bounds the redirects one request may follow, as net/http's
// default policy does; go-containerregistry's own redirect check has no
// bound, so a redirect loop would run until the deadline.
const maxRedirects = 10

// guardTransport sits between go-containerregistry and the retrying
// transport. It refuses redirect loops, records the credentials sent (so a
// server that echoes them cannot make pin-images print them) and the headers
// of manifest answers (for the answer checks).
type guardTransport struct {
	inner   http.RoundTripper
	secrets *redact.Secrets
}

var _ http.RoundTripper = (*guardTransport)(nil)

func (t *guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := redirectProblem(req); err != nil {
		return nil, err
	}
	if auth := req.Header.Get("Authorization"); auth != "" {
		if _, value, ok := strings.Cut(auth, " "); ok {
			t.secrets.Add(value)
		}
	}
	resp, err := t.inner.RoundTrip(req)
	if err == nil {
		record(req, resp)
	}
	return resp, err
}

// redirectProblem reports a request that follows a redirect loop or more
// than maxRedirects redirects. net/http sets Response on the requests it
// makes to follow a redirect, and that response's Request is the previous hop.
func redirectProblem(req *http.Request) error {
	hops := 0
	for prev := req.Response; prev != nil && prev.Request != nil; prev = prev.Request.Response {
		hops++
		if prev.Request.URL.String() == req.URL.String() {
			return badAnswer("registry %s answered %s %s with a redirect loop (%d redirects back to it)", req.URL.Host, req.Method, req.URL.Path, hops)
		}
	}
	if hops > maxRedirects {
		return badAnswer("registry %s answered %s %s after more than %d redirects", req.URL.Host, req.Method, req.URL.Path, maxRedirects)
	}
	return nil
}
