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
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/kube"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/webhook"
)

// benchContainers is the pod of the admission benchmark: 20 containers,
// each its own repository.
const benchContainers = 20

// BenchmarkAdmission times /mutate for a 20-container Pod as the API server
// calls it: over TLS, the pod's ServiceAccount read from a real
// kube-apiserver, digests from a real docker-registry behind a proxy that
// delays every request by the given latency. Cold: a webhook that has not
// seen the images (fresh cache and connections); cached: the same pod
// again. It prints p50 and p99 of each.
func BenchmarkAdmission(b *testing.B) {
	cfg := startAPIServer(b)
	client, err := kube.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	reg := registrytest.Start(b, registrytest.Options{})
	var containers []any
	for i := range benchContainers {
		repoTag := fmt.Sprintf("bench/app-%02d:1", i)
		reg.PushRandom(b, repoTag)
		containers = append(containers, map[string]any{"name": fmt.Sprintf("c%02d", i), "image": reg.Host + "/" + repoTag})
	}
	for _, delay := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("delay=%v", delay), func(b *testing.B) { benchAdmission(b, client, reg, containers, delay) })
	}
}

func benchAdmission(b *testing.B, client *kube.Client, reg *registrytest.Registry, containers []any, delay time.Duration) {
	{
		proxy := registrytest.NewProxy(b, reg.Host)
		proxy.SetDelay(delay)
		obj, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "bench", "namespace": "default"},
			"spec": map[string]any{"containers": containers}})
		obj = bytes.ReplaceAll(obj, []byte(reg.Host), []byte(proxy.Host))
		review, _ := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": map[string]any{
			"uid": "bench", "kind": map[string]string{"group": "", "version": "v1", "kind": "Pod"},
			"resource":  map[string]string{"group": "", "version": "v1", "resource": "pods"},
			"namespace": "default", "operation": "CREATE", "object": json.RawMessage(obj)}})
		s := settings(b, "apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: PinImages\nmetadata:\n  name: webhook\n")
		s.Registry.Insecure = append(s.Registry.Insecure, proxy.Host)
		newServer := func() *httptest.Server {
			secrets, metrics := &redact.Secrets{}, webhook.NewMetrics()
			s.Registry.Secrets = secrets
			creds := &webhook.Credentials{Kube: client, Own: authn.NewMultiKeychain(), Registry: s.Registry, Cache: webhook.NewCache(time.Minute, 100), Secrets: secrets, Metrics: metrics}
			admitter := &webhook.Admitter{Settings: s, Scope: webhook.ScopeWorkloads, Resolver: creds.Resolver, Secrets: secrets, Metrics: metrics, Now: time.Now}
			srv := &webhook.Server{Admitter: admitter, Metrics: metrics, Log: slog.New(slog.DiscardHandler), Ready: func() error { return nil }}
			return httptest.NewTLSServer(srv.Handler())
		}
		call := func(ts *httptest.Server) time.Duration {
			start := time.Now()
			resp, err := ts.Client().Post(ts.URL+"/mutate?timeout=10s", "application/json", bytes.NewReader(review))
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			took := time.Since(start)
			var out struct {
				Response webhook.Response `json:"response"`
			}
			if err := json.Unmarshal(body, &out); err != nil || !out.Response.Allowed || len(out.Response.Patch) == 0 {
				b.Fatalf("the admission did not pin the pod: %s", body)
			}
			return took
		}
		// One round first, untimed: the API server's and the registry's
		// first answers (their caches, our connections' setup) are not
		// what a running webhook sees.
		warm := newServer()
		call(warm)
		warm.Close()
		const samples = 100
		var cold, cached []time.Duration
		for b.Loop() {
			cold, cached = cold[:0], cached[:0]
			for range samples {
				ts := newServer()
				cold = append(cold, call(ts)) // the first call: no digest known
				cached = append(cached, call(ts))
				ts.Close()
			}
		}
		fmt.Printf("admission of a %d-container Pod, registry delay %v: cold p50 %v p99 %v; cached p50 %v p99 %v (%d samples each)\n",
			benchContainers, delay, percentile(cold, 50), percentile(cold, 99), percentile(cached, 50), percentile(cached, 99), samples)
		b.ReportMetric(float64(percentile(cached, 99).Microseconds())/1000, "cached-p99-ms")
		b.ReportMetric(float64(percentile(cold, 99).Microseconds())/1000, "cold-p99-ms")
	}
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p+99)/100 - 1
	return s[max(i, 0)].Round(10 * time.Microsecond)
}
