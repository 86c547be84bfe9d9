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
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/promtext"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// managedHostPort is where the managed host's sshd listens (it runs as uid
// 1000, which cannot bind 22).
const managedHostPort = 2222

// managedHost is a pod of the managed-host image serving ssh as the user
// ansible, behind a Service of the test's namespace.
type managedHost struct {
	// IP is the Service's ClusterIP (there is no cluster DNS).
	IP string
	// Secret holds id_ed25519 (the key ansible logs in with) and
	// known_hosts (the host key for [IP]:2222), for a Playbook's fileMount.
	Secret string
}

// startManagedHost runs the managed host in ns and waits until it serves.
func (c *liveCluster) startManagedHost(t *testing.T, ns string) managedHost {
	t.Helper()
	ctx := context.Background()
	hostPub, hostKey := sshKey(t)
	clientPub, clientKey := sshKey(t)
	labels := map[string]string{"app.kubernetes.io/name": "managed-host"}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "managed-host", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "ssh", Port: managedHostPort, TargetPort: intstr.FromInt32(managedHostPort)}}}}
	if err := c.client.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(managedHostPort))
	sshdConfig := fmt.Sprintf("Port %d\nHostKey /etc/managed-host/ssh_host_ed25519_key\nPidFile none\nAuthorizedKeysFile /etc/managed-host/authorized_keys\n"+
		"Subsystem sftp /usr/lib/openssh/sftp-server\nUsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPrintMotd no\nLogLevel VERBOSE\n", managedHostPort)
	for _, o := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "managed-host-server", Namespace: ns}, Data: map[string][]byte{
			"ssh_host_ed25519_key": hostKey, "authorized_keys": ssh.MarshalAuthorizedKey(clientPub), "sshd_config": []byte(sshdConfig)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "managed-host-client", Namespace: ns}, Data: map[string][]byte{
			"id_ed25519": clientKey, "known_hosts": []byte(knownhosts.Line([]string{addr}, hostPub) + "\n")}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "managed-host", Namespace: ns, Labels: labels}, Spec: corev1.PodSpec{
			SecurityContext: restrictedPod(),
			Containers: []corev1.Container{{Name: "sshd", Image: c.managedHost,
				Args:            []string{"-f", "/etc/managed-host/sshd_config"},
				Ports:           []corev1.ContainerPort{{ContainerPort: managedHostPort}},
				SecurityContext: restrictedContainer(),
				ReadinessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(managedHostPort)}}, PeriodSeconds: 1},
				// Ansible's remote temporary files go to the home.
				VolumeMounts: []corev1.VolumeMount{{Name: "server", MountPath: "/etc/managed-host"}, {Name: "tmp", MountPath: "/tmp"}, {Name: "home", MountPath: "/home/ansible"}}}},
			Volumes: []corev1.Volume{
				{Name: "server", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "managed-host-server", DefaultMode: ptr.To[int32](0o400)}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "home", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		}},
	} {
		if err := c.client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, "the managed host Ready", 2*time.Minute, func() (bool, string) {
		pod := &corev1.Pod{}
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "managed-host"}, pod); err != nil {
			return false, err.Error()
		}
		for _, cond := range pod.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s %+v", pod.Status.Phase, pod.Status.ContainerStatuses)
	})
	return managedHost{IP: svc.Spec.ClusterIP, Secret: "managed-host-client"}
}

// inventoryLine is the managed host's line of an inventory: ansible reads
// the key and known_hosts from the Playbook's fileMount at mountPath.
func (h managedHost) inventoryLine(name, mountPath string) string {
	return fmt.Sprintf("%s ansible_host=%s ansible_port=%d ansible_user=ansible ansible_ssh_private_key_file=%s/id_ed25519 "+
		"ansible_ssh_common_args='-o UserKnownHostsFile=%s/known_hosts -o StrictHostKeyChecking=yes'\n",
		name, h.IP, managedHostPort, mountPath, mountPath)
}

// fileMount mounts the client Secret at mountPath.
func (h managedHost) fileMount(mountPath string) ansiblev1alpha1.SecretFileMount {
	return ansiblev1alpha1.SecretFileMount{SecretRef: ansiblev1alpha1.FileMountSecretReference{Name: h.Secret}, MountPath: mountPath}
}

// sshKey is a new ed25519 key pair: the public key and the OpenSSH PEM
// private key.
func sshKey(t *testing.T) (ssh.PublicKey, []byte) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sshPub, pem.EncodeToMemory(block)
}

func restrictedPod() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](1000),
		FSGroup: ptr.To[int64](1000), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
}

func restrictedContainer() *corev1.SecurityContext {
	return &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
}

// runFixture is a Repository and a Playbook of the test's namespace.
type runFixture struct {
	ns   string
	repo *ansiblev1alpha1.Repository
	pb   *ansiblev1alpha1.Playbook
}

// createSlowRun is createRun for a Repository that serves slowPlaybook with
// a local inventory from a git daemon on the bridge: a run that lasts long
// enough to be disrupted.
func (c *liveCluster) createSlowRun(t *testing.T, ns string) *runFixture {
	t.Helper()
	src := gittest.NewRepo(t, map[string]string{"site.yml": slowPlaybook, "inventory/hosts.ini": "localhost ansible_connection=local\n"})
	return c.createRun(t, ns, gittest.StartDaemon(t, src.Bare(t), gittest.On(c.hostIP)), nil, nil)
}

// createRun creates the Repository (url) and the Playbook (edited by
// spec) and waits for both to be Ready.
func (c *liveCluster) createRun(t *testing.T, ns, url string, repoSpec func(*ansiblev1alpha1.Repository), pbSpec func(*ansiblev1alpha1.Playbook)) *runFixture {
	t.Helper()
	ctx := context.Background()
	f := &runFixture{ns: ns,
		repo: &ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: ns},
			Spec: ansiblev1alpha1.RepositorySpec{URL: url, Branch: "main"}},
		pb: &ansiblev1alpha1.Playbook{ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: ns},
			Spec: ansiblev1alpha1.PlaybookSpec{RepositoryRef: ansiblev1alpha1.ObjectReference{Name: "site"}, PlaybookPath: "site.yml", InventoryPath: "inventory/hosts.ini"}}}
	if repoSpec != nil {
		repoSpec(f.repo)
	}
	if pbSpec != nil {
		pbSpec(f.pb)
	}
	for _, o := range []client.Object{f.repo, f.pb} {
		if err := c.client.Create(ctx, o); err != nil {
			t.Fatalf("create %T: %v", o, err)
		}
	}
	c.waitCondition(t, f.repo, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, time.Minute)
	c.waitCondition(t, f.pb, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, time.Minute)
	return f
}

// conditioned is an object of ours with status conditions.
type conditioned interface {
	client.Object
	GetConditions() []metav1.Condition
}

// waitCondition waits until o's condition typ has status.
func (c *liveCluster) waitCondition(t *testing.T, o conditioned, typ string, status metav1.ConditionStatus, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("%T %s %s=%s", o, o.GetName(), typ, status), timeout, func() (bool, string) {
		if err := c.client.Get(context.Background(), client.ObjectKeyFromObject(o), o); err != nil {
			return false, err.Error()
		}
		for _, cond := range o.GetConditions() {
			if cond.Type == typ {
				return cond.Status == status, fmt.Sprintf("%s=%s %s: %s", typ, cond.Status, cond.Reason, cond.Message)
			}
		}
		return false, fmt.Sprintf("no %s condition: %+v", typ, o.GetConditions())
	})
}

// runNow sets the run-now annotation, as `kubectl annotate` does.
func (c *liveCluster) runNow(t *testing.T, o client.Object, id string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, "ansible.cloud37.dev/run-now", id)
	if err := c.client.Patch(context.Background(), o, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

// waitRuns waits until the Playbook has n run records and returns them.
func (c *liveCluster) waitRuns(t *testing.T, pb *ansiblev1alpha1.Playbook, n int, timeout time.Duration) []ansiblev1alpha1.RunRecord {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("%d runs of Playbook %s/%s recorded", n, pb.Namespace, pb.Name), timeout, func() (bool, string) {
		if err := c.client.Get(context.Background(), client.ObjectKeyFromObject(pb), pb); err != nil {
			return false, err.Error()
		}
		return len(pb.Status.Runs) >= n, fmt.Sprintf("runs %+v, conditions %+v", pb.Status.Runs, pb.Status.Conditions)
	})
	return pb.Status.Runs
}

// runJobs are the Jobs the operator made for an owner.
func (c *liveCluster) runJobs(t *testing.T, ns string) []batchv1.Job {
	t.Helper()
	var list batchv1.JobList
	if err := c.client.List(context.Background(), &list, client.InNamespace(ns), client.MatchingLabels{jobs.ManagedByLabel: jobs.ManagedByValue}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// runPod is the pod of a Job.
func (c *liveCluster) runPod(t *testing.T, ns, job string) corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := c.client.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{"batch.kubernetes.io/job-name": job}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) == 0 {
		t.Fatalf("Job %s/%s has no pod", ns, job)
	}
	return pods.Items[0]
}

// events counts the events.k8s.io Events of reason about the object named.
func (c *liveCluster) events(t *testing.T, ns, name, reason string) int {
	t.Helper()
	var list eventsv1.EventList
	if err := c.client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Reason == reason && e.Regarding.Name == name {
			n++
		}
	}
	return n
}

// runsCounted scrapes ansible_operator_job_runs_total of kind from each
// endpoint of the metrics Service (each replica, as Prometheus scrapes them
// through a ServiceMonitor) and returns the count of each replica's
// process, keyed by its incarnation (pod UID and container restarts): a
// restarted process starts from zero, and only the leader counts.
func (c *liveCluster) runsCounted(t *testing.T, kind string) map[string]float64 {
	t.Helper()
	var slices discoveryv1.EndpointSliceList
	if err := c.client.List(context.Background(), &slices, client.InNamespace(operatorNamespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: "ansible-playbook-operator-metrics"}); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, s := range slices.Items {
		var port int32
		for _, p := range s.Ports {
			if p.Name != nil && *p.Name == "http-metrics" && p.Port != nil {
				port = *p.Port
			}
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || !*ep.Conditions.Ready || ep.TargetRef == nil || len(ep.Addresses) == 0 {
				continue
			}
			pod := &corev1.Pod{}
			if err := c.client.Get(context.Background(), client.ObjectKey{Namespace: operatorNamespace, Name: ep.TargetRef.Name}, pod); err != nil || len(pod.Status.ContainerStatuses) == 0 {
				continue
			}
			key := fmt.Sprintf("%s/%d", pod.UID, pod.Status.ContainerStatuses[0].RestartCount)
			out[key] += 0
			for _, sample := range scrape(t, fmt.Sprintf("http://%s/metrics", net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(port)))))["ansible_operator_job_runs_total"] {
				if sample.Labels["kind"] == kind {
					out[key] += sample.Value
				}
			}
		}
	}
	return out
}

// countedSince is how many runs the replicas serving now counted since
// before: a process that was there before contributes what it added, a new
// one (a new pod, a restarted container) all it counted.
func countedSince(before, after map[string]float64) float64 {
	var n float64
	for k, v := range after {
		n += v - before[k]
	}
	return n
}

// leaderMetrics scrapes the replica that holds the leader Lease.
func (c *liveCluster) leaderMetrics(t *testing.T) map[string][]promtext.Sample {
	t.Helper()
	lease := &coordinationv1.Lease{}
	if err := c.client.Get(context.Background(), client.ObjectKey{Namespace: operatorNamespace, Name: "ansible-playbook-operator.ansible.cloud37.dev"}, lease); err != nil {
		t.Fatal(err)
	}
	holder := ptr.Deref(lease.Spec.HolderIdentity, "")
	for _, p := range c.operatorPods(t) {
		if strings.HasPrefix(holder, p.Name+"_") {
			return scrape(t, fmt.Sprintf("http://%s/metrics", net.JoinHostPort(p.Status.PodIP, "8080")))
		}
	}
	t.Fatalf("no operator pod holds the Lease (holder %q)", holder)
	return nil
}

// sampleValue is the value of the series with exactly labels (0 if none).
func sampleValue(samples []promtext.Sample, labels map[string]string) float64 {
	for _, s := range samples {
		match := len(s.Labels) == len(labels)
		for k, v := range labels {
			match = match && s.Labels[k] == v
		}
		if match {
			return s.Value
		}
	}
	return 0
}

// metricsThroughVIP scrapes the metrics Service's ClusterIP once: kube-proxy
// routes a Service VIP from the host.
func (c *liveCluster) metricsThroughVIP(t *testing.T) []promtext.Sample {
	t.Helper()
	url := c.scrapeService(t, operatorNamespace, "ansible-playbook-operator-metrics", "http-metrics")
	return scrape(t, url)["ansible_operator_job_runs_total"]
}

// hostCounts indexes a run's per-host counts by host.
func hostCounts(run ansiblev1alpha1.RunRecord) map[string]ansiblev1alpha1.RunCounts {
	out := map[string]ansiblev1alpha1.RunCounts{}
	for _, h := range run.Hosts {
		out[h.Host] = h.RunCounts
	}
	return out
}

func indentLines(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
