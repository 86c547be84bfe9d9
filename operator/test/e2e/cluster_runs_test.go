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
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// TestCluster_productionOverlay: kustomize/overlays/production (with
// cluster-watch), pinned by pin-images against the node's registry and
// applied server-side, runs: the Deployment becomes Available with both
// replicas, the pods run the pinned index (containerd reports the index
// digest as imageID), one holds the leader Lease, Pod Security `restricted`
// admitted them and refuses a pod that is not, and the cache claim is
// bound.
func TestCluster_productionOverlay(t *testing.T) {
	c := useCluster(t)
	objs := c.ensureOperator(t)
	ctx := context.Background()
	dep := typed[appsv1.Deployment](t, find(objs, "Deployment", "ansible-playbook-operator"))
	image := dep.Spec.Template.Spec.Containers[0].Image
	if want := c.registry + "/ansible-playbook-operator:dev@" + c.operatorIndex; image != want {
		t.Fatalf("the rendered Deployment runs %s, want the pinned index %s", image, want)
	}
	pods := c.operatorPods(t)
	if len(pods) != 2 {
		t.Fatalf("%d operator pods, want 2 (components/ha)", len(pods))
	}
	var names []string
	for _, pod := range pods {
		names = append(names, pod.Name)
		cs := pod.Status.ContainerStatuses
		if len(cs) != 1 || !cs[0].Ready || cs[0].State.Running == nil {
			t.Errorf("pod %s: container not running and ready: %+v", pod.Name, cs)
			continue
		}
		// containerd reports the digest of what it pulled: the index's,
		// not the linux/amd64 child's.
		if got := digestOf(cs[0].ImageID); got != c.operatorIndex {
			t.Errorf("pod %s: imageID %s, want the pinned index digest %s", pod.Name, cs[0].ImageID, c.operatorIndex)
		}
		sc := pod.Spec.Containers[0].SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("pod %s runs without a read-only root file system: %+v", pod.Name, sc)
		}
	}
	lease := &coordinationv1.Lease{}
	testenv.Eventually(t, "the leader Lease held by an operator pod", 60*time.Second, func() (bool, string) {
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: "ansible-playbook-operator.ansible.cloud37.dev"}, lease); err != nil {
			return false, err.Error()
		}
		holder := ptr.Deref(lease.Spec.HolderIdentity, "")
		for _, n := range names {
			if strings.HasPrefix(holder, n) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("holder %q, pods %v", holder, names)
	})
	ns := &corev1.Namespace{}
	if err := c.client.Get(ctx, client.ObjectKey{Name: operatorNamespace}, ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace %s labels %v, want Pod Security restricted enforced", operatorNamespace, ns.Labels)
	}
	// The control: the same namespace refuses a pod that is not restricted.
	bad := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "not-restricted", Namespace: operatorNamespace},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: c.runner}}}}
	if err := c.client.Create(ctx, bad, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Errorf("a pod that is not restricted in %s: %v, want a PodSecurity refusal", operatorNamespace, err)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	testenv.Eventually(t, "the cache claim Bound", 60*time.Second, func() (bool, string) {
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: "ansible-playbook-cache"}, pvc); err != nil {
			return false, err.Error()
		}
		return pvc.Status.Phase == corev1.ClaimBound, string(pvc.Status.Phase)
	})
	t.Logf("operator pods %v run %s (imageID = index digest), Lease held by %s, claim bound to %s",
		names, image, ptr.Deref(lease.Spec.HolderIdentity, ""), pvc.Spec.VolumeName)
}

// The playbook of the run tests: every host reports who runs it, and the
// runner's own pod checks that its root file system is read-only.
const clusterPlaybook = `- hosts: all
  gather_facts: false
  tasks:
  - name: who runs
    ansible.builtin.command: id -u
    register: who
    changed_when: false
  - name: report
    ansible.builtin.debug:
      msg: "{{ inventory_hostname }} ran as uid {{ who.stdout }}"
  - name: maybe fail
    ansible.builtin.fail:
      msg: asked to fail
    when: fail_run | default(false) | bool
- hosts: localhost
  gather_facts: false
  tasks:
  - name: the root file system is read-only
    ansible.builtin.command: touch /usr/e2e-probe
    register: probe
    failed_when: "'Read-only file system' not in probe.stderr"
    changed_when: false
`

// TestCluster_runNow: a run-now of a Playbook makes a Job whose pod copies
// playbook-runner from the operator's image and runs ansible against
// localhost and, over ssh, against the managed-host pod. The run lands in
// status.runs with the commit, the executor's digest from the pod's real
// imageID and per-host counts; one RunSucceeded event and one count in the
// run counter (summed over the metrics Service's endpoints) announce it.
func TestCluster_runNow(t *testing.T) {
	c := useCluster(t)
	c.ensureOperator(t)
	ns := c.namespace(t, "e2e-run-now")
	host := c.startManagedHost(t, ns)
	const mount = "/etc/managed-host"
	src := gittest.NewRepo(t, map[string]string{"site.yml": clusterPlaybook,
		"inventory/hosts.ini": "localhost ansible_connection=local\n" + host.inventoryLine("managed", mount)})
	url := gittest.StartDaemon(t, src.Bare(t), gittest.On(c.hostIP))
	f := c.createRun(t, ns, url, nil, func(pb *ansiblev1alpha1.Playbook) {
		pb.Spec.Secrets = &ansiblev1alpha1.PlaybookSecrets{FileMounts: []ansiblev1alpha1.SecretFileMount{host.fileMount(mount)}}
	})
	before := c.runsCounted(t, "Playbook")

	c.runNow(t, f.pb, "first")
	runs := c.waitRuns(t, f.pb, 1, 3*time.Minute)
	run := runs[0]
	js := c.runJobs(t, ns)
	if len(js) != 1 {
		t.Fatalf("%d Jobs, want the run's one", len(js))
	}
	pod := c.runPod(t, ns, js[0].Name)
	out := c.logs(t, ns, pod.Name, jobs.ExecutorContainerName)
	t.Logf("the run's log:\n%s", indentLines(out))
	if run.Result != ansiblev1alpha1.RunSucceeded {
		t.Fatalf("run %+v, want Succeeded", run)
	}
	if run.Commit != src.Head(t, "main") {
		t.Errorf("run commit %s, want %s", run.Commit, src.Head(t, "main"))
	}
	if want := digestOf(c.runner); run.ImageDigest != want || digestOf(pod.Status.ContainerStatuses[0].ImageID) != want {
		t.Errorf("run imageDigest %s (pod imageID %s), want the runner's %s", run.ImageDigest, pod.Status.ContainerStatuses[0].ImageID, want)
	}
	hosts := hostCounts(run)
	if len(hosts) != 2 || hosts["localhost"].OK < 3 || hosts["managed"].OK < 2 || hosts["managed"].Failed != 0 || hosts["managed"].Unreachable != 0 {
		t.Errorf("per-host counts %+v, want localhost and managed ok", run.Hosts)
	}
	for _, want := range []string{"localhost ran as uid 1000", "managed ran as uid 1000"} {
		if !strings.Contains(out, want) {
			t.Errorf("the run's log lacks %q", want)
		}
	}
	if init := pod.Spec.InitContainers[0]; init.Image != c.registry+"/ansible-playbook-operator:dev@"+c.operatorIndex {
		t.Errorf("the runner was copied from %s, want the operator's pinned image", init.Image)
	}
	// Announced and counted once, however often the Playbook is
	// reconciled afterwards.
	testenv.Eventually(t, "one RunSucceeded event", 30*time.Second, func() (bool, string) {
		n := c.events(t, ns, "site", "RunSucceeded")
		return n == 1, fmt.Sprintf("%d events", n)
	})
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"touch":"1"}}}`))
	if err := c.client.Patch(context.Background(), f.pb, patch); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // let the touch reconcile; nothing may move
	after := c.runsCounted(t, "Playbook")
	if d := countedSince(before, after); d != 1 {
		t.Errorf("ansible_operator_job_runs_total{kind=Playbook} moved by %v over the replicas, want 1 (before %v, after %v)", d, before, after)
	}
	if n := c.events(t, ns, "site", "RunSucceeded"); n != 1 {
		t.Errorf("%d RunSucceeded events after a reconcile, want 1", n)
	}
	if len(c.metricsThroughVIP(t)) == 0 {
		t.Error("the metrics Service's ClusterIP served no ansible_operator_job_runs_total")
	}
	// The Python operator's label values, which its dashboards select.
	leader := c.leaderMetrics(t)
	for name, labels := range map[string]map[string]string{
		"ansible_operator_job_runs_total":  {"kind": "Playbook", "result": "success"},
		"ansible_operator_reconcile_total": {"kind": "Playbook", "result": "started"},
	} {
		if v := sampleValue(leader[name], labels); v < 1 {
			t.Errorf("the leader's %s%v is %v, want the Python operator's label values counting", name, labels, v)
		}
	}
}

const checksPlaybook = `- hosts: all
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

// TestCluster_runs: the ways a run reaches its repository and what it is
// given, each in a namespace of its own, in parallel: https with a
// basic-auth Secret plus a vault, Secret extra vars full of quotes and a
// newline, and tags; ssh with a key and known_hosts, and a failing task
// recorded as such. No Secret value appears in the Job or the run's log.
func TestCluster_runs(t *testing.T) {
	c := useCluster(t)
	c.ensureOperator(t)
	t.Run("https with a basic-auth Secret, a vault, Secret extra vars and tags", func(t *testing.T) {
		t.Parallel()
		ns := c.namespace(t, "e2e-run-https")
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
		src := gittest.NewRepo(t, map[string]string{"site.yml": checksPlaybook, "vault.yml": string(encrypted), "inventory/hosts.ini": "local ansible_connection=local\n"})
		url := gittest.StartHTTP(t, src.Bare(t), "git-user", "s3cret-token", gittest.On(c.hostIP))
		tricky := "it's \"quoted\" $HOME `x` \\ back\nsecond line"
		for _, o := range []client.Object{
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git", Namespace: ns}, Type: corev1.SecretTypeBasicAuth,
				StringData: map[string]string{"username": "git-user", "password": "s3cret-token"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault", Namespace: ns}, StringData: map[string]string{"password": "vault-pass-1234\n"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vars", Namespace: ns}, StringData: map[string]string{"tricky": tricky, "api_token": "zz-secret-only-zz"}},
		} {
			if err := c.client.Create(context.Background(), o); err != nil {
				t.Fatal(err)
			}
		}
		expected, err := json.Marshal(map[string]string{"expected_tricky": tricky, "plain": "spec value", "tricky": "overridden by the Secret"})
		if err != nil {
			t.Fatal(err)
		}
		f := c.createRun(t, ns, url, func(r *ansiblev1alpha1.Repository) {
			r.Spec.Auth = &ansiblev1alpha1.RepositoryAuth{Method: ansiblev1alpha1.AuthMethodHTTPS, SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "git"}}
		}, func(pb *ansiblev1alpha1.Playbook) {
			pb.Spec.ExtraVars = &apiextensionsv1.JSON{Raw: expected}
			pb.Spec.ExtraVarsSecretRefs = []ansiblev1alpha1.LocalObjectReference{{Name: "vars"}}
			pb.Spec.Secrets = &ansiblev1alpha1.PlaybookSecrets{VaultPasswordSecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "vault"}}
			pb.Spec.Execution = &ansiblev1alpha1.ExecutionOptions{Tags: []string{"checks"}}
		})
		c.runNow(t, f.pb, "checks")
		run := c.waitRuns(t, f.pb, 1, 3*time.Minute)[0]
		js := c.runJobs(t, ns)
		out := c.logs(t, ns, c.runPod(t, ns, js[0].Name).Name, jobs.ExecutorContainerName)
		if run.Result != ansiblev1alpha1.RunSucceeded || run.Totals == nil || run.Totals.OK != 2 {
			t.Errorf("run %+v, want Succeeded with the two tagged tasks ok; log:\n%s", run, out)
		}
		job, _ := json.Marshal(js[0])
		for _, secret := range []string{"zz-secret-only-zz", "vault-pass-1234", "s3cret-token"} {
			if strings.Contains(string(job), secret) || strings.Contains(out, secret) {
				t.Errorf("the Secret value %q appears in the Job or the run's log", secret)
			}
		}
	})
	t.Run("the Python operator's vault path in an ansible.cfg", func(t *testing.T) {
		t.Parallel()
		ns := c.namespace(t, "e2e-vault-path")
		dir := t.TempDir()
		pw, vars := filepath.Join(dir, "pw"), filepath.Join(dir, "vault.yml")
		if err := os.WriteFile(pw, []byte("vault-pass-5678\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vars, []byte("vault_secret: from-the-vault\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("ansible-vault", "encrypt", "--vault-password-file", pw, vars).CombinedOutput(); err != nil {
			t.Fatalf("ansible-vault: %v\n%s", err, out)
		}
		encrypted := string(must(os.ReadFile(vars)))
		src := gittest.NewRepo(t, map[string]string{"site.yml": checksPlaybook, "vault.yml": encrypted,
			// What a repository written for the Python operator carries.
			"ansible.cfg":         "[defaults]\nvault_password_file = /vault-password/password\n",
			"inventory/hosts.ini": "local ansible_connection=local\n"})
		if err := c.client.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault", Namespace: ns}, StringData: map[string]string{"password": "vault-pass-5678\n"}}); err != nil {
			t.Fatal(err)
		}
		expected := []byte(`{"expected_tricky": "x", "tricky": "x", "plain": "spec value"}`)
		f := c.createRun(t, ns, gittest.StartDaemon(t, src.Bare(t), gittest.On(c.hostIP)), nil, func(pb *ansiblev1alpha1.Playbook) {
			pb.Spec.AnsibleCfgPath = "ansible.cfg"
			pb.Spec.ExtraVars = &apiextensionsv1.JSON{Raw: expected}
			pb.Spec.Secrets = &ansiblev1alpha1.PlaybookSecrets{VaultPasswordSecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "vault"}}
			pb.Spec.Execution = &ansiblev1alpha1.ExecutionOptions{Tags: []string{"checks"}}
		})
		c.runNow(t, f.pb, "vault-path")
		run := c.waitRuns(t, f.pb, 1, 3*time.Minute)[0]
		if run.Result != ansiblev1alpha1.RunSucceeded {
			t.Errorf("run %+v, want the vault decrypted through /vault-password/password; log:\n%s", run, c.logs(t, ns, c.runPod(t, ns, run.JobName).Name, jobs.ExecutorContainerName))
		}
	})
	t.Run("ssh with a key and known_hosts; a failing task is recorded", func(t *testing.T) {
		t.Parallel()
		ns := c.namespace(t, "e2e-run-ssh")
		src := gittest.NewRepo(t, map[string]string{"site.yml": clusterPlaybook,
			"inventory/hosts.ini": "local-a ansible_connection=local\nlocal-b ansible_connection=local\nlocalhost ansible_connection=local\n"})
		sshd := gittest.StartSSHD(t, src.Bare(t), gittest.On(c.hostIP))
		for _, o := range []client.Object{
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git", Namespace: ns}, Type: corev1.SecretTypeSSHAuth,
				Data: map[string][]byte{"ssh-privatekey": sshd.ClientKey}},
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "known-hosts", Namespace: ns}, Data: map[string]string{"known_hosts": string(sshd.KnownHosts)}},
		} {
			if err := c.client.Create(context.Background(), o); err != nil {
				t.Fatal(err)
			}
		}
		f := c.createRun(t, ns, sshd.URL, func(r *ansiblev1alpha1.Repository) {
			r.Spec.Auth = &ansiblev1alpha1.RepositoryAuth{Method: ansiblev1alpha1.AuthMethodSSH, SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "git"}}
			r.Spec.SSH = &ansiblev1alpha1.RepositorySSH{KnownHostsConfigMapRef: &ansiblev1alpha1.LocalObjectReference{Name: "known-hosts"}}
		}, func(pb *ansiblev1alpha1.Playbook) {
			pb.Spec.ExtraVars = &apiextensionsv1.JSON{Raw: []byte(`{"fail_run": true}`)}
		})
		c.runNow(t, f.pb, "fails")
		run := c.waitRuns(t, f.pb, 1, 3*time.Minute)[0]
		if run.Result != ansiblev1alpha1.RunFailed || len(run.FailedTasks) != 3 || run.FailedTasks[0].Task != "maybe fail" {
			t.Errorf("run %+v, want Failed with the task on the three hosts", run)
		}
		if run.Commit != src.Head(t, "main") {
			t.Errorf("run commit %s, want %s", run.Commit, src.Head(t, "main"))
		}
		c.waitCondition(t, f.pb, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, 10*time.Second)
		testenv.Eventually(t, "one RunFailed event", 30*time.Second, func() (bool, string) {
			n := c.events(t, ns, "site", "RunFailed")
			return n == 1, fmt.Sprintf("%d events", n)
		})
	})
}

// TestCluster_credentialsForAnsible: ansible-galaxy in the real executor
// image installs a role from a second private repository on the
// Repository's own git server with the Repository's credentials
// (spec.auth.passToAnsible, default true): a token and a basic-auth
// password with a space over https (~/.netrc, read by the image's curl
// through git), a key and known_hosts over ssh (the image's OpenSSH, the
// key copied from the Secret mount). With passToAnsible false the same
// requirements file fails with RequirementsFailed.
func TestCluster_credentialsForAnsible(t *testing.T) {
	c := useCluster(t)
	c.ensureOperator(t)
	const token, password = "tok-for-ansible-9Q7w", "pa ss word"
	served := t.TempDir() // bare repositories side by side: one server serves them all
	role := gittest.NewRepo(t, map[string]string{
		"meta/main.yml":  "galaxy_info:\n  author: e2e\n  description: private role\n  license: MIT\n  min_ansible_version: '2.14'\ndependencies: []\n",
		"tasks/main.yml": "- ansible.builtin.debug:\n    msg: from the private role\n",
	})
	roleBare := role.BareAt(t, filepath.Join(served, "role.git"))
	site := func(name, requirement string) string {
		r := gittest.NewRepo(t, map[string]string{
			"site.yml":            "- hosts: all\n  gather_facts: false\n  roles: [private_role]\n",
			"inventory/hosts.ini": "localhost ansible_connection=local\n",
			"requirements.yml":    "roles:\n  - name: private_role\n    src: " + requirement + "\n    version: main\n",
		})
		return r.BareAt(t, filepath.Join(served, name+".git"))
	}
	tokenURL := gittest.StartHTTP(t, roleBare, "oauth2", token, gittest.On(c.hostIP))
	basicURL := gittest.StartHTTP(t, roleBare, "alice", password, gittest.On(c.hostIP))
	sshd := gittest.StartSSHD(t, roleBare, gittest.On(c.hostIP))
	tokenSite := strings.TrimSuffix(tokenURL, "role.git") + filepath.Base(site("token-site", "git+"+tokenURL))
	basicSite := strings.TrimSuffix(basicURL, "role.git") + filepath.Base(site("basic-site", "git+"+basicURL))
	sshSite := strings.Replace(sshd.URL, roleBare, site("ssh-site", "git+"+sshd.URL), 1)

	cases := map[string]struct {
		url    string
		method ansiblev1alpha1.AuthMethod
		secret map[string][]byte
		off    bool
		want   ansiblev1alpha1.RunResult
		reason string
	}{
		"https token": {url: tokenSite, method: ansiblev1alpha1.AuthMethodToken, secret: map[string][]byte{"token": []byte(token)}, want: ansiblev1alpha1.RunSucceeded},
		"https basic auth, a password with spaces":        {url: basicSite, method: ansiblev1alpha1.AuthMethodHTTPS, secret: map[string][]byte{"username": []byte("alice"), "password": []byte(password)}, want: ansiblev1alpha1.RunSucceeded},
		"ssh key and known_hosts":                         {url: sshSite, method: ansiblev1alpha1.AuthMethodSSH, secret: map[string][]byte{"ssh-privatekey": sshd.ClientKey}, want: ansiblev1alpha1.RunSucceeded},
		"passToAnsible false: the role cannot be fetched": {url: tokenSite, method: ansiblev1alpha1.AuthMethodToken, secret: map[string][]byte{"token": []byte(token)}, off: true, want: ansiblev1alpha1.RunFailed, reason: "RequirementsFailed"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ns := c.namespace(t, "e2e-galaxy")
			objs := []client.Object{&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git", Namespace: ns}, Data: tc.secret}}
			if tc.method == ansiblev1alpha1.AuthMethodSSH {
				objs = append(objs, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "known-hosts", Namespace: ns}, Data: map[string]string{"known_hosts": string(sshd.KnownHosts)}})
			}
			for _, o := range objs {
				if err := c.client.Create(context.Background(), o); err != nil {
					t.Fatal(err)
				}
			}
			f := c.createRun(t, ns, tc.url, func(r *ansiblev1alpha1.Repository) {
				r.Spec.Auth = &ansiblev1alpha1.RepositoryAuth{Method: tc.method, SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "git"}}
				if tc.off {
					r.Spec.Auth.PassToAnsible = ptr.To(false)
				}
				if tc.method == ansiblev1alpha1.AuthMethodSSH {
					r.Spec.SSH = &ansiblev1alpha1.RepositorySSH{KnownHostsConfigMapRef: &ansiblev1alpha1.LocalObjectReference{Name: "known-hosts"}}
				}
			}, nil)
			c.runNow(t, f.pb, "galaxy")
			run := c.waitRuns(t, f.pb, 1, 3*time.Minute)[0]
			out := c.logs(t, ns, c.runPod(t, ns, run.JobName).Name, jobs.ExecutorContainerName)
			if run.Result != tc.want || (tc.reason != "" && run.Reason != tc.reason) {
				t.Errorf("run %+v, want %s %s; log:\n%s", run, tc.want, tc.reason, out)
			}
			if tc.want == ansiblev1alpha1.RunSucceeded && !strings.Contains(out, "from the private role") {
				t.Errorf("the private role did not run:\n%s", out)
			}
			for _, v := range tc.secret {
				if tc.method != ansiblev1alpha1.AuthMethodSSH && strings.Contains(out, string(v)) {
					t.Errorf("a credential appears in the run's log")
				}
			}
		})
	}
}

// TestCluster_unreachableGitHost: with the deployed operator, a Repository
// on a git host that accepts connections and never answers does not keep
// the others waiting: they become Ready while its connection is still
// held open.
func TestCluster_unreachableGitHost(t *testing.T) {
	c := useCluster(t)
	c.ensureOperator(t)
	ctx := context.Background()
	ns := c.namespace(t, "e2e-blackhole")
	hole, err := net.Listen("tcp", net.JoinHostPort(c.hostIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 16)
	go func() {
		for {
			conn, err := hole.Accept()
			if err != nil {
				return
			}
			held <- conn // accepted, never answered
		}
	}()
	t.Cleanup(func() {
		hole.Close()
		for len(held) > 0 {
			(<-held).Close()
		}
	})
	dead := &ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "unreachable", Namespace: ns},
		Spec: ansiblev1alpha1.RepositorySpec{URL: "git://" + hole.Addr().String() + "/site.git", Branch: "main"}}
	if err := c.client.Create(ctx, dead); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the operator connected to the unreachable host", 30*time.Second, func() (bool, string) {
		return len(held) > 0, "no connection yet"
	})
	src := gittest.NewRepo(t, map[string]string{"site.yml": clusterPlaybook, "inventory/hosts.ini": "localhost ansible_connection=local\n"})
	url := gittest.StartDaemon(t, src.Bare(t), gittest.On(c.hostIP))
	var good []*ansiblev1alpha1.Repository
	for i := range 6 {
		r := &ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("reachable-%d", i), Namespace: ns},
			Spec: ansiblev1alpha1.RepositorySpec{URL: url, Branch: "main"}}
		if err := c.client.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		good = append(good, r)
	}
	for _, r := range good {
		c.waitCondition(t, r, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, 90*time.Second)
	}
	// The order is the proof: the unreachable Repository's check, started
	// first, has not ended (no verdict, its connection still held) when
	// every other is Ready; behind one busy worker they would have waited
	// for its timeout.
	if err := c.client.Get(ctx, client.ObjectKeyFromObject(dead), dead); err != nil {
		t.Fatal(err)
	}
	for _, cond := range dead.Status.Conditions {
		if cond.Type == ansiblev1alpha1.ReadyCondition && cond.Status != metav1.ConditionUnknown {
			t.Errorf("the unreachable Repository's check ended (%s %s: %s) before the others were Ready: they waited for it", cond.Status, cond.Reason, cond.Message)
		}
	}
}
