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

package webhook_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

// TestWebhook_signatures: policy.signatures at admission, on the envtest
// tier with images signed by the real cosign: a Pod by the tag of a
// signed image is stored pinned; by the tag of an unsigned one it is left
// unpinned by the mutating handler (with a warning) and refused by the
// validating one; pinned to an unsigned digest it is refused naming the
// image and the key tried; pinned to a signed digest it is admitted.
func TestWebhook_signatures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver: skipped with -short")
	}
	reg := registrytest.Start(t, registrytest.Options{})
	key := registrytest.NewCosignKey(t)
	signed := reg.PushRandom(t, "team/signed:1")
	registrytest.Sign(t, key, reg.Ref("team/signed")+"@"+signed)
	unsigned := reg.PushRandom(t, "team/unsigned:1")
	cfg := "apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: PinImages\nmetadata: {name: policy}\nspec:\n  policy:\n    signatures:\n" +
		"    - prefixes: [" + reg.Host + "/team]\n      keys:\n      - name: release\n        publicKey: |\n"
	for _, l := range strings.Split(strings.TrimSpace(key.PublicKey), "\n") {
		cfg += "          " + l + "\n"
	}
	e := startEnvOn(t, reg, settings(t, cfg), false, time.Hour)

	t.Run("a Pod by the tag of a signed image is stored pinned", func(t *testing.T) {
		r := e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", pod("signed-tag", reg.Ref("team/signed:1")), "")
		if r.status != http.StatusCreated || imageOf(r.body, "spec", "containers", "image") != reg.Ref("team/signed:1")+"@"+signed {
			t.Errorf("%d %s: %v", r.status, r.message, imageOf(r.body, "spec", "containers", "image"))
		}
	})
	t.Run("a Pod by the tag of an unsigned image is not pinned and is refused", func(t *testing.T) {
		ref := reg.Ref("team/unsigned:1")
		r := e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", pod("unsigned-tag", ref), "")
		if r.status != http.StatusForbidden || !strings.Contains(r.message, "unpinned image "+ref+" under policy.signatures[0]") {
			t.Errorf("%d %q, want the validating webhook's refusal", r.status, r.message)
		}
		if !strings.Contains(strings.Join(r.warnings, "\n"), "signature not verified: "+ref+"@"+unsigned) {
			t.Errorf("warnings %q, want the mutating handler's refusal to pin", r.warnings)
		}
	})
	t.Run("a Pod pinned to an unsigned digest is refused", func(t *testing.T) {
		ref := reg.Ref("team/unsigned:1") + "@" + unsigned
		r := e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", pod("unsigned-digest", ref), "")
		for _, s := range []string{`admission webhook "policy.pin-images.ansible.cloud37.dev" denied the request`,
			"signature not verified: " + ref, "tried release (sha256:", "the registry has no signature for it"} {
			if r.status != http.StatusForbidden || !strings.Contains(r.message, s) {
				t.Errorf("%d %q, want a refusal saying %q", r.status, r.message, s)
			}
		}
	})
	t.Run("a Pod pinned to a signed digest is admitted", func(t *testing.T) {
		ref := reg.Ref("team/signed:1") + "@" + signed
		if r := e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", pod("signed-digest", ref), ""); r.status != http.StatusCreated {
			t.Errorf("%d %s", r.status, r.message)
		}
	})
}
