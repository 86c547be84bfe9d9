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

package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dto "github.com/prometheus/client_model/go"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/kubelettest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/metrics"
)

const e2ePlaybook = `- hosts: all
  gather_facts: false
  tasks:
  - name: greet
    ansible.builtin.debug:
      msg: hello
  - name: maybe fail
    ansible.builtin.fail:
      msg: asked to fail
    when: fail_run | default(false) | bool
`

// TestRuns_endToEnd: a run-now makes a Job, the kubelet stand-in runs it with
// the real playbook-runner and Debian's ansible, and the outcome lands in the
// Playbook's status.
func TestRuns_endToEnd(t *testing.T) {
	requireEnv(t)
	runner := buildRunner(t)
	executor := "kenchrcum/ansible-runner@" + runnerDigest
	kubelet := &kubelettest.Kubelet{Client: k8sClient,
		Binaries: map[string]string{jobs.OperatorRunnerPath: runner},
		ImageIDs: map[string]string{executor: "docker.io/" + executor}}

	src := gittest.NewRepo(t, map[string]string{"site.yml": e2ePlaybook, "inventory/hosts.ini": "local-a ansible_connection=local\nlocal-b ansible_connection=local\n"})
	bare := src.Bare(t)
	daemon := gittest.StartDaemon(t, bare)
	httpURL := gittest.StartHTTP(t, bare, "git-user", "s3cret-token")
	sshd := gittest.StartSSHD(t, bare)
	config := "apiVersion: config.ansible.cloud37.dev/v1alpha1\nkind: OperatorConfig\nexecutorDefaults:\n  image:\n    repository: kenchrcum/ansible-runner\n    digest: " + runnerDigest + "\nrequirePinnedExecutor: true\n"

	cases := map[string]struct {
		url      string
		auth     bool
		ssh      bool
		extra    string // Playbook.spec.extraVars JSON
		result   ansiblev1alpha1.RunResult
		failTask string
	}{
		"a playbook over git daemon succeeds":     {url: daemon, result: ansiblev1alpha1.RunSucceeded},
		"a failing playbook records the task":     {url: daemon, extra: `{"fail_run": true}`, result: ansiblev1alpha1.RunFailed, failTask: "maybe fail"},
		"https with a basic-auth Secret succeeds": {url: httpURL, auth: true, result: ansiblev1alpha1.RunSucceeded},
		"ssh with a key and known_hosts succeeds": {url: sshd.URL, ssh: true, result: ansiblev1alpha1.RunSucceeded},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, config)
			ctx := context.Background()
			repo := get(t, f.repo)
			repo.Spec.URL = tc.url
			if tc.auth {
				secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git", Namespace: f.ns}, Type: corev1.SecretTypeBasicAuth,
					StringData: map[string]string{"username": "git-user", "password": "s3cret-token"}}
				if err := k8sClient.Create(ctx, secret); err != nil {
					t.Fatal(err)
				}
				repo.Spec.Auth = &ansiblev1alpha1.RepositoryAuth{Method: ansiblev1alpha1.AuthMethodHTTPS, SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "git"}}
			}
			if tc.ssh {
				for _, o := range []client.Object{
					&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git", Namespace: f.ns}, Type: corev1.SecretTypeSSHAuth,
						Data: map[string][]byte{"ssh-privatekey": sshd.ClientKey}},
					&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "known-hosts", Namespace: f.ns}, Data: map[string]string{"known_hosts": string(sshd.KnownHosts)}},
				} {
					if err := k8sClient.Create(ctx, o); err != nil {
						t.Fatal(err)
					}
				}
				repo.Spec.Auth = &ansiblev1alpha1.RepositoryAuth{Method: ansiblev1alpha1.AuthMethodSSH, SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "git"}}
				repo.Spec.SSH = &ansiblev1alpha1.RepositorySSH{KnownHostsConfigMapRef: &ansiblev1alpha1.LocalObjectReference{Name: "known-hosts"}}
			}
			if err := k8sClient.Update(ctx, repo); err != nil {
				t.Fatal(err)
			}
			pb := get(t, f.pb)
			pb.Annotations = map[string]string{RunNowAnnotation: "e2e"}
			if tc.extra != "" {
				pb.Spec.ExtraVars = &apiextensionsv1.JSON{Raw: []byte(tc.extra)}
			}
			if err := k8sClient.Update(ctx, pb); err != nil {
				t.Fatal(err)
			}
			startOperator(t, f.env)
			job := waitRunJob(t, f)
			res := kubelet.RunJob(t, &job)
			wantExit := 0
			if tc.result == ansiblev1alpha1.RunFailed {
				wantExit = 2
			}
			if res.ExitCode != wantExit {
				t.Fatalf("runner exited %d, want %d:\n%s", res.ExitCode, wantExit, res.Output)
			}
			eventually(t, "the run record", func() (bool, string) {
				return len(get(t, f.pb).Status.Runs) == 1, "no run recorded"
			})
			// Counted and announced once, however often the Playbook is
			// reconciled. The counter moves after the status patch, just
			// before the event: read it once the event is there.
			reason := "RunSucceeded"
			if tc.result == ansiblev1alpha1.RunFailed {
				reason = "RunFailed"
			}
			oneEvent := func() (bool, string) {
				n := countEvents(t, f.ns, reason)
				return n == 1, fmt.Sprintf("%d events", n)
			}
			eventually(t, "one "+reason+" event", oneEvent)
			result := map[ansiblev1alpha1.RunResult]string{ansiblev1alpha1.RunSucceeded: "success", ansiblev1alpha1.RunFailed: "failure"}[tc.result]
			before := counter(metrics.JobRunsTotal.WithLabelValues("Playbook", result))
			touch := get(t, f.pb)
			touch.Annotations["touch"] = "1"
			if err := k8sClient.Update(ctx, touch); err != nil {
				t.Fatal(err)
			}
			eventually(t, "still one "+reason+" event", oneEvent)
			if after := counter(metrics.JobRunsTotal.WithLabelValues("Playbook", result)); after != before {
				t.Errorf("ansible_operator_job_runs_total moved from %v to %v on a reconcile after the run was recorded", before, after)
			}
			run := get(t, f.pb).Status.Runs[0]
			if run.Result != tc.result || run.Commit != src.Head(t, "main") || run.ImageDigest != runnerDigest || run.Totals == nil || run.Totals.OK == 0 || len(run.Hosts) != 2 {
				t.Errorf("run record %+v", run)
			}
			if tc.failTask != "" && (len(run.FailedTasks) != 2 || run.FailedTasks[0].Task != tc.failTask) {
				t.Errorf("failed tasks %+v, want %q on both hosts", run.FailedTasks, tc.failTask)
			}
			for _, s := range []string{res.Output, res.TerminationMessage} {
				if strings.Contains(s, "s3cret-token") {
					t.Error("the git password appears in the run's output")
				}
			}
		})
	}
}

// TestPlaybookReconciler_imagePullFailure: a run whose pod cannot pull the
// executor image surfaces as ImagePullFailed and one Warning event naming
// the image, while Ready stays True.
func TestPlaybookReconciler_imagePullFailure(t *testing.T) {
	requireEnv(t)
	f := newFixture(t, "")
	ctx := context.Background()
	pb := get(t, f.pb)
	pb.Annotations = map[string]string{RunNowAnnotation: "pull"}
	if err := k8sClient.Update(ctx, pb); err != nil {
		t.Fatal(err)
	}
	startOperator(t, f.env)
	job := waitRunJob(t, f)
	image := job.Spec.Template.Spec.Containers[0].Image
	pod := createJobPod(t, &job, "p")
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "ansible-runner", Image: image,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "Back-off pulling image"}}}}}
	if err := k8sClient.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ImagePullFailed", func() (bool, string) {
		c := condition(get(t, f.pb), ansiblev1alpha1.ImagePullFailedCondition)
		return c.Status == metav1.ConditionTrue && strings.Contains(c.Message, image), c.Message
	})
	if !conditionTrue(get(t, f.pb), ansiblev1alpha1.ReadyCondition) {
		t.Error("an image pull failure flipped Ready")
	}
	eventually(t, "one Warning event", func() (bool, string) {
		n := countEvents(t, f.ns, "ImagePullFailed")
		return n == 1, fmt.Sprintf("%d events", n)
	})
}

// countEvents counts events.k8s.io Events of a reason in ns.
func countEvents(t *testing.T, ns, reason string) int {
	t.Helper()
	list := &eventsv1.EventList{}
	if err := k8sClient.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Reason == reason {
			n++
		}
	}
	return n
}

func counter(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

const e2eChecksPlaybook = `- hosts: all
  gather_facts: false
  vars_files: [vault.yml]
  tasks:
  - name: vault decrypted
    ansible.builtin.assert:
      that: ["vault_secret == 'from-the-vault'"]
    tags: [checks]
  - name: extra vars arrived exactly
    ansible.builtin.assert:
      that:
      - tricky == expected_tricky
      - plain == 'spec value'
    tags: [checks]
  - name: not selected by the tags
    ansible.builtin.fail:
      msg: tags were not applied
    tags: [other]
`

// TestRuns_endToEnd_vaultExtraVarsTags: the Job's Secret mounts reach the
// runner: a vault password Secret, an extraVarsSecretRefs Secret with a value
// full of quotes, dollars and a newline (asserted by the playbook itself
// against the same value from spec.extraVars), and execution.tags.
func TestRuns_endToEnd_vaultExtraVarsTags(t *testing.T) {
	requireEnv(t)
	runner := buildRunner(t)
	// Encrypt the vars file with the real ansible-vault.
	dir := t.TempDir()
	pw, vars := filepath.Join(dir, "pw"), filepath.Join(dir, "vault.yml")
	if err := os.WriteFile(pw, []byte("vault-pass-1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vars, []byte("vault_secret: from-the-vault\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ansible-vault", "encrypt", "--vault-password-file", pw, vars).CombinedOutput(); err != nil {
		t.Fatalf("ansible-vault: %v\n%s", err, out)
	}
	encrypted, err := os.ReadFile(vars)
	if err != nil {
		t.Fatal(err)
	}

	f := newFixture(t, "")
	ctx := context.Background()
	src := gittest.NewRepo(t, map[string]string{"site.yml": e2eChecksPlaybook, "vault.yml": string(encrypted), "inventory/hosts.ini": "local ansible_connection=local\n"})
	repo := get(t, f.repo)
	repo.Spec.URL = gittest.StartDaemon(t, src.Bare(t))
	if err := k8sClient.Update(ctx, repo); err != nil {
		t.Fatal(err)
	}
	tricky := "it's \"quoted\" $HOME `x` \\ back\nsecond line"
	for _, o := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault", Namespace: f.ns}, StringData: map[string]string{"password": "vault-pass-1234\n"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vars", Namespace: f.ns}, StringData: map[string]string{"tricky": tricky, "api_token": "zz-secret-only-zz"}},
	} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	expected, err := json.Marshal(map[string]string{"expected_tricky": tricky, "plain": "spec value", "tricky": "overridden by the Secret"})
	if err != nil {
		t.Fatal(err)
	}
	pb := get(t, f.pb)
	pb.Annotations = map[string]string{RunNowAnnotation: "checks"}
	pb.Spec.ExtraVars = &apiextensionsv1.JSON{Raw: expected}
	pb.Spec.ExtraVarsSecretRefs = []ansiblev1alpha1.LocalObjectReference{{Name: "vars"}}
	pb.Spec.Secrets = &ansiblev1alpha1.PlaybookSecrets{VaultPasswordSecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "vault"}}
	pb.Spec.Execution = &ansiblev1alpha1.ExecutionOptions{Tags: []string{"checks"}}
	if err := k8sClient.Update(ctx, pb); err != nil {
		t.Fatal(err)
	}
	startOperator(t, f.env)
	job := waitRunJob(t, f)
	jobJSON, _ := json.Marshal(job)
	if strings.Contains(string(jobJSON), "zz-secret-only-zz") || strings.Contains(string(jobJSON), "vault-pass-1234") {
		t.Error("a Secret value appears in the Job")
	}
	kubelet := &kubelettest.Kubelet{Client: k8sClient, Binaries: map[string]string{jobs.OperatorRunnerPath: runner}}
	res := kubelet.RunJob(t, &job)
	if res.ExitCode != 0 {
		t.Fatalf("runner exited %d:\n%s", res.ExitCode, res.Output)
	}
	if strings.Contains(res.Output, "zz-secret-only-zz") || strings.Contains(res.Output, "vault-pass-1234") {
		t.Error("a Secret value appears in the run's output")
	}
	eventually(t, "the run record", func() (bool, string) {
		runs := get(t, f.pb).Status.Runs
		return len(runs) == 1 && runs[0].Result == ansiblev1alpha1.RunSucceeded && runs[0].Totals != nil && runs[0].Totals.OK == 2,
			fmt.Sprintf("%+v", runs)
	})
}

// buildRunner builds the static playbook-runner for the kubelet stand-in.
func buildRunner(t *testing.T) string {
	t.Helper()
	runner := filepath.Join(t.TempDir(), "playbook-runner")
	build := exec.Command("go", "build", "-o", runner, "../../cmd/playbook-runner")
	build.Env = append(build.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build playbook-runner: %v\n%s", err, out)
	}
	return runner
}

// waitRunJob waits for the one Job of the fixture's Playbook.
func waitRunJob(t *testing.T, f *fixture) batchv1.Job {
	t.Helper()
	var job batchv1.Job
	eventually(t, "the run's Job", func() (bool, string) {
		js := jobsOf(t, f.ns, "Playbook", "site")
		if len(js) == 1 {
			job = js[0]
		}
		return len(js) == 1, fmt.Sprintf("%d Jobs; Playbook %q", len(js), condition(get(t, f.pb), ansiblev1alpha1.ReadyCondition).Message)
	})
	return job
}
