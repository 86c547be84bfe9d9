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
	"net/http"
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
