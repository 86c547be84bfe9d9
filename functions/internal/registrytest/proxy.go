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
	"bufio"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Keys of Proxy.RequestsByMethod besides manifest request methods.
const (
	// PingKey counts GET /v2/ (the API version check clients start with).
	PingKey = "ping"
	// OtherKey counts everything else (blobs, uploads, tags, catalog).
	OtherKey = "other"
	// TokenKey counts token requests to the proxy's own token service
	// (RequireBearer).
	TokenKey = "token"
)

// tokenPath is where the proxy's token service answers under RequireBearer.
const tokenPath = "/token"

var manifestPath = regexp.MustCompile(`^/v2/.+/manifests/[^/]+$`)

// Proxy is a plain-HTTP reverse proxy in front of a registry that counts
// requests and injects delays and failures. It preserves the client's Host
// header, so upload Locations the registry generates point back at the
// proxy, and forwards responses untouched, so token realms still point at
// the real token server. All methods are safe for concurrent use.
type Proxy struct {
	// URL is "http://127.0.0.1:PORT".
	URL string
	// Host is "127.0.0.1:PORT", what clients put in image references.
	Host string

	srv      *httptest.Server
	target   *url.URL
	upstream http.Handler
	delay    atomic.Int64 // time.Duration
	requests atomic.Int64
	// firstRequest and lastAnswer are Unix nanoseconds since Reset (0: none).
	firstRequest, lastAnswer atomic.Int64

	mu         sync.Mutex
	byMethod   map[string]int64
	failLeft   int
	failStatus int
	retryAfter string
	fault      Fault
	faultLeft  int             // manifest requests the fault still applies to; <0: all
	hold       chan struct{}   // closed by the release func of Hold
	held       chan struct{}   // closed when the first request waits on hold
	transport  *http.Transport // to the upstream, shared by the reverse proxies
	bearer     bool
	tokens     map[string]map[string]bool // token -> repositories it grants
}

// NewProxy starts a proxy on a free 127.0.0.1 port in front of upstreamHost
// (plain HTTP, "127.0.0.1:PORT") and registers t.Cleanup to close it.
func NewProxy(t testing.TB, upstreamHost string) *Proxy {
	t.Helper()
	target := &url.URL{Scheme: "http", Host: upstreamHost}
	p := &Proxy{byMethod: map[string]int64{}, target: target, tokens: map[string]map[string]bool{}}
	p.upstream = p.reverseProxy(nil)
	p.srv = httptest.NewServer(p)
	p.URL = p.srv.URL
	p.Host = strings.TrimPrefix(p.srv.URL, "http://")
	t.Cleanup(p.Close)
	return p
}

// ServeHTTP counts, optionally fails, forwards the request and delays its
// answer.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.count(r)
	defer func() { p.lastAnswer.Store(time.Now().UnixNano()) }()
	if d := time.Duration(p.delay.Load()); d > 0 {
		dw := &delayedWriter{ResponseWriter: w, done: r.Context().Done(), at: time.Now().Add(d)}
		// An answer the handler leaves to net/http (nothing written) waits too.
		defer dw.wait()
		w = dw
	}
	if p.bearerOn() && !p.authorize(w, r) {
		return
	}
	if status, retryAfter, ok := p.takeFailure(r); ok {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeRegistryError(w, status, errorCode(status), "injected by registrytest proxy")
		return
	}
	if !p.waitHold(r) {
		return
	}
	if f := p.takeFault(r); f != NoFault {
		p.serveFault(w, r, f)
		return
	}
	p.upstream.ServeHTTP(w, r)
}

// reverseProxy forwards to the upstream registry, letting modify change the
// upstream's answer first (nil: forward it untouched).
func (p *Proxy) reverseProxy(modify func(*http.Response) error) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(p.target)
			pr.Out.Host = pr.In.Host
		},
		Transport:      p.upstreamTransport(),
		ModifyResponse: modify,
		// Upstream failures already reach the client as 502; logging them
		// would only add noise, e.g. when a benchmark cancels requests.
		ErrorLog: log.New(io.Discard, "", 0),
	}
}

// RequireBearer makes the proxy authenticate like a registry with a token
// service (Docker Hub's anonymous pulls): a request without a token that
// grants its repository is answered 401 with a Bearer challenge whose realm
// is the proxy's own token service at /token, which grants every scope it
// is asked for, to anyone. Token requests are counted (TokenKey) and
// delayed like the others, so a benchmark sees what they cost.
func (p *Proxy) RequireBearer() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bearer = true
}

func (p *Proxy) bearerOn() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bearer
}

var repoInPath = regexp.MustCompile(`^/v2/(.+)/(manifests|blobs|tags|referrers)/`)

// authorize answers token requests and refuses requests without a token
// for their repository; it reports whether the request goes on upstream.
func (p *Proxy) authorize(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path == tokenPath {
		p.issueToken(w, r)
		return false
	}
	repo := ""
	if m := repoInPath.FindStringSubmatch(r.URL.Path); m != nil {
		repo = m[1]
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	grants, ok := p.tokens[token]
	p.mu.Unlock()
	if ok && (repo == "" || grants[repo]) {
		return true
	}
	challenge := fmt.Sprintf(`Bearer realm="http://%s%s",service="registrytest"`, r.Host, tokenPath)
	if repo != "" {
		challenge += fmt.Sprintf(`,scope="repository:%s:pull"`, repo)
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeRegistryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
	return false
}

// issueToken grants the repositories of every scope asked for (several
// scope parameters, or several scopes in one, as Docker Hub accepts).
func (p *Proxy) issueToken(w http.ResponseWriter, r *http.Request) {
	grants := map[string]bool{}
	for _, a := range parseScopes(r.URL.Query()["scope"]) {
		if a.Type == "repository" {
			grants[a.Name] = true
		}
	}
	token := rand.Text()
	p.mu.Lock()
	p.tokens[token] = grants
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": token, "access_token": token, "expires_in": 300})
}

// upstreamTransport keeps a connection to the upstream for each request in
// flight: net/http's default keeps two idle per host, so that at 16 in
// flight most requests would open a new connection, and the proxy would add
// more than its delay.
func (p *Proxy) upstreamTransport() http.RoundTripper {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		p.transport = t
	}
	return p.transport
}

// SetDelay makes the proxy answer each request d after it arrived (or when
// the upstream answers, if that is later): a network d away from a
// registry. The request is handled, and forwarded, at once; only the
// answer waits, so that the proxy's own work and the upstream's are inside
// d rather than added to it, and a benchmark's bound of d per request is
// one a client can reach.
func (p *Proxy) SetDelay(d time.Duration) {
	p.delay.Store(int64(d))
}

// delayedWriter holds an answer's first byte (status line, body, flush or
// hijack) until at; a client that goes away ends the wait.
type delayedWriter struct {
	http.ResponseWriter
	done   <-chan struct{}
	at     time.Time
	waited bool
}

func (w *delayedWriter) wait() {
	if w.waited {
		return
	}
	w.waited = true
	if time.Until(w.at) > 0 {
		select {
		case <-preciseWake(w.at):
		case <-w.done:
		}
	}
}

func (w *delayedWriter) WriteHeader(code int) {
	w.wait()
	w.ResponseWriter.WriteHeader(code)
}

func (w *delayedWriter) Write(b []byte) (int, error) {
	w.wait()
	return w.ResponseWriter.Write(b)
}

func (w *delayedWriter) Flush() {
	w.wait()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *delayedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.wait()
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// FailNext makes the next n manifest requests (/v2/<name>/manifests/<ref>)
// answer status without being forwarded, with a Retry-After header when
// retryAfter is non-empty. Other requests, such as the ping, pass through so
// that the failure surfaces where a digest resolver would see it.
func (p *Proxy) FailNext(n int, status int, retryAfter string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failLeft, p.failStatus, p.retryAfter = n, status, retryAfter
}

// Requests returns the total number of requests seen, failed ones included.
func (p *Proxy) Requests() int64 {
	return p.requests.Load()
}

// Span returns when the first request since Reset arrived and when the
// last answer was done (zero times when there was none), so that a
// benchmark can tell a client's time before its first request and after
// its last answer from the time it waited on the registry.
func (p *Proxy) Span() (first, last time.Time) {
	at := func(ns int64) time.Time {
		if ns == 0 {
			return time.Time{}
		}
		return time.Unix(0, ns)
	}
	return at(p.firstRequest.Load()), at(p.lastAnswer.Load())
}

// RequestsByMethod returns a snapshot of request counts: manifest requests
// keyed by method ("HEAD", "GET", "PUT", "DELETE"), GET /v2/ under PingKey
// and all other requests under OtherKey.
func (p *Proxy) RequestsByMethod() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.byMethod)
}

// Reset zeroes the counters and cancels pending failures. The delay stays,
// so a benchmark can warm up, Reset, and measure; use SetDelay(0) to drop it.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests.Store(0)
	p.firstRequest.Store(0)
	p.lastAnswer.Store(0)
	clear(p.byMethod)
	p.failLeft = 0
	p.fault, p.faultLeft = NoFault, 0
	if p.hold != nil {
		close(p.hold)
		p.hold = nil
	}
}

// Close stops the proxy; it is also registered with t.Cleanup and may be
// called more than once.
func (p *Proxy) Close() {
	p.srv.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.transport != nil {
		p.transport.CloseIdleConnections()
	}
}

func (p *Proxy) count(r *http.Request) {
	p.firstRequest.CompareAndSwap(0, time.Now().UnixNano())
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests.Add(1)
	p.byMethod[requestKey(r)]++
}

func (p *Proxy) takeFailure(r *http.Request) (status int, retryAfter string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failLeft <= 0 || !manifestPath.MatchString(r.URL.Path) {
		return 0, "", false
	}
	p.failLeft--
	return p.failStatus, p.retryAfter, true
}

func requestKey(r *http.Request) string {
	switch {
	case manifestPath.MatchString(r.URL.Path):
		return r.Method
	case r.URL.Path == "/v2/" && r.Method == http.MethodGet:
		return PingKey
	case r.URL.Path == tokenPath:
		return TokenKey
	default:
		return OtherKey
	}
}

// errorCode maps an injected status to the registry error code a real
// registry would send with it.
func errorCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "TOOMANYREQUESTS"
	case http.StatusUnauthorized:
		return "UNAUTHORIZED"
	case http.StatusForbidden:
		return "DENIED"
	case http.StatusNotFound:
		return "MANIFEST_UNKNOWN"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	default:
		return "UNKNOWN"
	}
}
