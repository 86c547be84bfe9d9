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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clock is the injected "now" of these tests: far from the real time, so a
// test that passed by reading the real clock would show.
var clock = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

func fixedNow() time.Time { return clock }

func TestParseRetryAfter(t *testing.T) {
	for name, tc := range map[string]struct {
		header string
		want   time.Duration
		wantOK bool
	}{
		"whole seconds are a delay":                  {header: "3", want: 3 * time.Second, wantOK: true},
		"zero seconds means retry now":               {header: "0", want: 0, wantOK: true},
		"surrounding white space is ignored":         {header: " 2 ", want: 2 * time.Second, wantOK: true},
		"an HTTP date is measured from the clock":    {header: clock.Add(90 * time.Second).Format(http.TimeFormat), want: 90 * time.Second, wantOK: true},
		"an obsolete RFC 850 date is accepted":       {header: clock.Add(time.Minute).Format(time.RFC850), want: time.Minute, wantOK: true},
		"an HTTP date in the past means retry now":   {header: clock.Add(-time.Hour).Format(http.TimeFormat), want: 0, wantOK: true},
		"an empty header is no answer":               {header: "", wantOK: false},
		"garbage is no answer":                       {header: "soon", wantOK: false},
		"negative seconds are no answer":             {header: "-5", wantOK: false},
		"fractional seconds are no answer":           {header: "1.5", wantOK: false},
		"a date in another format is no answer":      {header: clock.Format(time.RFC3339), wantOK: false},
		"seconds followed by garbage are no answer":  {header: "10 seconds", wantOK: false},
		"a huge delay is kept for the caller to cap": {header: "86400", want: 24 * time.Hour, wantOK: true},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := parseRetryAfter(tc.header, clock)
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.header, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestRetryTransportBackoff(t *testing.T) {
	rt := &retryTransport{policy: RetryPolicy{Attempts: 5, Base: 100 * time.Millisecond, MaxWait: time.Minute}, now: fixedNow}
	for name, tc := range map[string]struct {
		attempt    int
		retryAfter string
		want       time.Duration
	}{
		"the first wait is Base":                  {attempt: 1, want: 100 * time.Millisecond},
		"each further wait doubles":               {attempt: 3, want: 400 * time.Millisecond},
		"Retry-After seconds replace the backoff": {attempt: 3, retryAfter: "7", want: 7 * time.Second},
		"a Retry-After date replaces the backoff": {attempt: 1, retryAfter: clock.Add(20 * time.Second).Format(http.TimeFormat), want: 20 * time.Second},
		"a Retry-After of zero means no wait":     {attempt: 4, retryAfter: "0", want: 0},
		"an unparsable Retry-After is ignored":    {attempt: 2, retryAfter: "later", want: 200 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			if got := rt.backoff(tc.attempt, tc.retryAfter); got != tc.want {
				t.Errorf("backoff(%d, %q) = %v, want %v", tc.attempt, tc.retryAfter, got, tc.want)
			}
		})
	}
}

// scripted is a fake RoundTripper answering from a list of responses (the
// last one repeats); it records request bodies and which responses the
// retry transport closed.
type scripted struct {
	mu        sync.Mutex
	answers   []answer
	err       error
	calls     int
	bodies    []string
	responses []*trackedBody
}

type answer struct {
	status     int
	retryAfter string
}

type trackedBody struct {
	io.Reader
	closed bool
}

func (b *trackedBody) Close() error {
	b.closed = true
	return nil
}

func (s *scripted) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		s.bodies = append(s.bodies, string(b))
	}
	if s.err != nil {
		return nil, s.err
	}
	a := s.answers[min(s.calls, len(s.answers))-1]
	body := &trackedBody{Reader: strings.NewReader(http.StatusText(a.status))}
	s.responses = append(s.responses, body)
	resp := &http.Response{StatusCode: a.status, Header: http.Header{}, Body: body, Request: req}
	if a.retryAfter != "" {
		resp.Header.Set("Retry-After", a.retryAfter)
	}
	return resp, nil
}

func always(status int) []answer { return []answer{{status: status}} }

func TestRetryTransport(t *testing.T) {
	quick := RetryPolicy{Attempts: 3, Base: time.Millisecond, MaxWait: time.Second}
	for name, tc := range map[string]struct {
		policy     RetryPolicy
		answers    []answer
		err        error
		ctx        func() context.Context
		wantStatus int
		wantErr    error
		wantCalls  int
	}{
		"a 503 then a 200 is retried until it succeeds": {
			policy: quick, answers: []answer{{status: 503}, {status: 200}}, wantStatus: 200, wantCalls: 2,
		},
		"408 is retried until Attempts": {policy: quick, answers: always(408), wantStatus: 408, wantCalls: 3},
		"429 is retried until Attempts": {policy: quick, answers: always(429), wantStatus: 429, wantCalls: 3},
		"500 is retried until Attempts": {policy: quick, answers: always(500), wantStatus: 500, wantCalls: 3},
		"502 is retried until Attempts": {policy: quick, answers: always(502), wantStatus: 502, wantCalls: 3},
		"503 is retried until Attempts": {policy: quick, answers: always(503), wantStatus: 503, wantCalls: 3},
		"504 is retried until Attempts": {policy: quick, answers: always(504), wantStatus: 504, wantCalls: 3},
		"200 is not retried":            {policy: quick, answers: always(200), wantStatus: 200, wantCalls: 1},
		"400 is not retried":            {policy: quick, answers: always(400), wantStatus: 400, wantCalls: 1},
		"401 is not retried":            {policy: quick, answers: always(401), wantStatus: 401, wantCalls: 1},
		"403 is not retried":            {policy: quick, answers: always(403), wantStatus: 403, wantCalls: 1},
		"404 is not retried":            {policy: quick, answers: always(404), wantStatus: 404, wantCalls: 1},
		"501 is not retried":            {policy: quick, answers: always(501), wantStatus: 501, wantCalls: 1},
		"Attempts bounds the tries": {
			policy: RetryPolicy{Attempts: 5, Base: time.Millisecond, MaxWait: time.Second}, answers: always(500), wantStatus: 500, wantCalls: 5,
		},
		"one attempt never retries": {
			policy: RetryPolicy{Attempts: 1, Base: time.Millisecond, MaxWait: time.Second}, answers: always(503), wantStatus: 503, wantCalls: 1,
		},
		"a Retry-After beyond MaxWait returns the 429 instead of waiting": {
			policy: quick, answers: []answer{{status: 429, retryAfter: "120"}, {status: 200}}, wantStatus: 429, wantCalls: 1,
		},
		"a Retry-After date beyond MaxWait by the injected clock returns the 429": {
			policy:  quick,
			answers: []answer{{status: 429, retryAfter: clock.Add(time.Hour).Format(http.TimeFormat)}, {status: 200}}, wantStatus: 429, wantCalls: 1,
		},
		"a Retry-After date already past by the injected clock is retried at once": {
			policy:  quick,
			answers: []answer{{status: 429, retryAfter: clock.Add(-time.Hour).Format(http.TimeFormat)}, {status: 200}}, wantStatus: 200, wantCalls: 2,
		},
		"a Retry-After within MaxWait wins over a backoff beyond it": {
			policy:  RetryPolicy{Attempts: 3, Base: time.Hour, MaxWait: time.Second},
			answers: []answer{{status: 429, retryAfter: "0"}, {status: 200}}, wantStatus: 200, wantCalls: 2,
		},
		"a backoff beyond MaxWait returns the answer instead of waiting": {
			policy: RetryPolicy{Attempts: 3, Base: time.Hour, MaxWait: time.Second}, answers: always(503), wantStatus: 503, wantCalls: 1,
		},
		"a transport error is not retried": {
			policy: quick, err: errors.New("connection reset"), wantErr: errors.New("connection reset"), wantCalls: 1,
		},
		"a cancelled context ends the wait with its error": {
			policy: quick, answers: []answer{{status: 503, retryAfter: "1"}, {status: 200}},
			ctx: func() context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx
			},
			wantErr: context.Canceled, wantCalls: 1,
		},
	} {
		t.Run(name, func(t *testing.T) {
			inner := &scripted{answers: tc.answers, err: tc.err}
			rt := &retryTransport{inner: inner, policy: tc.policy, now: fixedNow}
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodHead, "https://registry.example/v2/team/app/manifests/1", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := rt.RoundTrip(req)
			if tc.wantErr != nil {
				if err == nil || err.Error() != tc.wantErr.Error() {
					t.Errorf("RoundTrip error = %v, want %v", err, tc.wantErr)
				}
				if resp != nil {
					t.Errorf("RoundTrip returned a response (%d) with the error", resp.StatusCode)
				}
			} else {
				if err != nil {
					t.Fatalf("RoundTrip: %v", err)
				}
				if resp.StatusCode != tc.wantStatus {
					t.Errorf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
				}
			}
			if inner.calls != tc.wantCalls {
				t.Errorf("tries = %d, want %d", inner.calls, tc.wantCalls)
			}
			// Every answer that was retried is closed so its connection can
			// be reused; the one returned stays open for the caller.
			for i, body := range inner.responses {
				returned := resp != nil && resp.Body == body
				if body.closed == returned {
					t.Errorf("response %d: closed = %v, returned to the caller = %v", i+1, body.closed, returned)
				}
			}
		})
	}
}

func TestRetryTransportRequestBodies(t *testing.T) {
	quick := RetryPolicy{Attempts: 3, Base: time.Millisecond, MaxWait: time.Second}

	t.Run("a rewindable body is sent whole on every try", func(t *testing.T) {
		inner := &scripted{answers: []answer{{status: 503}, {status: 200}}}
		rt := &retryTransport{inner: inner, policy: quick, now: fixedNow}
		req, err := http.NewRequest(http.MethodPost, "https://auth.example/token", strings.NewReader("grant_type=password"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Errorf("status = %d, want 200", resp.StatusCode)
		}
		if diff := cmp.Diff([]string{"grant_type=password", "grant_type=password"}, inner.bodies); diff != "" {
			t.Errorf("bodies sent (-want +got):\n%s", diff)
		}
	})

	t.Run("a body that cannot be rewound is not retried", func(t *testing.T) {
		inner := &scripted{answers: []answer{{status: 503}, {status: 200}}}
		rt := &retryTransport{inner: inner, policy: quick, now: fixedNow}
		req, err := http.NewRequest(http.MethodPost, "https://auth.example/token", io.NopCloser(strings.NewReader("once")))
		if err != nil {
			t.Fatal(err)
		}
		req.GetBody = nil
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 503 || inner.calls != 1 {
			t.Errorf("status = %d after %d tries, want 503 after 1", resp.StatusCode, inner.calls)
		}
	})
}

func TestRetryPolicyDefaults(t *testing.T) {
	want := RetryPolicy{Attempts: 4, Base: 250 * time.Millisecond, MaxWait: 30 * time.Second}
	if diff := cmp.Diff(want, RetryPolicy{}.withDefaults()); diff != "" {
		t.Errorf("zero policy defaults (-want +got):\n%s", diff)
	}
	set := RetryPolicy{Attempts: 2, Base: time.Second, MaxWait: time.Minute}
	if diff := cmp.Diff(set, set.withDefaults()); diff != "" {
		t.Errorf("a set policy was changed (-want +got):\n%s", diff)
	}
}

// httpTransports returns the *http.Transport values newTransport's result
// sends requests through.
func httpTransports(t *testing.T, rt http.RoundTripper) []*http.Transport {
	t.Helper()
	retry, ok := rt.(*retryTransport)
	if !ok {
		t.Fatalf("newTransport returned %T, want *retryTransport outermost", rt)
	}
	switch inner := retry.inner.(type) {
	case *http.Transport:
		return []*http.Transport{inner}
	case *hostRouter:
		return []*http.Transport{inner.secure.(*http.Transport), inner.insecure.(*http.Transport)}
	default:
		t.Fatalf("retryTransport wraps %T", inner)
		return nil
	}
}

// TestNewTransportTakesProxiesFromTheEnvironment checks the wiring only:
// net/http reads HTTPS_PROXY once per process, so t.Setenv here could not
// prove anything. TestResolveHonoursHTTPSProxy proves the behaviour in a
// child process started with the proxy variables set.
func TestNewTransportTakesProxiesFromTheEnvironment(t *testing.T) {
	fromEnv := reflect.ValueOf(http.ProxyFromEnvironment).Pointer()
	for name, insecure := range map[string][]string{
		"the verifying transport":               nil,
		"both transports with insecure entries": {"registry.example:5000"},
	} {
		t.Run(name, func(t *testing.T) {
			rt, err := newTransport(nil, insecure, RetryPolicy{}, fixedNow)
			if err != nil {
				t.Fatal(err)
			}
			for i, tr := range httpTransports(t, rt) {
				if tr.Proxy == nil || reflect.ValueOf(tr.Proxy).Pointer() != fromEnv {
					t.Errorf("transport %d: Proxy is not http.ProxyFromEnvironment", i)
				}
			}
		})
	}
}

// newTLSServerWithOwnCert starts a TLS server with a fresh self-signed
// certificate for 127.0.0.1; httptest.NewTLSServer shares one certificate
// among all its servers, so trusting one would trust every other.
func newTLSServerWithOwnCert(t *testing.T) *httptest.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "transport test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func certPEM(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

func TestNewTransportTrust(t *testing.T) {
	trusted := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(trusted.Close)
	other := newTLSServerWithOwnCert(t)
	host := func(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "https://") }

	for name, tc := range map[string]struct {
		caBundle []byte
		insecure []string
		target   *httptest.Server
		wantOK   bool
	}{
		"a server signed by the CA bundle is trusted":        {caBundle: certPEM(trusted), target: trusted, wantOK: true},
		"a server outside the CA bundle is refused":          {caBundle: certPEM(trusted), target: other, wantOK: false},
		"without a CA bundle a private CA is refused":        {target: trusted, wantOK: false},
		"an insecure host is reached without verification":   {insecure: []string{host(trusted)}, target: trusted, wantOK: true},
		"hosts not named insecure are still verified":        {insecure: []string{host(trusted)}, target: other, wantOK: false},
		"the CA bundle still applies beside insecure hosts":  {caBundle: certPEM(other), insecure: []string{host(trusted)}, target: other, wantOK: true},
		"an insecure host without a port does not match one": {insecure: []string{"127.0.0.1"}, target: trusted, wantOK: false},
	} {
		t.Run(name, func(t *testing.T) {
			rt, err := newTransport(tc.caBundle, tc.insecure, RetryPolicy{Attempts: 1}, fixedNow)
			if err != nil {
				t.Fatal(err)
			}
			url := tc.target.URL + "/v2/"
			req, err := http.NewRequest(http.MethodGet, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := rt.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			if ok := err == nil; ok != tc.wantOK {
				t.Errorf("GET %s: err = %v, want success %v", url, err, tc.wantOK)
			}
		})
	}
}

func TestNewTransportRejectsACABundleWithoutCertificates(t *testing.T) {
	if _, err := newTransport([]byte("not pem"), nil, RetryPolicy{}, fixedNow); err == nil {
		t.Error("newTransport accepted a CA bundle without a PEM certificate")
	}
}

func TestHostRouterRoutesOnlyNamedHostsToTheInsecureTransport(t *testing.T) {
	secure, insecure := &scripted{answers: always(200)}, &scripted{answers: always(200)}
	router := &hostRouter{secure: secure, insecure: insecure, hosts: map[string]bool{"registry.example:5000": true}}
	for _, u := range []string{
		"https://registry.example:5000/v2/",
		"https://REGISTRY.example:5000/v2/",
		"https://registry.example/v2/",
		"https://registry.example:5001/v2/",
		"https://other.example:5000/v2/",
	} {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := router.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	if secure.calls != 3 || insecure.calls != 2 {
		t.Errorf("secure got %d requests, insecure %d; want 3 and 2", secure.calls, insecure.calls)
	}
}

func TestNewTransportLowerCasesInsecureHosts(t *testing.T) {
	rt, err := newTransport(nil, []string{"Registry.Example:5000"}, RetryPolicy{}, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	router, ok := rt.(*retryTransport).inner.(*hostRouter)
	if !ok {
		t.Fatalf("insecure hosts did not install a hostRouter: %T", rt.(*retryTransport).inner)
	}
	if diff := cmp.Diff(map[string]bool{"registry.example:5000": true}, router.hosts); diff != "" {
		t.Errorf("insecure hosts (-want +got):\n%s", diff)
	}
}
