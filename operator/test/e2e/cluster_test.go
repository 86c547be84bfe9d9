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
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/localcluster"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// The tier 6 tests run on the machine's local cluster (package
// localcluster): a real kubelet, containerd, the controllers and a
// registry the node pulls from. They start it on first use, or reuse the
// one `make cluster-up` started (and then leave it running); TestMain
// releases it.

// liveCluster is the started local cluster with clients, the registry and
// the images the tests pushed to it.
type liveCluster struct {
	session    *localcluster.Session
	client     client.Client
	clientset  kubernetes.Interface
	kubeconfig string
	// registry is the registry's host:port, hostIP the bridge address pods
	// reach the host's servers at.
	registry, hostIP string
	// operatorIndex and pinImagesIndex are the multi-arch index digests of
	// the two images; runner the executor image (ansible-runner:13) pinned
	// by digest, managedHost the ssh host image.
	operatorIndex, pinImagesIndex, runner, managedHost string

	mu        sync.Mutex
	installed []*unstructured.Unstructured // the operator as ensureOperator applied it
}

var (
	clusterOnce sync.Once
	live        *liveCluster
	liveErr     error
)

// useCluster returns the local cluster, starting it on first use. Under
// -short it skips the test. A failed test prints the components' logs and
// what failed (describeOnFailure).
func useCluster(t *testing.T) *liveCluster {
	t.Helper()
	requireEnv(t)
	clusterOnce.Do(func() { live, liveErr = startLiveCluster() })
	if liveErr != nil {
		t.Fatalf("the local cluster: %v", liveErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			var b bytes.Buffer
			live.session.Diagnose(&b, 10)
			t.Logf("local cluster components:\n%s", b.String())
			t.Logf("kubectl get pods -A -o wide:\n%s", live.kubectl(t, "", "get", "pods", "-A", "-o", "wide").stdout)
			t.Logf("kubectl describe pods -n %s:\n%s", operatorNamespace, live.kubectl(t, "", "describe", "pods", "-n", operatorNamespace).stdout)
			t.Logf("kubectl logs -n %s (each container's last 20 lines, the previous instance's if it restarted):\n%s", operatorNamespace,
				live.kubectl(t, "", "logs", "-n", operatorNamespace, "--all-containers", "--prefix", "--tail=20", "--max-log-requests=20", "-l", "app.kubernetes.io/part-of=ansible-playbook-operator").stdout+
					live.kubectl(t, "", "logs", "-n", operatorNamespace, "--all-containers", "--prefix", "--tail=20", "--max-log-requests=20", "--previous", "-l", "app.kubernetes.io/part-of=ansible-playbook-operator").stdout)
		}
	})
	return live
}

func startLiveCluster() (*liveCluster, error) {
	layout := localcluster.DefaultLayout(filepath.Join(repoRoot(), "bin", "cluster"))
	images, err := localcluster.ImagesIn(filepath.Join(repoRoot(), "bin", "cluster-images"))
	if err != nil {
		return nil, err
	}
	s, err := localcluster.Use(context.Background(), layout, images, os.Stderr)
	if err != nil {
		return nil, err
	}
	c := &liveCluster{session: s, kubeconfig: layout.Kubeconfig(), registry: layout.Registry(), hostIP: layout.HostIP.String()}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 50, 100
	scheme, err := testenv.Scheme()
	if err != nil {
		return nil, err
	}
	if c.client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	if c.clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	// The operator's index as make images built it: hack/push-images.sh.
	r := sh(repoRoot(), []string{"REGISTRY=" + c.registry, "VERSION=dev", "INSECURE=1"}, "", filepath.Join(repoRoot(), "hack", "push-images.sh"))
	if r.err != nil {
		return nil, fmt.Errorf("hack/push-images.sh: %w\n%s", r.err, r)
	}
	for _, m := range pushedRE.FindAllStringSubmatch(r.stdout, -1) {
		switch m[1] {
		case "ansible-playbook-operator":
			c.operatorIndex = m[2]
		case "pin-images":
			c.pinImagesIndex = m[2]
		}
	}
	if c.operatorIndex == "" {
		return nil, fmt.Errorf("hack/push-images.sh printed no operator digest:\n%s", r)
	}
	for name, to := range map[string]*string{"ansible-runner:13": &c.runner, "managed-host:1": &c.managedHost} {
		r := sh("", nil, "", filepath.Join(repoRoot(), "bin", "crane"), "digest", "--insecure", c.registry+"/"+name)
		if r.err != nil {
			return nil, fmt.Errorf("crane digest %s/%s: %w\n%s", c.registry, name, r.err, r)
		}
		repo, _, _ := strings.Cut(name, ":")
		*to = c.registry + "/" + repo + "@" + strings.TrimSpace(r.stdout)
	}
	return c, nil
}

// closeCluster releases the cluster (stopped only if this process started
// it and no other process uses it).
func closeCluster() error {
	// make demo KEEP=1 leaves the cluster up, whoever started it.
	if live == nil || os.Getenv("KEEP") != "" {
		return nil
	}
	return live.session.Close()
}

// kubectl runs the cluster's kubectl as the administrator.
func (c *liveCluster) kubectl(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	return sh("", []string{"KUBECONFIG=" + c.kubeconfig}, stdin, filepath.Join(repoRoot(), "bin", "cluster", "kubectl"), args...)
}

// namespace creates a namespace for the test, as a user of cluster-watch
// makes one for runs: Pod Security `restricted` enforced, the executor's
// ServiceAccount and cache claim the production overlay's OperatorConfig
// names. A failed test describes its pods and lists its events; the
// namespace is deleted after the test.
func (c *liveCluster) namespace(t *testing.T, prefix string) string {
	t.Helper()
	ctx := context.Background()
	// A suffix of its own: an earlier run's namespace may still be
	// terminating.
	name := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%100000)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted", "e2e.ansible.cloud37.dev/test": "true"}}}
	if err := c.client.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kubectl describe pods -n %s:\n%s", name, c.kubectl(t, "", "describe", "pods", "-n", name).stdout)
			t.Logf("kubectl get events -n %s:\n%s", name, c.kubectl(t, "", "get", "events", "-n", name, "--sort-by=.lastTimestamp").stdout)
			t.Logf("kubectl get repositories,playbooks,schedules -n %s -o yaml:\n%s", name, c.kubectl(t, "", "get", "repositories,playbooks,schedules", "-n", name, "-o", "yaml").stdout)
		}
		_ = c.client.Delete(ctx, ns)
	})
	for _, o := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ansible-playbook-executor", Namespace: name}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "ansible-playbook-cache", Namespace: name},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}},
	} {
		if err := c.client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

// testOverlay is the production overlay with cluster-watch, so that each
// test's objects live in a namespace of its own: what a user adds to run
// Playbooks in several namespaces.
const testOverlay = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../overlays/production
components:
- ../components/cluster-watch
`

// ensureOperator installs the operator as a user does (the overlay pinned
// with pin-images against the registry, rendered by kustomize, applied
// server-side), unless the same render is installed, and waits until its
// Deployment is Available.
func (c *liveCluster) ensureOperator(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx := context.Background()
	if c.installed == nil {
		root := copyTree(t, c.registry)
		mustSh(t, filepath.Join(root, "kustomize", "overlays", "production"), nil, "", tool(t, "pin-images"), "pin", "-w", ".")
		write(t, filepath.Join(root, "kustomize", "e2e", "kustomization.yaml"), testOverlay)
		objs := decodeAll(t, mustSh(t, filepath.Join(root, "kustomize", "e2e"), nil, "", tool(t, "kustomize"), "build", ".").stdout)
		c.installed = objs
	}
	dep := &appsv1.Deployment{}
	err := c.client.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: "ansible-playbook-operator"}, dep)
	if err == nil && dep.Labels["e2e.ansible.cloud37.dev/render"] == "cluster-watch" && dep.DeletionTimestamp == nil {
		c.waitAvailable(t, dep)
		return c.installed
	}
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	c.apply(t, c.installed, "e2e")
	// Marks this installation as the tests' (TestREADME installs the
	// overlay as the README does and removes it).
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"e2e.ansible.cloud37.dev/render":"cluster-watch"}}}`))
	dep.Namespace, dep.Name = operatorNamespace, "ansible-playbook-operator"
	if err := c.client.Patch(ctx, dep, patch); err != nil {
		t.Fatal(err)
	}
	c.waitAvailable(t, dep)
	return c.installed
}

// apply server-side applies objs with field owner, CRDs first and waited
// for, so that the CRs of the same render are accepted; objs are not
// changed.
func (c *liveCluster) apply(t *testing.T, objs []*unstructured.Unstructured, owner string) {
	t.Helper()
	ctx := context.Background()
	for _, crdsFirst := range []bool{true, false} {
		for _, o := range objs {
			if (o.GetKind() == "CustomResourceDefinition") != crdsFirst {
				continue
			}
			// A copy: Apply writes the server's answer (managedFields,
			// resourceVersion) into the object, and the render is applied
			// again by later tests.
			if err := c.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner(owner), client.ForceOwnership); err != nil {
				t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
			}
		}
		if crdsFirst {
			c.waitEstablished(t)
		}
	}
}

// waitAvailable waits until the Deployment's replicas are all available
// (probes passed: the manager is serving).
func (c *liveCluster) waitAvailable(t *testing.T, dep *appsv1.Deployment) {
	t.Helper()
	testenv.Eventually(t, "Deployment "+dep.Name+" Available", 3*time.Minute, func() (bool, string) {
		if err := c.client.Get(context.Background(), client.ObjectKeyFromObject(dep), dep); err != nil {
			return false, err.Error()
		}
		want := int32(1)
		if dep.Spec.Replicas != nil {
			want = *dep.Spec.Replicas
		}
		return dep.Status.ObservedGeneration == dep.Generation && dep.Status.UpdatedReplicas == want && dep.Status.AvailableReplicas == want &&
				dep.Status.Replicas == want,
			fmt.Sprintf("%d/%d available, %d updated, %+v", dep.Status.AvailableReplicas, want, dep.Status.UpdatedReplicas, dep.Status.Conditions)
	})
}

// uninstallOperator deletes an installation of the operator as the
// README's Uninstall does: the CRs first, while the operator still runs
// and releases its run pods, then its namespace, CRDs and cluster-wide
// RBAC; it waits until they are gone.
func (c *liveCluster) uninstallOperator(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.kubectl(t, "", "get", "crd", "playbooks.ansible.cloud37.dev"); r.err == nil {
		if r := c.kubectl(t, "", "delete", "--ignore-not-found", "--wait=true", "--timeout=120s", "schedules,playbooks,repositories", "--all", "-A"); r.err != nil {
			t.Fatalf("delete the CRs: %v\n%s", r.err, r)
		}
	}
	r := c.kubectl(t, "", "delete", "--ignore-not-found", "--wait=true", "--timeout=120s",
		"namespace/"+operatorNamespace,
		"crd/repositories.ansible.cloud37.dev", "crd/playbooks.ansible.cloud37.dev", "crd/schedules.ansible.cloud37.dev",
		"clusterrole/ansible-playbook-operator", "clusterrolebinding/ansible-playbook-operator")
	if r.err != nil {
		t.Fatalf("uninstall the operator: %v\n%s", r.err, r)
	}
}

// operatorPods are the manager's pods.
func (c *liveCluster) operatorPods(t *testing.T) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := c.client.List(context.Background(), &pods, client.InNamespace(operatorNamespace),
		client.MatchingLabels{"app.kubernetes.io/name": "ansible-playbook-operator", "app.kubernetes.io/component": "manager"}); err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

// logs is a container's log.
func (c *liveCluster) logs(t *testing.T, ns, pod, container string) string {
	t.Helper()
	rc, err := c.clientset.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).Stream(context.Background())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return "(log: " + err.Error() + ")"
	}
	if len(b) == 0 {
		return fmt.Sprintf("(empty log of %s/%s %s)", ns, pod, container)
	}
	return string(b)
}

// scrapeService scrapes a Service's port through its ClusterIP, which
// kube-proxy routes from the host as from pods.
func (c *liveCluster) scrapeService(t *testing.T, ns, name, port string) string {
	t.Helper()
	svc := &corev1.Service{}
	if err := c.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, svc); err != nil {
		t.Fatal(err)
	}
	for _, p := range svc.Spec.Ports {
		if p.Name == port {
			return fmt.Sprintf("http://%s:%d/metrics", svc.Spec.ClusterIP, p.Port)
		}
	}
	t.Fatalf("Service %s/%s has no port %s", ns, name, port)
	return ""
}

var digestRE = regexp.MustCompile(`sha256:[a-f0-9]{64}$`)

// digestOf is the digest of a pinned reference or an imageID.
func digestOf(ref string) string { return digestRE.FindString(ref) }
