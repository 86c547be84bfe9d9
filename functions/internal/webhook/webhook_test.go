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
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/kube"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pinimages"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/webhook"
)

// env is an API server with the webhook registered for Pods and
// Deployments in namespaces labelled for it, the webhook served by this
// process (URL clientConfig on loopback), and a registry.
type env struct {
	t       *testing.T
	kube    *kube.Client
	cfg     kube.Config
	reg     *registrytest.Registry
	metrics *webhook.Metrics
	certs   *webhook.Certs
	url     string
}

// settings is the PinImages config the webhook runs with.
func settings(t testing.TB, yamlText string) pinimages.Settings {
	t.Helper()
	cfg, err := pinimages.DecodeConfig([]byte(yamlText))
	if err != nil {
		t.Fatal(err)
	}
	s, err := cfg.Validate()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startEnv starts everything; lockCM, if set, turns lock-only admission on
// (ConfigMap "images" key "lock" in namespace "pin-images").
func startEnv(t *testing.T, s pinimages.Settings, lockCM bool, validity time.Duration) *env {
	t.Helper()
	return startEnvOn(t, nil, s, lockCM, validity)
}

// startEnvOn is startEnv with a registry started before (nil: its own),
// for settings that name the registry.
func startEnvOn(t *testing.T, reg *registrytest.Registry, s pinimages.Settings, lockCM bool, validity time.Duration) *env {
	t.Helper()
	cfg := startAPIServer(t)
	client, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if reg == nil {
		reg = registrytest.Start(t, registrytest.Options{})
	}
	e := &env{t: t, kube: client, cfg: cfg, reg: reg, metrics: webhook.NewMetrics()}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, ns := range []string{"pin-images", "apps", "exempt"} {
		labels := map[string]string{}
		if ns == "apps" {
			labels["pin-images.ansible.cloud37.dev/admission"] = "enabled"
		}
		e.create("/api/v1/namespaces", map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns, "labels": labels}})
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	secrets := &redact.Secrets{}
	s.Registry.Secrets = secrets
	s.Registry.Insecure = append(s.Registry.Insecure, e.reg.Host)
	creds := &webhook.Credentials{Kube: client, Own: authn.NewMultiKeychain(), Registry: s.Registry, Cache: webhook.NewCache(time.Minute, 100), Secrets: secrets, Metrics: e.metrics}
	admitter := &webhook.Admitter{Settings: s, Scope: webhook.ScopeWorkloads, Resolver: creds.Resolver, Secrets: secrets, Metrics: e.metrics, Now: time.Now}
	if lockCM {
		admitter.Lock = webhook.NewLockSource("pin-images", "images", "lock", log)
		go admitter.Lock.Run(ctx, client)
	}
	port := freePort(t)
	e.url = fmt.Sprintf("https://127.0.0.1:%d", port)
	e.certs = &webhook.Certs{Kube: client, Namespace: "pin-images", SecretName: "pin-images-webhook-tls", Validity: validity,
		DNSNames: []string{"pin-images-webhook.pin-images.svc"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)},
		Mutating: []string{"pin-images"}, Validating: []string{"pin-images"}, Log: log}
	e.registerWebhooks()
	period := validity / 10
	if period > time.Minute {
		period = time.Minute
	}
	go e.certs.Run(ctx, period)
	srv := &webhook.Server{Admitter: admitter, GetCertificate: e.certs.GetCertificate, Metrics: e.metrics, Log: log, Ready: func() error { return nil }}
	go func() { _ = srv.Serve(ctx, fmt.Sprintf("127.0.0.1:%d", port), "127.0.0.1:0") }()
	// Ready when the configurations carry the CA and the server answers.
	e.eventually("the webhook serving with its caBundle set", func() (bool, string) {
		var m struct {
			Webhooks []struct {
				ClientConfig struct {
					CABundle string `json:"caBundle"`
				} `json:"clientConfig"`
			} `json:"webhooks"`
		}
		if err := client.Get(ctx, "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/pin-images", &m); err != nil {
			return false, err.Error()
		}
		if len(m.Webhooks) == 0 || m.Webhooks[0].ClientConfig.CABundle == "" {
			return false, "no caBundle yet"
		}
		return e.certs.Serial() != "", "no certificate yet"
	})
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// registerWebhooks creates the configurations as the admission component
// does: failurePolicy Fail, sideEffects None, reinvocation, the namespace
// selector (here a label; the component excludes its own namespace and
// kube-system).
func (e *env) registerWebhooks() {
	hook := func(name, path string) map[string]any {
		return map[string]any{
			"name": name, "admissionReviewVersions": []string{"v1"}, "sideEffects": "None", "timeoutSeconds": 10, "failurePolicy": "Fail",
			"clientConfig":      map[string]any{"url": e.url + path},
			"namespaceSelector": map[string]any{"matchLabels": map[string]string{"pin-images.ansible.cloud37.dev/admission": "enabled"}},
			"rules": []any{
				map[string]any{"apiGroups": []string{""}, "apiVersions": []string{"v1"}, "operations": []string{"CREATE", "UPDATE"}, "resources": []string{"pods", "pods/ephemeralcontainers"}},
				map[string]any{"apiGroups": []string{"apps"}, "apiVersions": []string{"v1"}, "operations": []string{"CREATE", "UPDATE"}, "resources": []string{"deployments"}},
			},
		}
	}
	m := hook("pin.pin-images.ansible.cloud37.dev", "/mutate")
	m["reinvocationPolicy"] = "IfNeeded"
	e.create("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration", "metadata": map[string]any{"name": "pin-images"}, "webhooks": []any{m}})
	e.create("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration", "metadata": map[string]any{"name": "pin-images"},
		"webhooks": []any{hook("policy.pin-images.ansible.cloud37.dev", "/validate")}})
}

func (e *env) create(collection string, obj any) {
	e.t.Helper()
	if err := e.kube.Create(context.Background(), collection, obj, nil); err != nil {
		e.t.Fatalf("create in %s: %v", collection, err)
	}
}

func (e *env) eventually(what string, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s: %s", what, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// apiResult is what a client of the API server gets: the stored object,
// the refusal, the warnings.
type apiResult struct {
	status   int
	body     map[string]any
	message  string
	warnings []string
}

// send posts obj to the API server as kubectl does, with query (dryRun).
func (e *env) send(method, path string, obj any, query string) apiResult {
	e.t.Helper()
	body, _ := json.Marshal(obj)
	c := e.cfg
	pair, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		e.t.Fatal(err)
	}
	pool := x509Pool(e.t, c.CA)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}, Timeout: 30 * time.Second}
	req, _ := http.NewRequest(method, c.Host+path+query, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if method == http.MethodPatch {
		req.Header.Set("Content-Type", "application/strategic-merge-patch+json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := apiResult{status: resp.StatusCode, warnings: resp.Header.Values("Warning")}
	_ = json.Unmarshal(data, &r.body)
	if msg, ok := r.body["message"].(string); ok && resp.StatusCode >= 300 {
		r.message = msg
	}
	return r
}

func pod(name, image string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": image}}}}
}

func deployment(name, image string) map[string]any {
	labels := map[string]string{"app": name}
	return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"selector": map[string]any{"matchLabels": labels}, "template": map[string]any{
			"metadata": map[string]any{"labels": labels}, "spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": image}}}}}}
}

func imageOf(obj map[string]any, path ...string) string {
	var cur any = obj
	for _, p := range path {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			cur = c[0]
			if m, ok := cur.(map[string]any); ok {
				cur = m[p]
			}
		}
	}
	s, _ := cur.(string)
	return s
}

// TestWebhook_admission: the API server calls the webhook over TLS (the
// certificate and the caBundle are the webhook's own): Pods and
// Deployments created by tag are stored pinned (with the annotation), a
// tag the registry does not have is admitted unchanged by the mutating
// handler with a warning and refused by the validating one under
// requireDigests with the message the user sees, an image outside
// allowedRegistries is refused, a dry run is answered and stores nothing,
// ephemeral containers are pinned, namespaces outside the selector are
// never touched.
func TestWebhook_admission(t *testing.T) {
	s := settings(t, "apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: PinImages\nmetadata: {name: policy}\nspec:\n  policy:\n    requireDigests: true\n")
	e := startEnv(t, s, false, time.Hour)
	app := e.reg.PushRandom(t, "team/app:1")
	ref := e.reg.Ref("team/app:1")

	t.Run("a Pod by tag is stored pinned, with what was pinned recorded", func(t *testing.T) {
		r := e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", pod("by-tag", ref), "")
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.message)
		}
		if got := imageOf(r.body, "spec", "containers", "image"); got != ref+"@"+app {
			t.Errorf("stored image %q, want %q", got, ref+"@"+app)
		}
		ann, _ := r.body["metadata"].(map[string]any)["annotations"].(map[string]any)
		if !strings.Contains(fmt.Sprint(ann[webhook.PinnedAnnotation]), app) {
			t.Errorf("annotations %v, want %s naming the digest", ann, webhook.PinnedAnnotation)
		}
	})
	t.Run("a Deployment's template is pinned", func(t *testing.T) {
		r := e.send(http.MethodPost, "/apis/apps/v1/namespaces/apps/deployments", deployment("web", ref), "")
		if r.status != http.StatusCreated || imageOf(r.body, "spec", "template", "spec", "containers", "image") != ref+"@"+app {
			t.Errorf("%d %s: %v", r.status, r.message, imageOf(r.body, "spec", "template", "spec", "containers", "image"))
		}
	})
	t.Run("an unknown tag: a warning at mutation, refused by requireDigests", func(t *testing.T) {
		missing := e.reg.Ref("team/app:missing")
		r := e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", pod("unknown-tag", missing), "")
		if r.status != http.StatusForbidden || !strings.Contains(r.message, "spec.containers[name=app].image ("+missing+"): unpinned image") ||
			!strings.Contains(r.message, `admission webhook "policy.pin-images.ansible.cloud37.dev" denied the request`) {
			t.Errorf("%d %q, want the validating webhook's refusal naming the field", r.status, r.message)
		}
		if !strings.Contains(strings.Join(r.warnings, "\n"), "manifest unknown") {
			t.Errorf("warnings %q, want the mutating handler's manifest unknown", r.warnings)
		}
	})
	t.Run("a dry run is answered and stores nothing", func(t *testing.T) {
		r := e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", pod("dry", ref), "?dryRun=All")
		if r.status != http.StatusCreated || imageOf(r.body, "spec", "containers", "image") != ref+"@"+app {
			t.Errorf("dry run: %d %s %v", r.status, r.message, imageOf(r.body, "spec", "containers", "image"))
		}
		if err := e.kube.Get(context.Background(), "/api/v1/namespaces/apps/pods/dry", nil); !kube.IsNotFound(err) {
			t.Errorf("the dry run stored the pod: %v", err)
		}
	})
	t.Run("ephemeral containers are pinned", func(t *testing.T) {
		patch := map[string]any{"spec": map[string]any{"ephemeralContainers": []any{map[string]any{"name": "debug", "image": ref}}}}
		r := e.send(http.MethodPatch, "/api/v1/namespaces/apps/pods/by-tag/ephemeralcontainers", patch, "")
		if r.status != http.StatusOK || imageOf(r.body, "spec", "ephemeralContainers", "image") != ref+"@"+app {
			t.Errorf("%d %s: %v", r.status, r.message, imageOf(r.body, "spec", "ephemeralContainers", "image"))
		}
	})
	t.Run("a namespace outside the selector is not touched", func(t *testing.T) {
		r := e.send(http.MethodPost, "/api/v1/namespaces/exempt/pods", pod("exempt", ref), "")
		if r.status != http.StatusCreated || imageOf(r.body, "spec", "containers", "image") != ref {
			t.Errorf("%d %s: %v", r.status, r.message, imageOf(r.body, "spec", "containers", "image"))
		}
	})
}

// TestWebhook_allowedRegistries: an image from a registry outside the
// policy's prefixes is refused, naming it.
func TestWebhook_allowedRegistries(t *testing.T) {
	s := settings(t, "apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: PinImages\nmetadata: {name: policy}\nspec:\n  policy:\n    allowedRegistries: [registry.example.com]\n")
	e := startEnv(t, s, false, time.Hour)
	ref := e.reg.Ref("team/app:1")
	e.reg.PushRandom(t, "team/app:1")
	r := e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", pod("elsewhere", ref), "")
	if r.status != http.StatusForbidden || !strings.Contains(r.message, "allowedRegistries") {
		t.Errorf("%d %q, want a refusal naming allowedRegistries", r.status, r.message)
	}
}

// TestWebhook_lockOnly: only digests in the ImageLock of the ConfigMap are
// admitted; the webhook reloads the ConfigMap when it changes and says
// which generation it enforces; without the ConfigMap, nothing is.
func TestWebhook_lockOnly(t *testing.T) {
	s := settings(t, "apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: PinImages\nmetadata: {name: policy}\n")
	e := startEnv(t, s, true, time.Hour)
	one, two := e.reg.PushRandom(t, "team/app:1"), e.reg.PushRandom(t, "team/app:2")
	r := e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", pod("no-lock", e.reg.Ref("team/app:1")+"@"+one), "")
	if r.status == http.StatusCreated || !strings.Contains(r.message, "no lock loaded") {
		t.Errorf("without the lock ConfigMap: %d %q, want a refusal saying no lock is loaded", r.status, r.message)
	}
	lockOf := func(entries map[string]string) string {
		var b strings.Builder
		b.WriteString("apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: ImageLock\nmetadata:\n  name: images\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\nspec:\n  images:\n")
		for image, digest := range entries {
			fmt.Fprintf(&b, "  - image: %s\n    digest: %s\n    resolvedAt: \"2026-12-01T00:00:00Z\"\n", image, digest)
		}
		return b.String()
	}
	key := func(tag string) string { return e.reg.Host + "/team/app:" + tag }
	e.create("/api/v1/namespaces/pin-images/configmaps", map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "images"}, "data": map[string]string{"lock": lockOf(map[string]string{key("1"): one})}})
	e.eventually("the lock loaded", func() (bool, string) {
		r := e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", pod("locked", e.reg.Ref("team/app:1")), "")
		return r.status == http.StatusCreated, fmt.Sprintf("%d %s", r.status, r.message)
	})
	r = e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", pod("not-locked", e.reg.Ref("team/app:2")+"@"+two), "")
	if r.status != http.StatusForbidden || !strings.Contains(r.message, "not in the lock") || !strings.Contains(r.message, "ConfigMap pin-images/images key lock resourceVersion") {
		t.Errorf("a digest not in the lock: %d %q, want a refusal naming the lock generation", r.status, r.message)
	}
	var cm map[string]any
	if err := e.kube.Get(context.Background(), "/api/v1/namespaces/pin-images/configmaps/images", &cm); err != nil {
		t.Fatal(err)
	}
	cm["data"] = map[string]string{"lock": lockOf(map[string]string{key("1"): one, key("2"): two})}
	if err := e.kube.Update(context.Background(), "/api/v1/namespaces/pin-images/configmaps/images", cm, nil); err != nil {
		t.Fatal(err)
	}
	e.eventually("the changed lock enforced", func() (bool, string) {
		r := e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", pod(fmt.Sprintf("relocked-%d", time.Now().UnixNano()%100000), e.reg.Ref("team/app:2")+"@"+two), "?dryRun=All")
		return r.status == http.StatusCreated, fmt.Sprintf("%d %s", r.status, r.message)
	})
}

// TestWebhook_certificateRotation: a serving certificate of 30 seconds is
// renewed with a third of its life left while pods keep being created:
// every admission succeeds, and the served certificate changes.
func TestWebhook_certificateRotation(t *testing.T) {
	s := settings(t, "apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: PinImages\nmetadata: {name: policy}\n")
	e := startEnv(t, s, false, 30*time.Second)
	ref := e.reg.Ref("team/app:1")
	e.reg.PushRandom(t, "team/app:1")
	first := e.certs.Serial()
	serials := map[string]bool{first: true}
	for i := 0; len(serials) < 2 && i < 45; i++ {
		r := e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", pod(fmt.Sprintf("rot-%d", i), ref), "?dryRun=All")
		if r.status != http.StatusCreated {
			t.Fatalf("admission %d during rotation: %d %s", i, r.status, r.message)
		}
		serials[e.certs.Serial()] = true
		time.Sleep(time.Second)
	}
	if len(serials) < 2 {
		t.Errorf("the certificate %s was never renewed", first)
	}
}

func x509Pool(t *testing.T, pemData []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		t.Fatal("no CA certificate")
	}
	return pool
}

// TestWebhook_pullSecrets: a private registry's image is pinned with the
// credentials the kubelet would use, the pod's imagePullSecrets or its
// service account's; without them the registry refuses and the object is
// admitted unchanged with the warning; no credential reaches a message.
func TestWebhook_pullSecrets(t *testing.T) {
	s := settings(t, "apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: PinImages\nmetadata: {name: policy}\n")
	e := startEnv(t, s, false, time.Hour)
	private := registrytest.Start(t, registrytest.Options{Auth: registrytest.AuthBasic})
	digest := private.PushRandom(t, "team/secret:1")
	ref := private.Ref("team/secret:1")
	auth := base64.StdEncoding.EncodeToString([]byte(private.Username + ":" + private.Password))
	dockerConfig := fmt.Sprintf(`{"auths":{"http://%s":{"auth":%q}}}`, private.Host, auth)
	e.create("/api/v1/namespaces/apps/secrets", map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "pull"},
		"type": "kubernetes.io/dockerconfigjson", "data": map[string][]byte{".dockerconfigjson": []byte(dockerConfig)}})
	e.create("/api/v1/namespaces/apps/serviceaccounts", map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": "puller"}, "imagePullSecrets": []any{map[string]string{"name": "pull"}}})

	withSecret := pod("pull-secret", ref)
	withSecret["spec"].(map[string]any)["imagePullSecrets"] = []any{map[string]string{"name": "pull"}}
	bySA := pod("service-account", ref)
	bySA["spec"].(map[string]any)["serviceAccountName"] = "puller"
	for name, p := range map[string]map[string]any{"the pod's imagePullSecrets": withSecret, "its service account's": bySA} {
		r := e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", p, "?dryRun=All")
		if r.status != http.StatusCreated || imageOf(r.body, "spec", "containers", "image") != ref+"@"+digest {
			t.Errorf("%s: %d %s %v", name, r.status, r.message, imageOf(r.body, "spec", "containers", "image"))
		}
	}
	r := e.send(http.MethodPost, "/api/v1/namespaces/apps/pods", pod("no-secret", ref), "?dryRun=All")
	if r.status != http.StatusCreated || imageOf(r.body, "spec", "containers", "image") != ref || !strings.Contains(strings.Join(r.warnings, " "), "unauthorized") {
		t.Errorf("without credentials: %d %s %v, warnings %q; want it unchanged with an unauthorized warning", r.status, r.message, imageOf(r.body, "spec", "containers", "image"), r.warnings)
	}
	for _, w := range r.warnings {
		if strings.Contains(w, private.Password) || strings.Contains(w, auth) {
			t.Errorf("a credential in a warning: %q", w)
		}
	}
}
