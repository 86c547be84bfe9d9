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
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
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
type retryTransport struct {
	inner  http.RoundTripper
	policy RetryPolicy
	now    func() time.Time
}

var _ http.RoundTripper = (*retryTransport)(nil)

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		resp, err := t.inner.RoundTrip(req)
		if err != nil || !retryable(resp.StatusCode) || attempt >= t.policy.Attempts {
			return resp, err
		}
		// A request with a body can only be re-sent when it can be rewound.
		if req.Body != nil && req.GetBody == nil {
			return resp, nil
		}
		wait := t.backoff(attempt, resp.Header.Get("Retry-After"))
		if wait > t.policy.MaxWait {
			return resp, nil // the registry asks for longer than we wait: report it
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
		_ = resp.Body.Close()
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
