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

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// components are kustomize/components/*; servicemonitor needs metrics.
var components = []string{"cluster-watch", "metrics", "servicemonitor", "network-policies", "pvc-cache", "ha", "executor-rbac", "secret-restriction"}

// operatorNamespace is the namespace of the base.
const operatorNamespace = "ansible-playbook-operator"

// A build is one kustomization rendered by kustomize: the base or an
// overlay plus components.
type build struct {
	name       string
	base       string   // path under kustomize/
	components []string // names under kustomize/components
	namespace  string   // the kustomization's namespace:, if any
}

func (b build) has(c string) bool { return slices.Contains(b.components, c) }

// builds lists the base with every valid subset of the components, and both
// overlays alone and with each component they do not already include.
func builds(t *testing.T) []build {
	t.Helper()
	var out []build
	for mask := 0; mask < 1<<len(components); mask++ {
		var cs []string
		for i, c := range components {
			if mask&(1<<i) != 0 {
				cs = append(cs, c)
			}
		}
		if slices.Contains(cs, "servicemonitor") && !slices.Contains(cs, "metrics") {
			continue // documented: the ServiceMonitor scrapes the metrics Service
		}
		out = append(out, build{name: "operator+" + strings.Join(cs, "+"), base: "operator", components: cs})
	}
	for _, overlay := range []string{"default", "production"} {
		included := overlayComponents(t, overlay)
		out = append(out, build{name: overlay, base: "overlays/" + overlay, components: included})
		for _, c := range components {
			if slices.Contains(included, c) || (c == "servicemonitor" && !slices.Contains(included, "metrics")) {
				continue
			}
			cs := append(slices.Clone(included), c)
			out = append(out, build{name: overlay + "+" + c, base: "overlays/" + overlay, components: cs})
		}
	}
	return out
}

// overlayComponents reads the components an overlay includes.
func overlayComponents(t *testing.T, overlay string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(), "kustomize", "overlays", overlay, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Components []string `json:"components"`
	}
	if err := yamlutil.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range k.Components {
		out = append(out, filepath.Base(c))
	}
	return out
}

// render runs the real kustomize on a kustomization that takes b.base as
// resource and b's components that it does not already include.
func render(t *testing.T, b build) []*unstructured.Unstructured {
	t.Helper()
	dir := t.TempDir()
	rel := func(p string) string {
		r, err := filepath.Rel(dir, filepath.Join(repoRoot(), "kustomize", p))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var already []string
	if strings.HasPrefix(b.base, "overlays/") {
		already = overlayComponents(t, filepath.Base(b.base))
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- " + rel(b.base) + "\n"
	if b.namespace != "" {
		k += "namespace: " + b.namespace + "\n"
	}
	var extra []string
	for _, c := range b.components {
		if !slices.Contains(already, c) {
			extra = append(extra, "- "+rel("components/"+c))
		}
	}
	if len(extra) > 0 {
		k += "components:\n" + strings.Join(extra, "\n") + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustSh(t, dir, nil, "", tool(t, "kustomize"), "build", ".")
	return decodeAll(t, r.stdout)
}

// decodeAll splits a YAML stream into objects.
func decodeAll(t testing.TB, stream string) []*unstructured.Unstructured {
	t.Helper()
	dec := yamlutil.NewYAMLOrJSONDecoder(strings.NewReader(stream), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("decoding kustomize output: %v", err)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// TestKustomize_everyCombination renders every overlay and component
// combination with the real kustomize, checks what each component promises,
// and sends every distinct rendered object to the API server in a
// server-side dry-run apply (CRDs installed, the operator's namespace
// created).
func TestKustomize_everyCombination(t *testing.T) {
	requireEnv(t)
	all := builds(t)
	var (
		mu       sync.Mutex
		distinct = map[[32]byte]*unstructured.Unstructured{}
		users    = map[[32]byte]string{}
	)
	t.Run("render", func(t *testing.T) {
		for _, b := range all {
			t.Run(b.name, func(t *testing.T) {
				t.Parallel()
				objs := render(t, b)
				checkBuild(t, b, objs)
				mu.Lock()
				defer mu.Unlock()
				for _, o := range objs {
					j, err := json.Marshal(o.Object)
					if err != nil {
						t.Fatal(err)
					}
					sum := sha256.Sum256(j)
					if _, ok := distinct[sum]; !ok {
						distinct[sum], users[sum] = o, b.name
					}
				}
			})
		}
	})
	if t.Failed() {
		return
	}
	t.Logf("%d builds, %d distinct objects", len(all), len(distinct))
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}
	if err := k8sClient.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// The control: the server rejects what its schemas reject.
	bad := find(render(t, build{name: "control", base: "operator", components: []string{"metrics", "servicemonitor"}}), "ServiceMonitor", "ansible-playbook-operator").DeepCopy()
	if err := unstructured.SetNestedField(bad.Object, "thirty seconds", "spec", "endpoints"); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(bad), client.FieldOwner("e2e"), client.ForceOwnership, client.DryRunAll); err == nil {
		t.Fatal("the API server accepted a ServiceMonitor whose endpoints is a string: the dry-run checks nothing")
	}
	keys := make([][32]byte, 0, len(distinct))
	for k := range distinct {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i][:], keys[j][:]) < 0 })
	for _, k := range keys {
		o := distinct[k]
		err := k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
			client.FieldOwner("e2e"), client.ForceOwnership, client.DryRunAll)
		if err != nil {
			t.Errorf("server-side dry-run apply of %s %s/%s (from %s): %v", o.GetKind(), o.GetNamespace(), o.GetName(), users[k], err)
		}
	}
}

// checkBuild checks what the base and each component promise in one build.
func checkBuild(t *testing.T, b build, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" || o.GetKind() == "ClusterRole" || o.GetKind() == "ClusterRoleBinding" || o.GetKind() == "Namespace" {
			continue
		}
		if o.GetNamespace() != operatorNamespace {
			t.Errorf("%s/%s is in namespace %q, want %s", o.GetKind(), o.GetName(), o.GetNamespace(), operatorNamespace)
		}
	}
	dep := find(objs, "Deployment", "ansible-playbook-operator")
	if dep == nil {
		t.Fatal("no Deployment ansible-playbook-operator")
	}
	d := typed[appsDeployment](t, dep)
	pod := d.Spec.Template.Spec
	checkRestricted(t, "Deployment", pod)
	c := pod.Containers[0]
	if !slices.Contains(c.Args, "--leader-elect=true") {
		t.Errorf("manager args %q: leader election is not on", c.Args)
	}
	if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("manager container lacks probes or resources: %+v", c)
	}
	watchesOwn := slices.Contains(c.Args, "--namespace=$(POD_NAMESPACE)")
	crb := find(objs, "ClusterRoleBinding", "ansible-playbook-operator")
	rb := find(objs, "RoleBinding", "ansible-playbook-operator")
	if b.has("cluster-watch") {
		if watchesOwn || crb == nil || rb != nil {
			t.Errorf("cluster-watch: --namespace flag %v, ClusterRoleBinding %v, RoleBinding %v; want no flag, a ClusterRoleBinding and no RoleBinding", watchesOwn, crb != nil, rb != nil)
		}
	} else if !watchesOwn || crb != nil || rb == nil {
		t.Errorf("single-namespace: --namespace flag %v, ClusterRoleBinding %v, RoleBinding %v; want the flag and only a RoleBinding", watchesOwn, crb != nil, rb != nil)
	}
	want, pdb := int32(1), find(objs, "PodDisruptionBudget", "ansible-playbook-operator")
	if b.has("ha") {
		want = 2
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != want || (pdb != nil) != b.has("ha") {
		t.Errorf("ha %v: replicas %v and PodDisruptionBudget %v, want %d", b.has("ha"), d.Spec.Replicas, pdb != nil, want)
	}
	present := map[string]bool{
		"metrics":            find(objs, "Service", "ansible-playbook-operator-metrics") != nil,
		"servicemonitor":     find(objs, "ServiceMonitor", "ansible-playbook-operator") != nil && find(objs, "PrometheusRule", "ansible-playbook-operator") != nil,
		"network-policies":   find(objs, "NetworkPolicy", "ansible-playbook-operator") != nil && find(objs, "NetworkPolicy", "ansible-playbook-executor") != nil,
		"pvc-cache":          find(objs, "PersistentVolumeClaim", "ansible-playbook-cache") != nil,
		"executor-rbac":      find(objs, "ServiceAccount", "ansible-playbook-executor") != nil && find(objs, "RoleBinding", "ansible-playbook-executor") != nil,
		"secret-restriction": find(objs, "Role", "ansible-playbook-operator-secrets") != nil,
	}
	for c, ok := range present {
		if ok != b.has(c) {
			t.Errorf("component %s included %v, its objects present %v", c, b.has(c), ok)
		}
	}
	checkSelectors(t, b, objs, d.Spec.Template.Labels)
	role := typed[rbacClusterRole](t, find(objs, "ClusterRole", "ansible-playbook-operator"))
	readsSecrets := false
	for _, r := range role.Rules {
		readsSecrets = readsSecrets || slices.Contains(r.Resources, "secrets")
	}
	if readsSecrets == b.has("secret-restriction") {
		t.Errorf("secret-restriction %v, but the ClusterRole grants Secrets %v", b.has("secret-restriction"), readsSecrets)
	}
}

// checkSelectors checks that what selects the manager pods selects them
// (the Service, the PodDisruptionBudget, the anti-affinity), that the
// ServiceMonitor selects the Service, and that every object carries the
// part-of label (kubectl get -l, prune).
func checkSelectors(t *testing.T, b build, objs []*unstructured.Unstructured, pod map[string]string) {
	t.Helper()
	for _, o := range objs {
		if o.GetLabels()["app.kubernetes.io/part-of"] != "ansible-playbook-operator" {
			t.Errorf("%s %s lacks the label app.kubernetes.io/part-of", o.GetKind(), o.GetName())
		}
	}
	selects := func(what string, sel *metav1.LabelSelector, set map[string]string) {
		t.Helper()
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil || s.Empty() || !s.Matches(labels.Set(set)) {
			t.Errorf("%s: selector %v does not select %v (%v)", what, sel, set, err)
		}
	}
	if svc := find(objs, "Service", "ansible-playbook-operator-metrics"); svc != nil {
		service := typed[corev1.Service](t, svc)
		selects("the metrics Service", &metav1.LabelSelector{MatchLabels: service.Spec.Selector}, pod)
		if sm := find(objs, "ServiceMonitor", "ansible-playbook-operator"); sm != nil {
			sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
			selects("the ServiceMonitor", &metav1.LabelSelector{MatchLabels: sel}, service.Labels)
			port, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
			if len(port) != 1 || port[0].(map[string]any)["port"] != service.Spec.Ports[0].Name {
				t.Errorf("the ServiceMonitor's endpoints %v do not name the Service's port %s", port, service.Spec.Ports[0].Name)
			}
		}
	}
	if b.has("ha") {
		pdb := typed[policyv1.PodDisruptionBudget](t, find(objs, "PodDisruptionBudget", "ansible-playbook-operator"))
		selects("the PodDisruptionBudget", pdb.Spec.Selector, pod)
		aff := typed[appsDeployment](t, find(objs, "Deployment", "ansible-playbook-operator")).Spec.Template.Spec.Affinity
		if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
			t.Fatal("ha: no pod anti-affinity")
		}
		selects("the anti-affinity", aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector, pod)
	}
}

// typed converts an unstructured object into T.
func typed[T any](t testing.TB, u *unstructured.Unstructured) *T {
	t.Helper()
	if u == nil {
		t.Fatalf("no %T in the build", *new(T))
	}
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		t.Fatalf("%s/%s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

// checkRestricted checks the fields of the restricted Pod Security Standard
// (the API server's PodSecurity admission checks them too, see
// TestKustomize_podsAreRestricted).
func checkRestricted(t *testing.T, what string, pod corev1.PodSpec) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod securityContext %+v is not runAsNonRoot with seccomp RuntimeDefault", what, psc)
	}
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("%s: container %s securityContext %+v: want no privilege escalation, read-only root, drop ALL", what, c.Name, sc)
		}
	}
}

type (
	appsDeployment  = appsv1.Deployment
	rbacClusterRole = rbacv1.ClusterRole
)

// TestKustomize_anotherNamespace installs into a namespace of the user's
// choosing with `namespace:` in an overlay: every object, every binding's
// subject and the Namespace itself move; nothing names the default.
func TestKustomize_anotherNamespace(t *testing.T) {
	b := build{name: "platform-ops", base: "overlays/production", namespace: "platform-ops",
		components: append(overlayComponents(t, "production"), "cluster-watch", "secret-restriction")}
	objs := render(t, b)
	for _, o := range objs {
		switch o.GetKind() {
		case "Namespace":
			if o.GetName() != "platform-ops" {
				t.Errorf("Namespace %s, want platform-ops", o.GetName())
			}
		case "CustomResourceDefinition", "ClusterRole":
		case "ClusterRoleBinding", "RoleBinding":
			subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			for _, s := range subjects {
				if ns := s.(map[string]any)["namespace"]; ns != "platform-ops" {
					t.Errorf("%s %s: subject %v is in namespace %v, want platform-ops", o.GetKind(), o.GetName(), s, ns)
				}
			}
			fallthrough
		default:
			if o.GetKind() != "ClusterRoleBinding" && o.GetNamespace() != "platform-ops" {
				t.Errorf("%s %s in namespace %q, want platform-ops", o.GetKind(), o.GetName(), o.GetNamespace())
			}
		}
	}
}
