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
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// admissionOverlay is the tests' installation plus components/admission,
// its pin-images image taken from the node's registry (pinned below).
const admissionOverlay = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../overlays/production
components:
- ../components/cluster-watch
- ../components/admission
images:
- name: localhost/pin-images
  newName: REGISTRY/pin-images
  newTag: dev
  digest: ""
`

// installAdmission adds the admission component to the tests'
// installation, pinned by pin-images, and waits until the webhook serves
// with its caBundle set; it removes the component after the test (the
// configurations first, so that nothing else is intercepted).
func (c *liveCluster) installAdmission(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	c.ensureOperator(t)
	root := copyTree(t, c.registry)
	mustSh(t, filepath.Join(root, "kustomize", "overlays", "production"), nil, "", tool(t, "pin-images"), "pin", "-w", ".")
	write(t, filepath.Join(root, "kustomize", "e2e", "kustomization.yaml"), strings.ReplaceAll(admissionOverlay, "REGISTRY", c.registry))
	mustSh(t, filepath.Join(root, "kustomize", "e2e"), nil, "", tool(t, "pin-images"), "pin", "-w", ".")
	objs := decodeAll(t, mustSh(t, filepath.Join(root, "kustomize", "e2e"), nil, "", tool(t, "kustomize"), "build", ".").stdout)
	var added []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetName() == "pin-images" || strings.HasPrefix(o.GetName(), "pin-images-webhook") {
			added = append(added, o)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, prev := range []string{"--previous=false", "--previous=true"} {
				r := c.kubectl(t, "", "logs", "-n", operatorNamespace, "--prefix", "--tail=30", prev, "-l", "app.kubernetes.io/name=pin-images-webhook")
				t.Logf("the webhook's logs (%s):\n%s%s", prev, r.stdout, r.stderr)
			}
		}
		for _, kind := range []string{"mutatingwebhookconfiguration", "validatingwebhookconfiguration"} {
			c.kubectl(t, "", "delete", "--ignore-not-found", kind, "pin-images")
		}
		for _, o := range added {
			c.kubectl(t, "", "delete", "--ignore-not-found", "-n", o.GetNamespace(), strings.ToLower(o.GetKind()), o.GetName())
		}
	})
	c.apply(t, added, "e2e")
	dep := &appsv1.Deployment{}
	dep.Namespace, dep.Name = operatorNamespace, "pin-images-webhook"
	c.waitAvailable(t, dep)
	c.waitWebhookPods(t, 2)
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != c.registry+"/pin-images:dev@"+c.pinImagesIndex {
		t.Fatalf("the webhook runs %s, want the pinned pin-images index %s", got, c.pinImagesIndex)
	}
	testenv.Eventually(t, "both configurations' caBundle set by the webhook", time.Minute, func() (bool, string) {
		m := &admissionregistrationv1.MutatingWebhookConfiguration{}
		v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := c.client.Get(context.Background(), client.ObjectKey{Name: "pin-images"}, m); err != nil {
			return false, err.Error()
		}
		if err := c.client.Get(context.Background(), client.ObjectKey{Name: "pin-images"}, v); err != nil {
			return false, err.Error()
		}
		return len(m.Webhooks[0].ClientConfig.CABundle) > 0 && len(v.Webhooks[0].ClientConfig.CABundle) > 0, "no caBundle yet"
	})
	return added
}

// workload is a Deployment whose one container sleeps in image.
func workload(ns, name, image string, replicas int32) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  replicas: %[4]d
  selector:
    matchLabels: {app: %[2]s}
  template:
    metadata:
      labels: {app: %[2]s}
    spec:
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: app
        image: %[3]s
        command: [sleep, "3600"]
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
`, ns, name, image, replicas)
}

// podsOf are the running pods of a Deployment's label.
func (c *liveCluster) podsOf(t *testing.T, ns, app string, n int) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	testenv.Eventually(t, fmt.Sprintf("%d pods of %s running", n, app), 2*time.Minute, func() (bool, string) {
		if err := c.client.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{"app": app}); err != nil {
			return false, err.Error()
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				running++
			}
		}
		return running == n, fmt.Sprintf("%d running of %d", running, len(pods.Items))
	})
	return pods.Items
}

// TestCluster_admission: pin-images at admission on the real cluster.
func TestCluster_admission(t *testing.T) {
	c := useCluster(t)
	c.installAdmission(t)
	ctx := context.Background()
	runnerTag := c.registry + "/ansible-runner:13"

	t.Run("a Deployment applied by tag runs pods by digest", func(t *testing.T) {
		ns := c.namespace(t, "e2e-admission")
		r := c.kubectl(t, workload(ns, "web", runnerTag, 2), "apply", "--server-side", "-f", "-")
		if r.err != nil {
			t.Fatalf("kubectl apply: %v\n%s", r.err, r)
		}
		dep := &appsv1.Deployment{}
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, dep); err != nil {
			t.Fatal(err)
		}
		pinned := dep.Spec.Template.Spec.Containers[0].Image
		if pinned != runnerTag+"@"+digestOf(c.runner) {
			t.Fatalf("the stored Deployment runs %s, want %s pinned to %s", pinned, runnerTag, digestOf(c.runner))
		}
		for _, p := range c.podsOf(t, ns, "web", 2) {
			if got := digestOf(p.Status.ContainerStatuses[0].ImageID); got != digestOf(c.runner) {
				t.Errorf("pod %s runs %s (imageID %s), want the pin %s", p.Name, p.Spec.Containers[0].Image, p.Status.ContainerStatuses[0].ImageID, digestOf(c.runner))
			}
		}
	})
	t.Run("an image that cannot be pinned is refused with a message kubectl shows", func(t *testing.T) {
		ns := c.namespace(t, "e2e-admission")
		r := c.kubectl(t, workload(ns, "nope", c.registry+"/ansible-runner:no-such-tag", 1), "apply", "--server-side", "-f", "-")
		want := `admission webhook "policy.pin-images.ansible.cloud37.dev" denied the request: pin-images refused Deployment ` + ns + `/nope: spec.template.spec.containers[name=app].image (` + c.registry + `/ansible-runner:no-such-tag): unpinned image`
		if r.err == nil || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "manifest unknown") {
			t.Errorf("kubectl apply of an unknown tag: %v\n%s\nwant the refusal %q and the mutating webhook's warning", r.err, r, want)
		}
	})
	t.Run("lock-only admission refuses a digest not in the lock", func(t *testing.T) {
		ns := c.namespace(t, "e2e-admission")
		lockText := fmt.Sprintf("apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: ImageLock\nmetadata:\n  name: images\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\nspec:\n  images:\n  - image: %s\n    digest: %s\n    resolvedAt: \"2026-12-01T00:00:00Z\"\n",
			runnerTag, digestOf(c.runner))
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pin-images-lock", Namespace: operatorNamespace}, Data: map[string]string{"images.lock.yaml": lockText}}
		if err := c.client.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.client.Delete(ctx, cm) })
		c.webhookArgs(t, "--lock-configmap=pin-images-lock:images.lock.yaml")
		t.Cleanup(func() { c.webhookArgs(t) })
		if r := c.kubectl(t, workload(ns, "locked", runnerTag, 1), "apply", "--server-side", "-f", "-"); r.err != nil {
			t.Errorf("the locked runner image: %v\n%s", r.err, r)
		}
		r := c.kubectl(t, workload(ns, "unlocked", c.managedHost, 1), "apply", "--server-side", "-f", "-")
		if r.err == nil || !strings.Contains(r.stderr, "is not in the lock") || !strings.Contains(r.stderr, "ConfigMap "+operatorNamespace+"/pin-images-lock key images.lock.yaml resourceVersion") {
			t.Errorf("a digest not in the lock: %v\n%s\nwant a refusal naming the lock generation", r.err, r)
		}
	})
	t.Run("a private registry through imagePullSecrets", func(t *testing.T) {
		ns := c.namespace(t, "e2e-admission")
		private, user, pass := c.privateRegistry(t)
		ref := private + "/team/host:1"
		mustSh(t, "", nil, "", tool(t, "crane"), "copy", "--insecure", c.managedHost, ref)
		digest := strings.TrimSpace(mustSh(t, "", nil, "", tool(t, "crane"), "digest", "--insecure", ref).stdout)
		cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, private, base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: ns}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(cfg)}}
		if err := c.client.Create(ctx, secret); err != nil {
			t.Fatal(err)
		}
		manifest := strings.Replace(workload(ns, "private", ref, 1), "      containers:", "      imagePullSecrets: [{name: pull}]\n      containers:", 1)
		if r := c.kubectl(t, manifest, "apply", "--server-side", "-f", "-"); r.err != nil {
			t.Fatalf("kubectl apply: %v\n%s", r.err, r)
		}
		for _, p := range c.podsOf(t, ns, "private", 1) {
			if digestOf(p.Spec.Containers[0].Image) != digest || digestOf(p.Status.ContainerStatuses[0].ImageID) != digest {
				t.Errorf("pod %s: image %s, imageID %s; want the private digest %s", p.Name, p.Spec.Containers[0].Image, p.Status.ContainerStatuses[0].ImageID, digest)
			}
		}
		r := c.kubectl(t, workload(ns, "no-secret", ref, 1), "apply", "--server-side", "-f", "-")
		if r.err == nil || !strings.Contains(r.stderr, "unauthorized") {
			t.Errorf("the private image without its pull secret: %v\n%s\nwant a refusal and the unauthorized warning", r.err, r)
		}
	})
	t.Run("a registry that cannot be reached: admitted unchanged at mutation, refused by validation, or refused at mutation with --deny-unresolved", func(t *testing.T) {
		ns := c.namespace(t, "e2e-admission")
		// Nothing listens on port 1 of the bridge: every lookup is refused.
		unreachable := net.JoinHostPort(c.hostIP, "1") + "/team/app:1"
		r := c.kubectl(t, workload(ns, "down", unreachable, 1), "apply", "--server-side", "-f", "-")
		if r.err == nil || !strings.Contains(r.stderr, `denied the request`) || !strings.Contains(r.stderr, "Warning:") || !strings.Contains(r.stderr, "connection refused") {
			t.Errorf("an unreachable registry, default settings: %v\n%s\nwant the mutating webhook's warning and the validating webhook's refusal", r.err, r)
		}
		c.webhookArgs(t, "--deny-unresolved")
		t.Cleanup(func() { c.webhookArgs(t) })
		r = c.kubectl(t, workload(ns, "down", unreachable, 1), "apply", "--server-side", "-f", "-")
		if r.err == nil || !strings.Contains(r.stderr, `admission webhook "pin.pin-images.ansible.cloud37.dev" denied the request`) || !strings.Contains(r.stderr, "connection refused") {
			t.Errorf("an unreachable registry, --deny-unresolved: %v\n%s\nwant the mutating webhook's refusal", r.err, r)
		}
	})
	t.Run("what each mutation scope does when a tag moves", func(t *testing.T) {
		// The measurement behind the default (workloads): a tag moves
		// between two scale-ups of one Deployment.
		for _, scope := range []string{"workloads", "pods"} {
			ns := c.namespace(t, "e2e-admission")
			moving := c.registry + "/e2e-moving/" + ns + ":1"
			mustSh(t, "", nil, "", tool(t, "crane"), "copy", "--insecure", c.runner, moving)
			c.webhookArgs(t, "--mutate="+scope, "--cache-ttl=1s")
			manifest := workload(ns, "web", moving, 1)
			if r := c.kubectl(t, manifest, "apply", "--server-side", "-f", "-"); r.err != nil {
				t.Fatalf("kubectl apply: %v\n%s", r.err, r)
			}
			c.podsOf(t, ns, "web", 1)
			mustSh(t, "", nil, "", tool(t, "crane"), "copy", "--insecure", c.managedHost, moving)
			time.Sleep(2 * time.Second) // past the cache's TTL
			if r := c.kubectl(t, "", "-n", ns, "scale", "deployment/web", "--replicas=3"); r.err != nil {
				t.Fatalf("kubectl scale: %v\n%s", r.err, r)
			}
			digests := map[string]int{}
			for _, p := range c.podsOf(t, ns, "web", 3) {
				digests[digestOf(p.Status.ContainerStatuses[0].ImageID)]++
			}
			var rsList appsv1.ReplicaSetList
			if err := c.client.List(ctx, &rsList, client.InNamespace(ns)); err != nil {
				t.Fatal(err)
			}
			dep := &appsv1.Deployment{}
			if err := c.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, dep); err != nil {
				t.Fatal(err)
			}
			stored := dep.Spec.Template.Spec.Containers[0].Image
			t.Logf("--mutate=%s: the Deployment stores %s; 3 pods of %d ReplicaSet(s) run %d digest(s) %v", scope, stored, len(rsList.Items), len(digests), digests)
			switch scope {
			case "workloads":
				// One digest for all pods; the stored template differs
				// from the manifest (what a client-side GitOps diff sees).
				if len(digests) != 1 || digests[digestOf(c.runner)] != 3 || stored != moving+"@"+digestOf(c.runner) {
					t.Errorf("--mutate=workloads: want every pod on the first digest %s and the template pinned to it", digestOf(c.runner))
				}
			case "pods":
				// The template stays as applied; one ReplicaSet, two digests.
				if len(rsList.Items) != 1 || len(digests) != 2 || stored != moving {
					t.Errorf("--mutate=pods: want one ReplicaSet running both digests and the template as applied")
				}
			}
		}
		c.webhookArgs(t)
	})
	t.Run("the webhook down: the mutating webhook is skipped, the validating one fails closed", func(t *testing.T) {
		ns := c.namespace(t, "e2e-admission")
		c.scaleWebhook(t, 0)
		t.Cleanup(func() { c.scaleWebhook(t, 2) })
		r := c.kubectl(t, workload(ns, "down", runnerTag+"@"+digestOf(c.runner), 1), "apply", "--server-side", "-f", "-")
		if r.err == nil || !strings.Contains(r.stderr, `failed calling webhook "policy.pin-images.ansible.cloud37.dev"`) || strings.Contains(r.stderr, `failed calling webhook "pin.pin-images`) {
			t.Errorf("with the webhook down: %v\n%s\nwant only the validating webhook's failure (fail closed)", r.err, r)
		}
	})
	t.Run("the webhook's pods restarting while pods are created", func(t *testing.T) {
		ns := c.namespace(t, "e2e-admission")
		restart := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"e2e/restarted":"%d"}}}}}`, time.Now().UnixNano())
		dep := &appsv1.Deployment{}
		dep.Namespace, dep.Name = operatorNamespace, "pin-images-webhook"
		if err := c.client.Patch(ctx, dep, client.RawPatch("application/strategic-merge-patch+json", []byte(restart))); err != nil {
			t.Fatal(err)
		}
		failures, n := 0, 0
		for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); n++ {
			r := c.kubectl(t, workload(ns, fmt.Sprintf("during-%d", n), runnerTag, 0), "apply", "--server-side", "--dry-run=server", "-f", "-")
			if r.err != nil {
				failures++
				t.Logf("admission %d during the restart: %s", n, strings.TrimSpace(r.stderr))
			}
			if err := c.client.Get(ctx, client.ObjectKeyFromObject(dep), dep); err == nil && dep.Status.UpdatedReplicas == 2 && dep.Status.AvailableReplicas == 2 && dep.Status.Replicas == 2 && n > 10 {
				break
			}
		}
		if failures > 0 {
			t.Errorf("%d of %d admissions failed while the webhook's pods restarted", failures, n)
		}
		t.Logf("%d admissions during the rolling restart, %d failed", n, failures)
	})
}

// webhookArgs sets the webhook's extra arguments and waits for the rollout.
func (c *liveCluster) webhookArgs(t *testing.T, extra ...string) {
	t.Helper()
	dep := &appsv1.Deployment{}
	dep.Namespace, dep.Name = operatorNamespace, "pin-images-webhook"
	if err := c.client.Get(context.Background(), client.ObjectKeyFromObject(dep), dep); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, a := range dep.Spec.Template.Spec.Containers[0].Args {
		if !strings.HasPrefix(a, "--lock-configmap") && !strings.HasPrefix(a, "--mutate=") && !strings.HasPrefix(a, "--cache-ttl") && a != "--deny-unresolved" {
			args = append(args, a)
		}
	}
	args = append(args, extra...)
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
		"containers": []any{map[string]any{"name": "webhook", "args": args}}}}}})
	if err := c.client.Patch(context.Background(), dep, client.RawPatch("application/strategic-merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
	c.waitAvailable(t, dep)
	c.waitWebhookPods(t, 2)
}

// waitWebhookPods waits until exactly n webhook pods run, all ready and
// none terminating (a terminating pod answers for its shutdown delay, with
// its old arguments), and the API server reaches the webhook through its
// Service (kube-proxy has the new endpoints).
func (c *liveCluster) waitWebhookPods(t *testing.T, n int) {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("%d webhook pods, ready, none terminating", n), 2*time.Minute, func() (bool, string) {
		var pods corev1.PodList
		if err := c.client.List(context.Background(), &pods, client.InNamespace(operatorNamespace), client.MatchingLabels{"app.kubernetes.io/name": "pin-images-webhook"}); err != nil {
			return false, err.Error()
		}
		ready, terminating := 0, 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				terminating++
				continue
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return len(pods.Items) == n && ready == n && terminating == 0, fmt.Sprintf("%d pods, %d ready, %d terminating", len(pods.Items), ready, terminating)
	})
	if n == 0 {
		return
	}
	probe := workload("default", "admission-probe", c.registry+"/ansible-runner:13@"+digestOf(c.runner), 0)
	testenv.Eventually(t, "the webhook answering through its Service", time.Minute, func() (bool, string) {
		r := c.kubectl(t, probe, "apply", "--server-side", "--dry-run=server", "-f", "-")
		return r.err == nil, r.stderr
	})
}

func (c *liveCluster) scaleWebhook(t *testing.T, n int32) {
	t.Helper()
	dep := &appsv1.Deployment{}
	dep.Namespace, dep.Name = operatorNamespace, "pin-images-webhook"
	if err := c.client.Patch(context.Background(), dep, client.RawPatch("application/merge-patch+json", []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, n)))); err != nil {
		t.Fatal(err)
	}
	c.waitWebhookPods(t, int(n))
}

// privateRegistry runs Debian's docker-registry with htpasswd auth on the
// bridge address, where the node and the webhook's pods reach it, and
// tells the node's containerd to pull from it over plain HTTP.
func (c *liveCluster) privateRegistry(t *testing.T) (host, user, pass string) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(c.hostIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	host = l.Addr().String()
	l.Close()
	dir := t.TempDir()
	user, pass = "puller", fmt.Sprintf("pw-%d", time.Now().UnixNano())
	out, err := exec.Command("htpasswd", "-Bbn", user, pass).Output()
	if err != nil {
		t.Fatalf("htpasswd: %v", err)
	}
	write(t, filepath.Join(dir, "htpasswd"), string(out))
	write(t, filepath.Join(dir, "config.yml"), fmt.Sprintf("version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp:\n  addr: %s\nauth:\n  htpasswd: {realm: e2e, path: %s}\n",
		filepath.Join(dir, "data"), host, filepath.Join(dir, "htpasswd")))
	cmd := exec.Command("docker-registry", "serve", filepath.Join(dir, "config.yml"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	testenv.Eventually(t, "the private registry", 10*time.Second, func() (bool, string) {
		conn, err := net.Dial("tcp", host)
		if err == nil {
			conn.Close()
		}
		return err == nil, fmt.Sprint(err)
	})
	// containerd reads its hosts directory on every pull.
	hosts := filepath.Join("/var/lib/apo-localcluster/etc/certs.d", host)
	write(t, filepath.Join(hosts, "hosts.toml"), fmt.Sprintf("server = \"http://%[1]s\"\n\n[host.\"http://%[1]s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", host))
	t.Cleanup(func() { _ = os.RemoveAll(hosts) })
	// crane pushes with the docker config.
	docker := t.TempDir()
	write(t, filepath.Join(docker, "config.json"), fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, base64.StdEncoding.EncodeToString([]byte(user+":"+pass))))
	t.Setenv("DOCKER_CONFIG", docker)
	return host, user, pass
}
