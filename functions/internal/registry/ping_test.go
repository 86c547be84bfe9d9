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

package registry_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

// TestOnePingPerRegistry resolves two tags of each of five repositories at
// once: the registry is pinged once, not once per repository, and with a
// token service each repository scope costs one token. A ping older than
// its TTL is sent again.
func TestOnePingPerRegistry(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	const repos, tags = 5, 2
	want := map[string]string{}
	for i := range repos * tags {
		repoTag := fmt.Sprintf("team/app%d:%d", i/tags, i%tags)
		want[repoTag] = reg.PushRandom(t, repoTag)
	}
	for name, tc := range map[string]struct {
		bearer bool
		want   map[string]int64
	}{
		"anonymous registry": {want: map[string]int64{registrytest.PingKey: 1, http.MethodHead: repos * tags}},
		"token service":      {bearer: true, want: map[string]int64{registrytest.PingKey: 1, registrytest.TokenKey: repos, http.MethodHead: repos * tags}},
	} {
		t.Run(name, func(t *testing.T) {
			proxy := registrytest.NewProxy(t, reg.Host)
			proxy.SetDelay(5 * time.Millisecond) // the lookups overlap the ping
			if tc.bearer {
				proxy.RequireBearer()
			}
			var clock atomic.Int64
			now := func() time.Time { return time.Unix(clock.Load(), 0) }
			r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain(), Now: now})
			var wg sync.WaitGroup
			for repoTag, digest := range want {
				wg.Go(func() {
					got, err := r.Resolve(testContext(t), parseRef(t, proxy.Host+"/"+repoTag), "")
					if err != nil || got != digest {
						t.Errorf("Resolve(%s) = %s, %v; want %s", repoTag, got, err, digest)
					}
				})
			}
			wg.Wait()
			if diff := cmp.Diff(tc.want, proxy.RequestsByMethod()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}

			// Five minutes later a repository not seen yet pings again.
			clock.Add(int64(6 * time.Minute / time.Second))
			proxy.Reset()
			mustResolve(t, r, proxy.Host+"/team/app0:0", "")                        // its fetcher is warm: no ping
			if _, err := resolve(t, r, proxy.Host+"/team/app9:0", ""); err == nil { // a fresh ping, then manifest unknown
				t.Errorf("Resolve(team/app9:0) found an image that was never pushed")
			}
			if got := proxy.RequestsByMethod()[registrytest.PingKey]; got != 1 {
				t.Errorf("pings after the TTL = %d, want 1", got)
			}
		})
	}
}

// A registry on localhost that speaks plain HTTP is asked over https first
// (go-containerregistry's ping): that attempt is made once per registry,
// not once per repository, as the connections the registry sees show.
func TestPlainHTTPRegistryTriedOverHTTPSOnce(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	for i := range 5 {
		reg.PushRandom(t, fmt.Sprintf("team/app%d:1", i))
	}
	proxy := registrytest.NewProxy(t, reg.Host)
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(proxy)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain()})
	for i := range 5 {
		mustResolve(t, r, fmt.Sprintf("%s/team/app%d:1", host, i), "")
	}
	// One https attempt, one plain connection reused by every lookup.
	if got := conns.Load(); got != 2 {
		t.Errorf("%d connections for 5 repositories, want 2 (one https attempt, one plain connection)", got)
	}
}
