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

package webhook

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/pinimages"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
)

func TestStringDiff(t *testing.T) {
	before := `{"metadata":{"name":"p","annotations":{"a":"1"}},"spec":{"replicas":1.0,"containers":[{"name":"c","image":"r/a:1"},{"name":"d","image":"r/b:1"}],"x":{"repository":"r/c","tag":"1"}}}`
	after := `{"metadata":{"name":"p","annotations":{"a":"1"}},"spec":{"replicas":1,"containers":[{"name":"c","image":"r/a:1@sha256:aa"},{"name":"d","image":"r/b:1"}],"x":{"repository":"r/c","tag":"1","digest":"sha256:cc"}}}`
	got, err := stringDiff([]byte(before), []byte(after))
	if err != nil {
		t.Fatal(err)
	}
	want := []op{{Op: "replace", Path: "/spec/containers/0/image", Value: "r/a:1@sha256:aa"}, {Op: "add", Path: "/spec/x/digest", Value: "sha256:cc"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stringDiff (-want +got), a number re-encoded must not appear:\n%s", diff)
	}
	if got := annotationOps([]byte(`{"metadata":{"name":"p"}}`), "k/x", "v"); got[0].Path != "/metadata/annotations" {
		t.Errorf("without annotations: %+v, want the map added", got)
	}
	if got := annotationOps([]byte(`{"metadata":{"annotations":{"k/x":"old"}}}`), "k/x", "v"); got[0].Op != "replace" || got[0].Path != "/metadata/annotations/k~1x" {
		t.Errorf("with the annotation: %+v, want a replace at the escaped key", got)
	}
}

func TestCache(t *testing.T) {
	now := time.Unix(0, 0)
	c := NewCache(time.Minute, 2)
	c.Now = func() time.Time { return now }
	c.put("a", "1")
	c.put("b", "2")
	if _, ok := c.get("a"); !ok {
		t.Fatal("a missing")
	}
	c.put("c", "3") // b is the least recently used
	if _, ok := c.get("b"); ok || c.Len() != 2 {
		t.Errorf("b kept or %d entries, want b evicted and 2 entries", c.Len())
	}
	now = now.Add(2 * time.Minute)
	if _, ok := c.get("a"); ok {
		t.Error("an expired entry answered")
	}
}

func TestDockerConfigKeychain(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("u:p:with:colons"))
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{
		"https://index.docker.io/v1/": map[string]string{"auth": auth},
		"registry.example:5000":       map[string]string{"username": "x", "password": "y"},
	}})
	entries, err := parseDockerConfig(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	kc := secretKeychain{entries: entries}
	for ref, want := range map[string]authn.AuthConfig{
		"nginx:1":                      {Username: "u", Password: "p:with:colons"},
		"registry.example:5000/team/a": {Username: "x", Password: "y"},
		"other.example/a":              {},
	} {
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		a, err := kc.Resolve(r.Context())
		if err != nil {
			t.Fatal(err)
		}
		got, _ := a.Authorization()
		if got.Username != want.Username || got.Password != want.Password {
			t.Errorf("%s: %+v, want %+v", ref, got, want)
		}
	}
	if _, err := parseDockerConfig([]byte(`{"auths":{"r":{"auth":"%%%"}}}`), false); err == nil || strings.Contains(err.Error(), "%%%") {
		t.Errorf("a bad auth entry: %v, want an error without the value", err)
	}
}

func TestPullSecretNames(t *testing.T) {
	for kind, text := range map[string]string{
		"Pod":        "kind: Pod\nspec: {serviceAccountName: sa, imagePullSecrets: [{name: a}, {name: b}]}\n",
		"Deployment": "kind: Deployment\nspec: {template: {spec: {serviceAccountName: sa, imagePullSecrets: [{name: a}, {name: b}]}}}\n",
		"CronJob":    "kind: CronJob\nspec: {jobTemplate: {spec: {template: {spec: {serviceAccountName: sa, imagePullSecrets: [{name: a}, {name: b}]}}}}}\n",
	} {
		sa, secrets := pullSecretNames(yaml.MustParse(text))
		if sa != "sa" || strings.Join(secrets, ",") != "a,b" {
			t.Errorf("%s: %s %v", kind, sa, secrets)
		}
	}
	if sa, _ := pullSecretNames(yaml.MustParse("kind: Pod\nspec: {}\n")); sa != "default" {
		t.Errorf("no service account: %q, want default", sa)
	}
}

func TestDecodeReview(t *testing.T) {
	for body, want := range map[string]string{
		`{`: "failed to decode",
		`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`: "admissionReviewVersions: [v1]",
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`:                            "without a request uid",
	} {
		if _, err := decodeReview([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

// In the pods scope workloads keep their tags: validation requires
// digests of Pods only, and still checks every object's registries.
func TestValidate_podsScope(t *testing.T) {
	cfg, err := pinimages.DecodeConfig([]byte("apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: PinImages\nmetadata:\n  name: p\nspec:\n  policy:\n    requireDigests: true\n    allowedRegistries: [registry.example.com]\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := cfg.Validate()
	if err != nil {
		t.Fatal(err)
	}
	review := func(kind, image string) *Request {
		var obj string
		if kind == "Pod" {
			obj = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","image":"` + image + `"}]}}`
		} else {
			obj = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"template":{"spec":{"containers":[{"name":"a","image":"` + image + `"}]}}}}`
		}
		return &Request{UID: "u", Kind: GroupVersionKind{Kind: kind}, Namespace: "apps", Operation: "CREATE", Object: json.RawMessage(obj)}
	}
	// A required signature rule: a Pod by tag is refused at validation,
	// a workload by tag in the pods scope is left to its pods.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.ReplaceAll(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))), "\n", "\n          ")
	signedCfg, err := pinimages.DecodeConfig([]byte("apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: PinImages\nmetadata:\n  name: p\nspec:\n  policy:\n    allowedRegistries: [registry.example.com]\n    signatures:\n    - prefixes: [registry.example.com]\n      keys:\n      - name: release\n        publicKey: |\n          " + key + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := signedCfg.Validate()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		scope       Scope
		kind, image string
		allowed     bool
	}{
		{ScopePods, "Deployment", "registry.example.com/app:1", true},
		{ScopePods, "Deployment", "other.example.com/app:1", false},
		{ScopePods, "Pod", "registry.example.com/app:1", false},
		{ScopeWorkloads, "Deployment", "registry.example.com/app:1", false},
		{ScopeWorkloads, "Deployment", "registry.example.com/app:1@sha256:" + strings.Repeat("a", 64), true},
	} {
		a := &Admitter{Settings: s, Scope: tc.scope}
		if got := a.Validate(t.Context(), review(tc.kind, tc.image)); got.Allowed != tc.allowed {
			t.Errorf("--mutate=%s, %s of %s: allowed %v, want %v (%+v)", tc.scope, tc.kind, tc.image, got.Allowed, tc.allowed, got.Result)
		}
	}
	// No registry is reached: the pods scope leaves the workload to its
	// pods, and a Pod by tag under a required rule is refused unread.
	noRegistry := func(context.Context, *Request, *yaml.RNode) (registry.Resolver, error) {
		return nil, errors.New("no registry in this test")
	}
	for kind, allowed := range map[string]bool{"Deployment": true, "Pod": false} {
		a := &Admitter{Settings: signed, Scope: ScopePods, Resolver: noRegistry, Secrets: &redact.Secrets{}}
		if got := a.Validate(t.Context(), review(kind, "registry.example.com/app:1")); got.Allowed != allowed {
			t.Errorf("--mutate=pods, signatures required, %s by tag: allowed %v, want %v (%+v)", kind, got.Allowed, allowed, got.Result)
		}
	}
}

// The component ships the Secret without data: the first replica fills it.
func TestRenew_emptySecret(t *testing.T) {
	c := &Certs{Namespace: "ns", SecretName: "tls", Validity: time.Hour, DNSNames: []string{"svc.ns.svc"}, Now: time.Now, Log: slog.New(slog.DiscardHandler)}
	s := secretObject{Metadata: secretMeta{Name: "tls", Namespace: "ns"}}
	if !c.due(s) {
		t.Fatal("an empty Secret is not due for a certificate")
	}
	if err := c.renew(&s); err != nil {
		t.Fatal(err)
	}
	if c.due(s) {
		t.Error("the renewed Secret is still due")
	}
	if err := c.load(s); err != nil {
		t.Error(err)
	}
}
