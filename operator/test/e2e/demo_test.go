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
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/kubelettest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// narrator prints the demo's story on stdout under `make demo` (DEMO=1)
// and into the test log otherwise.
type narrator struct{ t *testing.T }

func (n narrator) say(format string, args ...any) {
	if os.Getenv("DEMO") != "" {
		fmt.Printf(format+"\n", args...)
		return
	}
	n.t.Logf(format, args...)
}

func (n narrator) step(format string, args ...any) {
	n.say("\n\033[1m==> "+format+"\033[0m", args...)
}

// TestDemo is `make demo`: a registry and a control plane (envtest's
// kube-apiserver and etcd) on this machine, the images built by `make
// images` pushed (the operator as a multi-arch index), the production
// overlay pinned with pin-images and applied with the example CRs, the
// operator's manager binary running against it, and the kubelet stand-in
// running the Job the operator makes for a run-now, so that one playbook
// really runs. It prints the CronJob, the Job and the CRs' statuses; the
// tests assert the same story.
func TestDemo(t *testing.T) {
	requireEnv(t)
	n := narrator{t}
	ctx := context.Background()

	n.step("registry and images")
	imgs := pushImages(t)
	host := imgs.reg.Host
	n.say("registry on %s\npushed %s/ansible-playbook-operator:dev  %s (OCI index: linux/amd64, linux/arm64)\npushed %s/ansible-runner:13              %s",
		host, host, imgs.operatorIndex, host, imgs.executorImage)

	n.step("pin-images pin -w kustomize/overlays/production")
	root := copyTree(t, host)
	overlay := filepath.Join(root, "kustomize", "overlays", "production")
	r := mustSh(t, overlay, nil, "", tool(t, "pin-images"), "pin", "-w", ".")
	n.say("%s", strings.TrimSpace(r.stderr+r.stdout))
	for _, f := range []string{"kustomization.yaml", "operator-config.yaml"} {
		diff := sh(root, nil, "", "diff", "-u", filepath.Join(repoRoot(), "kustomize", "overlays", "production", f), filepath.Join(overlay, f))
		n.say("%s", strings.ReplaceAll(diff.stdout, root, ""))
	}

	n.step("kustomize build kustomize/overlays/production | server-side apply (control plane: kube-apiserver %s)", restConfig.Host)
	objs := decodeAll(t, mustSh(t, overlay, nil, "", tool(t, "kustomize"), "build", ".").stdout)
	for _, o := range objs {
		if err := k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("demo"), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		n.say("%s/%s serverside-applied", strings.ToLower(o.GetKind()), o.GetName())
	}
	dep := typed[appsDeployment](t, find(objs, "Deployment", "ansible-playbook-operator"))
	operatorImage := dep.Spec.Template.Spec.Containers[0].Image
	if want := host + "/ansible-playbook-operator:dev@" + imgs.operatorIndex; operatorImage != want {
		t.Fatalf("the pinned Deployment runs %s, want %s", operatorImage, want)
	}

	n.step("the example CRs (examples/playbooks), their Repository served by a local git daemon")
	files := map[string]string{}
	for _, f := range []string{"site.yml", "inventory/hosts.ini"} {
		data, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "playbooks", "repo", f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = string(data)
	}
	gitURL := gittest.StartDaemon(t, gittest.NewRepo(t, files).Bare(t))
	crs, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "playbooks", "playbooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range decodeAll(t, strings.ReplaceAll(string(crs), "https://git.example.com/ops/site.git", gitURL)) {
		if err := k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("demo"), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		n.say("%s/%s serverside-applied", strings.ToLower(o.GetKind()), o.GetName())
	}

	n.step("the operator: the image's manager binary with the Deployment's arguments, as its ServiceAccount, its Pod's image read from the API")
	metricsAddr, logs := shared.startManager(t, dep)
	// Whatever the demo makes the manager do, its RBAC allows it.
	t.Cleanup(func() {
		if out := logs(); strings.Contains(strings.ToLower(out), "forbidden") {
			t.Errorf("the manager was refused something its ServiceAccount needs:\n%s", out)
		}
	})
	pb := &ansiblev1alpha1.Playbook{ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: operatorNamespace}}
	testenv.Eventually(t, "Playbook site Ready", 60*time.Second, func() (bool, string) {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(pb), pb); err != nil {
			return false, err.Error()
		}
		c := findCondition(pb.Status.Conditions, ansiblev1alpha1.ReadyCondition)
		return c != nil && c.Status == metav1.ConditionTrue, fmt.Sprintf("%+v", c)
	})

	n.step("kubectl annotate playbook site ansible.cloud37.dev/run-now=demo-1")
	patch := client.MergeFrom(pb.DeepCopy())
	pb.Annotations = map[string]string{"ansible.cloud37.dev/run-now": "demo-1"}
	if err := k8sClient.Patch(ctx, pb, patch); err != nil {
		t.Fatal(err)
	}
	job := &batchv1.Job{}
	testenv.Eventually(t, "the run's Job", 30*time.Second, func() (bool, string) {
		var list batchv1.JobList
		if err := k8sClient.List(ctx, &list, client.InNamespace(operatorNamespace), client.MatchingLabels{jobs.ManagedByLabel: jobs.ManagedByValue}); err != nil {
			return false, err.Error()
		}
		if len(list.Items) == 0 {
			return false, "no Job yet"
		}
		*job = list.Items[0]
		return true, ""
	})
	// The runs' init container is the operator's own image, read from its Pod.
	if got := job.Spec.Template.Spec.InitContainers[0].Image; got != operatorImage {
		t.Errorf("the run's init container image is %s, want the operator's pinned image %s", got, operatorImage)
	}
	n.say("Job %s: init container %s (image %s), executor image %s",
		job.Name, job.Spec.Template.Spec.InitContainers[0].Name, job.Spec.Template.Spec.InitContainers[0].Image, job.Spec.Template.Spec.Containers[0].Image)

	n.step("the kubelet stand-in runs the Job's pod on this machine (playbook-runner of the image, Debian's ansible-playbook)")
	executor := job.Spec.Template.Spec.Containers[0].Image
	kubelet := &kubelettest.Kubelet{Client: k8sClient,
		Binaries: map[string]string{jobs.OperatorRunnerPath: filepath.Join(imageContext(t, goruntime.GOARCH), "playbook-runner")},
		ImageIDs: map[string]string{executor: executor}}
	res := kubelet.RunJob(t, job)
	n.say("exit code %d, termination message:\n%s", res.ExitCode, res.TerminationMessage)
	if res.ExitCode != 0 {
		t.Fatalf("the playbook failed:\n%s", res.Output)
	}
	testenv.Eventually(t, "the run recorded in the Playbook's status", 30*time.Second, func() (bool, string) {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(pb), pb); err != nil {
			return false, err.Error()
		}
		return len(pb.Status.Runs) > 0 && pb.Status.Runs[0].Result == ansiblev1alpha1.RunSucceeded, fmt.Sprintf("%+v", pb.Status.Runs)
	})

	n.step("kubectl get cronjob,job -n %s", operatorNamespace)
	var cjs batchv1.CronJobList
	if err := k8sClient.List(ctx, &cjs, client.InNamespace(operatorNamespace)); err != nil {
		t.Fatal(err)
	}
	if len(cjs.Items) != 1 {
		t.Fatalf("%d CronJobs, want the Schedule's one", len(cjs.Items))
	}
	for _, cj := range cjs.Items {
		tz := ""
		if cj.Spec.TimeZone != nil {
			tz = *cj.Spec.TimeZone
		}
		n.say("cronjob/%s  schedule %q  timeZone %s  concurrencyPolicy %s  image %s", cj.Name, cj.Spec.Schedule, tz, cj.Spec.ConcurrencyPolicy,
			cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image)
	}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
		t.Fatal(err)
	}
	n.say("job/%s  succeeded %d  completed %v", job.Name, job.Status.Succeeded, job.Status.CompletionTime)

	n.step("status of the CRs")
	for _, o := range []client.Object{
		&ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: operatorNamespace}},
		pb,
		&ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: operatorNamespace}},
	} {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
			t.Fatal(err)
		}
		n.say("%s/%s:\n%s", strings.ToLower(fmt.Sprintf("%T", o)[strings.LastIndex(fmt.Sprintf("%T", o), ".")+1:]), o.GetName(), indent(statusYAML(t, o)))
	}

	n.step("curl %s/metrics | grep ansible_operator_job_runs_total", metricsAddr)
	series := scrape(t, "http://"+metricsAddr+"/metrics")
	var lines []string
	for _, sample := range series["ansible_operator_job_runs_total"] {
		kind, result := sample.Labels["kind"], sample.Labels["result"]
		lines = append(lines, fmt.Sprintf("ansible_operator_job_runs_total{kind=%q,result=%q} %v", kind, result, sample.Value))
		want := 0.0
		if kind == "Playbook" && result == "succeeded" {
			want = 1
		}
		if sample.Value != want {
			t.Errorf("ansible_operator_job_runs_total%v = %v, want %v (the run counted once)", sample.Labels, sample.Value, want)
		}
	}
	sort.Strings(lines)
	n.say("%s", strings.Join(lines, "\n"))
	n.step("done: the processes stop and the temporary files are removed")
}

func findCondition(cs []metav1.Condition, typ string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == typ {
			return &cs[i]
		}
	}
	return nil
}

// statusYAML is the object's status without the conditions' timestamps noise.
func statusYAML(t *testing.T, o client.Object) string {
	t.Helper()
	j, err := yaml.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(map[string]any{"status": m["status"]})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
