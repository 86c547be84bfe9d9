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

package git_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
)

// holdingProxy forwards to a git http server, counting ref advertisements
// and holding each until release is closed.
type holdingProxy struct {
	url     string
	adverts atomic.Int64
	release chan struct{}
}

func startHoldingProxy(t *testing.T, upstream string) *holdingProxy {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &holdingProxy{release: make(chan struct{})}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(&url.URL{Scheme: target.Scheme, Host: target.Host})
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == target.Path+"/info/refs" {
			p.adverts.Add(1)
			<-p.release
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL + target.Path
	return p
}

func TestLsRemote_coalescesConcurrentCalls(t *testing.T) {
	repo := gittest.NewRepo(t, map[string]string{"site.yml": "- hosts: all\n"})
	bare := repo.Bare(t)
	want, err := git.LsRemote(context.Background(), gittest.StartHTTP(t, bare, "", ""), git.Auth{})
	if err != nil {
		t.Fatal(err)
	}
	alice := git.Auth{Username: "alice", Password: "one"}
	bob := git.Auth{Username: "alice", Password: "two"}
	tests := map[string]struct {
		auths       []git.Auth
		wantAdverts int64
	}{
		"eight calls with the same credentials share one ls-remote": {
			auths: []git.Auth{alice, alice, alice, alice, alice, alice, alice, alice}, wantAdverts: 1},
		"other credentials are another ls-remote": {
			auths: []git.Auth{alice, bob, alice, bob}, wantAdverts: 2},
		"anonymous and authenticated calls are not shared": {
			auths: []git.Auth{{}, alice}, wantAdverts: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// Not parallel: the joined hook is the package's.
			proxy := startHoldingProxy(t, gittest.StartHTTP(t, bare, "", ""))
			var joined sync.WaitGroup
			joined.Add(len(tc.auths))
			git.SetJoinedHook(t, joined.Done)
			got := make([][]git.Ref, len(tc.auths))
			errs := make([]error, len(tc.auths))
			var done sync.WaitGroup
			for i, auth := range tc.auths {
				done.Go(func() { got[i], errs[i] = git.LsRemote(context.Background(), proxy.url, auth) })
			}
			joined.Wait()
			close(proxy.release)
			done.Wait()
			for i := range tc.auths {
				if errs[i] != nil {
					t.Fatalf("call %d: %v", i, errs[i])
				}
				if diff := cmp.Diff(want, got[i]); diff != "" {
					t.Errorf("call %d: refs mismatch (-want +got):\n%s", i, diff)
				}
			}
			if n := proxy.adverts.Load(); n != tc.wantAdverts {
				t.Errorf("the server was asked %d times, want %d", n, tc.wantAdverts)
			}
			// Nothing is kept: a later call asks again.
			git.SetJoinedHook(t, nil)
			before := proxy.adverts.Load()
			if _, err := git.LsRemote(context.Background(), proxy.url, tc.auths[0]); err != nil {
				t.Fatal(err)
			}
			if proxy.adverts.Load() != before+1 {
				t.Errorf("a call after the shared one did not ask the server")
			}
		})
	}
}

func TestLsRemote_callerGivingUpLeavesTheSharedCall(t *testing.T) {
	repo := gittest.NewRepo(t, map[string]string{"site.yml": "- hosts: all\n"})
	proxy := startHoldingProxy(t, gittest.StartHTTP(t, repo.Bare(t), "", ""))
	var joined sync.WaitGroup
	joined.Add(2)
	git.SetJoinedHook(t, joined.Done)
	// The first caller starts the exchange, then gives up.
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := git.LsRemote(leaderCtx, proxy.url, git.Auth{})
		leaderErr <- err
	}()
	var refs []git.Ref
	var err error
	var done sync.WaitGroup
	done.Go(func() { refs, err = git.LsRemote(context.Background(), proxy.url, git.Auth{}) })
	joined.Wait()
	cancelLeader()
	select {
	case lerr := <-leaderErr:
		if !errors.Is(lerr, context.Canceled) {
			t.Errorf("the caller that gave up got %v, want an error wrapping context.Canceled", lerr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the caller that gave up is still waiting for the shared call")
	}
	close(proxy.release)
	done.Wait()
	if err != nil {
		t.Fatalf("the caller that stayed got %v; the shared call must outlive the one that gave up", err)
	}
	if len(refs) == 0 || refs[0].Name != "HEAD" || refs[0].Hash != repo.Head(t, "main") {
		t.Errorf("the caller that stayed got %v, want HEAD at %s first", refs, repo.Head(t, "main"))
	}
	if n := proxy.adverts.Load(); n != 1 {
		t.Errorf("the server was asked %d times, want 1", n)
	}
}
