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
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

const (
	// pingTTL bounds how long a registry's ping answer is reused: a run
	// lasts far less, the webhook's resolvers live for days, and a registry
	// may change how it authenticates.
	pingTTL = 5 * time.Minute
	// maxPingBody bounds the body of a ping answer kept for reuse.
	maxPingBody = 64 << 10
)

// pingCache answers the API version check (GET /v2/) once per registry.
// go-containerregistry pings once per repository, before each repository's
// token: 50 repositories on one registry cost 50 pings, and every first
// lookup of a repository waits for its own. The ping's answer (200, or 401
// with the challenge) says how the registry authenticates and is the same
// for every repository, so one answer serves them all; lookups of other
// repositories that start while it is in flight wait for it. Only the
// challenge is shared: tokens stay per repository scope.
type pingCache struct {
	inner http.RoundTripper
	now   func() time.Time

	mu      sync.Mutex
	entries map[string]*pingEntry // by scheme://host
}

var _ http.RoundTripper = (*pingCache)(nil)

// pingEntry is one registry's ping: done is closed once the answer is in;
// ok says whether it can be reused (a 200 or 401 read in full, or err).
type pingEntry struct {
	done chan struct{}
	ok   bool
	// err is a definite failure: the registry answered an https ping in
	// plain HTTP (go-containerregistry pings registries on localhost and
	// insecure ones over https first, then http: the https attempt is a
	// TLS handshake each time, the costliest part of a lookup).
	err    error
	at     time.Time
	status int
	proto  string
	major  int
	minor  int
	header http.Header
	body   []byte
}

func newPingCache(inner http.RoundTripper, now func() time.Time) *pingCache {
	return &pingCache{inner: inner, now: now, entries: map[string]*pingEntry{}}
}

// isPing reports an unauthenticated GET /v2/ that is no redirect hop.
func isPing(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Path == "/v2/" && req.URL.RawQuery == "" &&
		req.Header.Get("Authorization") == "" && req.Response == nil
}

func (c *pingCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isPing(req) {
		return c.inner.RoundTrip(req)
	}
	key := req.URL.Scheme + "://" + req.URL.Host
	for {
		c.mu.Lock()
		e, found := c.entries[key]
		if found {
			select {
			case <-e.done:
				if !e.ok || c.now().Sub(e.at) > pingTTL {
					found = false // a failed or stale ping: ask again
				}
			default:
			}
		}
		if !found {
			e = &pingEntry{done: make(chan struct{})}
			c.entries[key] = e
			c.mu.Unlock()
			return c.lead(req, e)
		}
		c.mu.Unlock()
		select {
		case <-e.done:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		if e.ok {
			if e.err != nil {
				return nil, e.err
			}
			return e.replay(req), nil
		}
		// The ping in flight failed: this request asks for itself.
	}
}

// lead sends the ping and, when its answer can be reused, keeps it.
func (c *pingCache) lead(req *http.Request, e *pingEntry) (*http.Response, error) {
	defer close(e.done)
	resp, err := c.inner.RoundTrip(req)
	var plain tls.RecordHeaderError
	if err != nil && errors.As(err, &plain) {
		e.ok, e.at, e.err = true, c.now(), err
	}
	if err != nil || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized) {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPingBody+1))
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(body) <= maxPingBody {
		e.ok, e.at, e.status, e.header, e.body = true, c.now(), resp.StatusCode, resp.Header.Clone(), body
		e.proto, e.major, e.minor = resp.Proto, resp.ProtoMajor, resp.ProtoMinor
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// replay is the kept answer as a response to req.
func (e *pingEntry) replay(req *http.Request) *http.Response {
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", e.status, http.StatusText(e.status)),
		StatusCode:    e.status,
		Proto:         e.proto,
		ProtoMajor:    e.major,
		ProtoMinor:    e.minor,
		Header:        e.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(e.body)),
		ContentLength: int64(len(e.body)),
		Request:       req,
	}
}
