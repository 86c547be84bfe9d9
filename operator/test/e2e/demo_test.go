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

// TestDemo is `make demo`'s operator part, on the local cluster: the
// images built by `make images` pushed to the node's registry (the
// operator as a multi-arch index), kustomize/overlays/production pinned
// with pin-images and applied server-side, the operator's pods running the
// pinned digests, examples/playbooks applied with its Repository served by
// a git daemon on the bridge address and its Schedule made to fire at the
// next minute, a run-now whose playbook output comes from the run's pod,
// the run in status.runs, the scheduled run, and the run counter from the
// metrics endpoint. It runs under DEMO=1 (make demo); TestREADME runs
// make demo within make test.
func TestDemo(t *testing.T) {
	if os.Getenv("DEMO") == "" {
		t.Skip("make demo runs this (DEMO=1); TestREADME runs make demo")
	}
	c := useCluster(t)
	n := narrator{t}
	ctx := context.Background()
	kubectl := func(args ...string) string {
		t.Helper()
		r := c.kubectl(t, "", args...)
		if r.err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), r.err, r)
		}
		return strings.TrimRight(r.stdout, "\n")
	}

	n.step("the local cluster: one node (kubelet, containerd, the controllers, kube-proxy) and a registry on %s", c.registry)
	n.say("%s", kubectl("get", "nodes", "-o", "wide"))
	n.say("pushed %s/ansible-playbook-operator:dev@%s (OCI index: linux/amd64, linux/arm64)\nexecutor %s (Debian bookworm, ansible-core)",
		c.registry, c.operatorIndex, c.runner)
	// The tests' installation, if one is there: the demo installs the
	// overlay as it is.
	c.uninstallOperator(t)
	if os.Getenv("KEEP") == "" {
		t.Cleanup(func() { c.uninstallOperator(t) })
	}

	n.step("pin-images pin -w kustomize/overlays/production")
	root := copyTree(t, c.registry)
	overlay := filepath.Join(root, "kustomize", "overlays", "production")
	r := mustSh(t, overlay, nil, "", tool(t, "pin-images"), "pin", "-w", ".")
	n.say("%s", strings.TrimSpace(r.stderr+r.stdout))
	for _, f := range []string{"kustomization.yaml", "operator-config.yaml"} {
		diff := sh(root, nil, "", "diff", "-u", filepath.Join(repoRoot(), "kustomize", "overlays", "production", f), filepath.Join(overlay, f))
		n.say("%s", strings.ReplaceAll(strings.ReplaceAll(diff.stdout, root, ""), repoRoot(), ""))
	}

	n.step("kustomize build kustomize/overlays/production | kubectl apply --server-side -f -")
	objs := decodeAll(t, mustSh(t, overlay, nil, "", tool(t, "kustomize"), "build", ".").stdout)
	c.apply(t, objs, "demo")
	dep := typed[appsDeployment](t, find(objs, "Deployment", "ansible-playbook-operator"))
	c.waitAvailable(t, dep)
	n.say("%d objects applied; deployment/ansible-playbook-operator available", len(objs))

	n.step("kubectl -n %s get pods: images by digest, and the digest each node pulled (imageID)", operatorNamespace)
	n.say("%s", kubectl("-n", operatorNamespace, "get", "pods", "-o",
		"custom-columns=NAME:.metadata.name,STATUS:.status.phase,IMAGE:.spec.containers[0].image,IMAGEID:.status.containerStatuses[0].imageID"))
	for _, pod := range c.operatorPods(t) {
		if got := digestOf(pod.Status.ContainerStatuses[0].ImageID); got != c.operatorIndex {
			t.Errorf("pod %s runs %s, want the pinned index %s", pod.Name, got, c.operatorIndex)
		}
	}

	n.step("examples/playbooks: its Repository served by a git daemon on %s, its Schedule every minute", c.hostIP)
	files := map[string]string{}
	for _, f := range []string{"site.yml", "inventory/hosts.ini"} {
		data, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "playbooks", "repo", f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = string(data)
	}
	gitURL := gittest.StartDaemon(t, gittest.NewRepo(t, files).Bare(t), gittest.On(c.hostIP))
	crs, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "playbooks", "playbooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(crs), "https://git.example.com/ops/site.git", gitURL)
	text = strings.ReplaceAll(text, `schedule: "@daily-random"`, `schedule: "* * * * *"`)
	n.say("url: %s\nschedule: \"* * * * *\" (instead of @daily-random)", gitURL)
	c.apply(t, decodeAll(t, text), "demo")
	pb := &ansiblev1alpha1.Playbook{ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: operatorNamespace}}
	c.waitCondition(t, pb, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, time.Minute)

	n.step("kubectl annotate playbook site ansible.cloud37.dev/run-now=demo-1")
	c.runNow(t, pb, "demo-1")
	run := c.waitRuns(t, pb, 1, 3*time.Minute)[0]
	js := c.runJobs(t, operatorNamespace)
	var job batchv1.Job
	for _, j := range js {
		if j.Name == run.JobName {
			job = j
		}
	}
	pod := c.runPod(t, operatorNamespace, job.Name)
	n.say("job/%s: init container %s copied playbook-runner from %s; executor %s", job.Name,
		pod.Spec.InitContainers[0].Name, pod.Spec.InitContainers[0].Image, pod.Spec.Containers[0].Image)
	n.step("kubectl -n %s logs %s (the playbook's output)", operatorNamespace, pod.Name)
	n.say("%s", strings.TrimRight(c.logs(t, operatorNamespace, pod.Name, jobs.ExecutorContainerName), "\n"))
	if run.Result != ansiblev1alpha1.RunSucceeded {
		t.Fatalf("the run %+v did not succeed", run)
	}
	n.step("status.runs of playbook/site")
	n.say("%s", indent(statusYAML(t, pb)))

	n.step("the Schedule's CronJob fires at the next minute (the CronJob controller starts the Job)")
	s := &ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: operatorNamespace}}
	testenv.Eventually(t, "the scheduled run recorded", 150*time.Second, func() (bool, string) {
		if err := c.client.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
			return false, err.Error()
		}
		return len(s.Status.Runs) > 0, fmt.Sprintf("%+v", s.Status)
	})
	n.say("%s", kubectl("-n", operatorNamespace, "get", "cronjob,jobs"))
	n.say("schedule/nightly:\n%s", indent(statusYAML(t, s)))
	if s.Status.Runs[0].Result != ansiblev1alpha1.RunSucceeded {
		t.Errorf("the scheduled run %+v did not succeed", s.Status.Runs[0])
	}

	n.step("the run counter, from each replica's metrics endpoint (the metrics Service's endpoints)")
	counted := map[string]float64{}
	for _, kind := range []string{"Playbook", "Schedule"} {
		for _, v := range c.runsCounted(t, kind) {
			counted[kind] += v
		}
		n.say("ansible_operator_job_runs_total{kind=%q} %v", kind, counted[kind])
	}
	if counted["Playbook"] != 1 || counted["Schedule"] < 1 {
		t.Errorf("runs counted %v, want the run-now once and the scheduled run", counted)
	}
	if os.Getenv("KEEP") != "" {
		n.step("KEEP=1: the cluster and the operator stay up")
		return
	}
	n.step("done: the operator is removed, the cluster stops if make demo started it")
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
