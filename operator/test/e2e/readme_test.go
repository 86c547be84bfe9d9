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
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/opconfig"
)

// readmeBlock is a fenced code block of README.md with the marker before it.
type readmeBlock struct {
	marker, name, lang, body string
	fails                    bool
}

var (
	fenceRE  = regexp.MustCompile("(?ms)^```([a-z]*)\\n(.*?)^```")
	markerRE = regexp.MustCompile(`<!-- (e2e|readme):([a-z0-9-]+)( fails)? -->\s*$`)
)

// readmeBlocks returns every code block; a block without a marker fails
// the test: every block of the README is run by a test (readme: blocks
// here, e2e: blocks by functions/test/e2e's walkthrough).
func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	var out []readmeBlock
	for _, loc := range fenceRE.FindAllStringSubmatchIndex(text, -1) {
		before := strings.TrimRight(text[:loc[0]], "\n")
		m := markerRE.FindStringSubmatch(before[strings.LastIndex(before, "\n")+1:])
		body := text[loc[4]:loc[5]]
		if m == nil {
			t.Errorf("README block without a test marker (<!-- readme:NAME --> or <!-- e2e:NAME -->):\n%s", body)
			continue
		}
		out = append(out, readmeBlock{marker: m[1], name: m[2], fails: m[3] != "", lang: text[loc[2]:loc[3]], body: body})
	}
	return out
}

// TestREADME runs the README's readme: blocks in a copy of the
// repository, against the local cluster (kubectl) and its registry, and
// checks what each did.
func TestREADME(t *testing.T) {
	c := useCluster(t)
	blocks := map[string]readmeBlock{}
	var order []string
	for _, b := range readmeBlocks(t) {
		if b.marker == "readme" {
			blocks[b.name] = b
			order = append(order, b.name)
		}
	}
	want := []string{"two-commands", "cluster-up-output", "fn-config", "cluster-up", "push", "registry", "pin", "install", "crs", "upgrade", "uninstall", "backup", "migrate",
		"troubleshoot-verify", "troubleshoot-manifest-unknown", "troubleshoot-drift",
		"kustomize-files", "kustomize-exec", "kpt-files", "kpt", "admission-files", "development"}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Fatalf("README readme: blocks %v, want %v", order, want)
	}

	// The README installs the overlay as it is: the other tests'
	// installation goes first, the README's own at the end (uninstall).
	c.uninstallOperator(t)
	k8sClient := c.client
	// The README's tag moves push other images as ansible-runner:13: the
	// runner image is restored for the other tests.
	t.Cleanup(func() {
		mustSh(t, "", nil, "", tool(t, "crane"), "push", "--insecure", filepath.Join(repoRoot(), "bin", "cluster-images", "ansible-runner:13"), c.registry+"/ansible-runner:13")
	})
	registry := c.registry
	// The README's commands change files: a copy of the trees they edit,
	// the rest of the repository linked.
	work := copyTree(t, "localhost:5000") // the README's registry block points it at $REGISTRY
	for _, link := range []string{"Makefile", "hack", "bin", "_out", "functions", "operator", "Dockerfile.fn", "Dockerfile.operator", "go.work", "go.work.sum", ".git"} {
		if err := os.Symlink(filepath.Join(repoRoot(), link), filepath.Join(work, link)); err != nil {
			t.Fatal(err)
		}
	}
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".docker", "config.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + filepath.Join(repoRoot(), "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		"KUBECONFIG=" + c.kubeconfig, "REGISTRY=" + registry, "HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker"),
		"GOCACHE=" + goEnv(t, "GOCACHE"), "GOMODCACHE=" + goEnv(t, "GOMODCACHE"), "GOPATH=" + goEnv(t, "GOPATH"),
		"XDG_CACHE_HOME=" + xdgCache(t),
	}
	run := func(t *testing.T, name string) result {
		t.Helper()
		b := blocks[name]
		r := sh(work, env, "", "bash", "-euo", "pipefail", "-c", b.body)
		if b.fails && r.err == nil {
			t.Fatalf("README block %s should fail and did not:\n%s", name, r)
		}
		if !b.fails && r.err != nil {
			t.Fatalf("README block %s: %v\n%s", name, r.err, r)
		}
		return r
	}
	ctx := context.Background()
	crane := tool(t, "crane")
	pushRunner := func() { t.Helper(); pushRandom(t, registry+"/ansible-runner:13") }
	runnerDigest := func() string {
		return strings.TrimSpace(mustSh(t, "", nil, "", crane, "digest", "--insecure", registry+"/ansible-runner:13").stdout)
	}
	appliedConfig := func() opconfig.Config {
		t.Helper()
		cm := &corev1.ConfigMap{}
		if err := k8sClient.Get(ctx, types.NamespacedName{Namespace: operatorNamespace, Name: "ansible-playbook-operator-config"}, cm); err != nil {
			t.Fatal(err)
		}
		cfg, err := opconfig.Parse([]byte(cm.Data[opconfig.Key]))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	t.Run("two-commands", func(t *testing.T) {
		ci, err := os.ReadFile(filepath.Join(repoRoot(), ".ci", "run"))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`(?m)^make test$`).Match(ci) || !strings.Contains(blocks["two-commands"].body, "make test ") {
			t.Errorf(".ci/run does not run `make test`, the command the README names:\n%s", ci)
		}
		// make test is this very run; make demo runs here for real.
		r := mustSh(t, work, env, "", "make", "demo")
		for _, want := range []string{"pin-images pin -w examples/update-digests/pinned/", "the registry was stopped before this render",
			"kubectl annotate playbook site", "result: Succeeded", "cronjob.batch/nightly", `ansible_operator_job_runs_total{kind="Playbook"} 1`,
			"hello from the operator", "PLAY RECAP"} {
			if !strings.Contains(r.stdout+r.stderr, want) {
				t.Errorf("make demo: want %q in its output:\n%s", want, r)
			}
		}
	})
	t.Run("cluster-up-output", func(t *testing.T) {
		// The block shows exactly what make -s cluster-up prints here (the
		// cluster is up: it prints the same two lines).
		r := mustSh(t, work, env, "", "make", "-s", "cluster-up")
		if got, want := r.stdout, blocks["cluster-up-output"].body; got != want {
			t.Errorf("make -s cluster-up printed\n%s\nthe README shows\n%s", got, want)
		}
	})
	t.Run("fn-config", func(t *testing.T) {
		var cfg map[string]any
		b := blocks["fn-config"]
		objs := decodeAll(t, b.body)
		if len(objs) != 1 {
			t.Fatalf("the config block holds %d documents", len(objs))
		}
		cfg = objs[0].Object
		rl, err := json.Marshal(map[string]any{"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": []any{}, "functionConfig": cfg})
		if err != nil {
			t.Fatal(err)
		}
		mustSh(t, work, env, string(rl), tool(t, "pin-images"))
		// The control: the same config with an unknown field is refused.
		spec := cfg["spec"].(map[string]any)
		spec["concurency"] = 8
		rl, _ = json.Marshal(map[string]any{"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": []any{}, "functionConfig": cfg})
		if r := sh(work, env, string(rl), tool(t, "pin-images")); r.err == nil {
			t.Errorf("pin-images accepted an unknown config field:\n%s", r)
		}
	})
	t.Run("install, upgrade, uninstall, migration, troubleshooting", func(t *testing.T) {
		if r := run(t, "cluster-up"); !regexp.MustCompile(`(?m)^localcluster\s+Ready`).MatchString(r.stdout) {
			t.Errorf("cluster-up: want the node Ready in\n%s", r)
		}
		r := run(t, "push")
		opRef := regexp.MustCompile(regexp.QuoteMeta(registry) + `/ansible-playbook-operator:dev@(sha256:[a-f0-9]{64})`).FindStringSubmatch(r.stdout)
		if opRef == nil {
			t.Fatalf("push printed no operator index digest:\n%s", r)
		}
		run(t, "registry")
		for f, want := range map[string]string{"kustomization.yaml": "newName: " + registry + "/ansible-playbook-operator", "operator-config.yaml": "repository: " + registry + "/ansible-runner"} {
			if b := string(must(os.ReadFile(filepath.Join(work, "kustomize", "overlays", "production", f)))); !strings.Contains(b, want) {
				t.Errorf("registry: %s lacks %q:\n%s", f, want, b)
			}
		}
		run(t, "pin")
		r = run(t, "install")
		if got, want := strings.TrimSpace(lastLine(r.stdout)), registry+"/ansible-playbook-operator:dev@"+opRef[1]; got != want {
			t.Errorf("install: the Deployment runs %q, want %q", got, want)
		}
		for _, pod := range c.operatorPods(t) {
			if got := digestOf(pod.Status.ContainerStatuses[0].ImageID); got != opRef[1] {
				t.Errorf("install: pod %s imageID %s, want the pinned index %s", pod.Name, pod.Status.ContainerStatuses[0].ImageID, opRef[1])
			}
		}
		if img, pinned := appliedConfig().ExecutorImage(""); img != registry+"/ansible-runner@"+runnerDigest() || !pinned {
			t.Errorf("install: the executor is %s (pinned %v), want the pushed digest %s", img, pinned, runnerDigest())
		}
		r = run(t, "crs")
		for _, want := range []string{"repository.ansible.cloud37.dev/site", "playbook.ansible.cloud37.dev/site", "schedule.ansible.cloud37.dev/nightly"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("crs: want %q in\n%s", want, r)
			}
		}

		// Upgrade: the runner's tag moved and a CRD drifted (as a Helm
		// install never upgrades it); the upgrade moves the pin and
		// re-applies the CRD.
		pushRunner()
		// The CRD as an older release applied it (same field manager as
		// kubectl apply --server-side): no printer columns.
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := k8sClient.Get(ctx, types.NamespacedName{Name: "playbooks.ansible.cloud37.dev"}, crd); err != nil {
			t.Fatal(err)
		}
		want := crd.Spec.Versions[0].AdditionalPrinterColumns
		older := decodeAll(t, string(must(os.ReadFile(filepath.Join(repoRoot(), "kustomize", "operator", "crd", "bases", "ansible.cloud37.dev_playbooks.yaml")))))[0]
		versions, _, _ := unstructured.NestedSlice(older.Object, "spec", "versions")
		delete(versions[0].(map[string]any), "additionalPrinterColumns")
		if err := unstructured.SetNestedSlice(older.Object, versions, "spec", "versions"); err != nil {
			t.Fatal(err)
		}
		if err := k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(older), client.FieldOwner("kubectl"), client.ForceOwnership); err != nil {
			t.Fatal(err)
		}
		if err := k8sClient.Get(ctx, types.NamespacedName{Name: "playbooks.ansible.cloud37.dev"}, crd); err != nil || len(crd.Spec.Versions[0].AdditionalPrinterColumns) != 0 {
			t.Fatalf("the older CRD was not applied: %v, %d printer columns", err, len(crd.Spec.Versions[0].AdditionalPrinterColumns))
		}
		run(t, "upgrade")
		if img, _ := appliedConfig().ExecutorImage(""); img != registry+"/ansible-runner@"+runnerDigest() {
			t.Errorf("upgrade: the executor is %s, want the moved digest %s", img, runnerDigest())
		}
		if err := k8sClient.Get(ctx, types.NamespacedName{Name: "playbooks.ansible.cloud37.dev"}, crd); err != nil {
			t.Fatal(err)
		}
		if len(crd.Spec.Versions[0].AdditionalPrinterColumns) != len(want) {
			t.Errorf("upgrade did not re-apply the CRD: %d printer columns, want %d", len(crd.Spec.Versions[0].AdditionalPrinterColumns), len(want))
		}

		run(t, "backup")
		backup, err := os.ReadFile(filepath.Join(work, "ansible-crs-backup.yaml"))
		if err != nil || !strings.Contains(string(backup), "name: nightly") {
			t.Errorf("backup: %v\n%s", err, backup)
		}
		// Helm's field manager holds a CRD field: a plain apply conflicts,
		// the migration's --force-conflicts takes it over.
		helm := &unstructured.Unstructured{}
		helm.SetAPIVersion("apiextensions.k8s.io/v1")
		helm.SetKind("CustomResourceDefinition")
		helm.SetName("schedules.ansible.cloud37.dev")
		helm.SetLabels(map[string]string{"app.kubernetes.io/name": "ansible-playbook-operator-chart"})
		if err := k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(helm), client.FieldOwner("helm"), client.ForceOwnership); err != nil {
			t.Fatal(err)
		}
		plain := strings.Replace(blocks["migrate"].body, " --force-conflicts", "", 1)
		if r := sh(work, env, "", "bash", "-euo", "pipefail", "-c", plain); r.err == nil || !strings.Contains(r.stderr, "conflict") {
			t.Errorf("an apply without --force-conflicts over Helm's field: want a conflict\n%s", r)
		}
		run(t, "migrate")
		if err := k8sClient.Get(ctx, types.NamespacedName{Name: "schedules.ansible.cloud37.dev"}, crd); err != nil {
			t.Fatal(err)
		}
		if crd.Labels["app.kubernetes.io/name"] != "ansible-playbook-operator" {
			t.Errorf("migrate: the CRD label is %q, want it taken over", crd.Labels["app.kubernetes.io/name"])
		}

		r = run(t, "troubleshoot-verify")
		if !strings.Contains(r.stdout, "site") {
			t.Errorf("troubleshoot-verify: want the Playbook listed\n%s", r)
		}
		r = run(t, "troubleshoot-manifest-unknown")
		if !strings.Contains(r.stderr, "manifest unknown") {
			t.Errorf("troubleshoot-manifest-unknown: want manifest unknown\n%s", r)
		}
		pushRunner()
		r = run(t, "troubleshoot-drift")
		if !strings.Contains(r.stderr, "digest verification failed") || !strings.Contains(r.stderr, "executorDefaults.image.digest") {
			t.Errorf("troubleshoot-drift: want digest verification failed for the runner\n%s", r)
		}

		run(t, "uninstall")
		for _, o := range []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}},
			&apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "playbooks.ansible.cloud37.dev"}}} {
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(o), o); !apierrors.IsNotFound(err) {
				t.Errorf("uninstall: %T %s: %v, want it gone", o, o.GetName(), err)
			}
		}
	})
	t.Run("pipelines", func(t *testing.T) {
		pushRunner()
		deployment := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: runner\n        image: " + registry + "/ansible-runner:13\n"
		for _, files := range []string{"kustomize-files", "kpt-files"} {
			for _, f := range splitFiles(t, blocks[files].body) {
				write(t, filepath.Join(work, f.path), f.body)
			}
		}
		write(t, filepath.Join(work, "app", "deployment.yaml"), deployment)
		write(t, filepath.Join(work, "pkg", "deployment.yaml"), deployment)
		digest := runnerDigest()
		r := run(t, "kustomize-exec")
		if !strings.Contains(r.stdout, registry+"/ansible-runner:13@"+digest) {
			t.Errorf("kustomize-exec: want the pinned image in\n%s", r)
		}
		run(t, "kpt")
		got, err := os.ReadFile(filepath.Join(work, "pkg", "deployment.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(got), registry+"/ansible-runner:13@"+digest) {
			t.Errorf("kpt: want the pinned image in\n%s", got)
		}
	})
	t.Run("admission", func(t *testing.T) {
		files := splitFiles(t, blocks["admission-files"].body)
		for _, f := range files {
			write(t, filepath.Join(work, f.path), f.body)
		}
		dir := filepath.Dir(filepath.Join(work, files[0].path))
		write(t, filepath.Join(dir, "images.lock.yaml"), "apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: ImageLock\nmetadata:\n  name: images\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\nspec:\n  images:\n  - image: "+registry+"/ansible-runner:13\n    digest: sha256:"+strings.Repeat("0", 64)+"\n    resolvedAt: \"2026-12-01T00:00:00Z\"\n")
		var lockCM, webhookArgs string
		for _, o := range decodeAll(t, mustSh(t, dir, nil, "", tool(t, "kustomize"), "build", ".").stdout) {
			switch {
			case o.GetKind() == "ConfigMap" && o.GetName() == "pin-images-lock" && o.GetNamespace() == operatorNamespace:
				lockCM, _, _ = unstructured.NestedString(o.Object, "data", "images.lock.yaml")
			case o.GetKind() == "Deployment" && o.GetName() == "pin-images-webhook":
				containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
				args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
				webhookArgs = strings.Join(args, " ")
			}
		}
		if !strings.Contains(lockCM, "kind: ImageLock") || !strings.Contains(webhookArgs, "--lock-configmap=pin-images-lock:images.lock.yaml") {
			t.Errorf("the README's admission overlay: lock ConfigMap %q, webhook args %q; want the lock and the flag naming it", lockCM, webhookArgs)
		}
	})
	t.Run("development", func(t *testing.T) {
		// Every make line runs here but make verify, which fails on a dirty
		// tree and which .ci/run runs before make test.
		ci, err := os.ReadFile(filepath.Join(repoRoot(), ".ci", "run"))
		if err != nil {
			t.Fatal(err)
		}
		outputs := map[string]string{}
		for _, line := range strings.Split(blocks["development"].body, "\n") {
			cmd, _, _ := strings.Cut(line, "#")
			fields := strings.Fields(cmd)
			if len(fields) < 2 || fields[0] != "make" {
				continue
			}
			if fields[1] == "verify" {
				if !regexp.MustCompile(`(?m)^make verify$`).Match(ci) {
					t.Errorf(".ci/run does not run make verify")
				}
				continue
			}
			r := sh(work, env, "", "bash", "-euo", "pipefail", "-c", cmd)
			if r.err != nil {
				t.Fatalf("%s: %v\n%s", cmd, r.err, r)
			}
			outputs[fields[1]] = r.stdout + r.stderr
		}
		for target, want := range map[string]string{
			"help": "push-images", "bench": "BenchmarkResolve", "bench-operator": "BenchmarkOperatorScale",
			"images": "loaded localhost/ansible-playbook-operator:dev", "push-images": registry + "/pin-images:",
		} {
			if !strings.Contains(outputs[target], want) {
				t.Errorf("make %s: want %q in its output:\n%s", target, want, outputs[target])
			}
		}
	})
}

type readmeFile struct{ path, body string }

// splitFiles splits a YAML block into the files its "# PATH" comments name.
func splitFiles(t *testing.T, body string) []readmeFile {
	t.Helper()
	var out []readmeFile
	for _, doc := range strings.Split(body, "\n---\n") {
		first, rest, _ := strings.Cut(doc, "\n")
		if !strings.HasPrefix(first, "# ") {
			t.Fatalf("a README file block document does not start with # PATH: %q", first)
		}
		out = append(out, readmeFile{path: strings.TrimPrefix(first, "# "), body: strings.TrimSuffix(rest, "\n") + "\n"})
	}
	return out
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndex(s, "\n")+1:]
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	return strings.TrimSpace(mustSh(t, "", []string{"GOWORK=off"}, "", "go", "env", name).stdout)
}

// xdgCache keeps the tool cache of the user who runs the tests (HOME is a
// temporary directory for the README's commands).
func xdgCache(t *testing.T) string {
	if v := os.Getenv("XDG_CACHE_HOME"); v != "" {
		return v
	}
	h, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(h, ".cache")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
