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

// Package kubelettest is a kubelet stand-in for tests on envtest (which has
// no kubelet and no Job controller): it takes a Job the operator created,
// materializes its volumes (emptyDirs, Secrets, ConfigMaps with their items
// and modes) under a temporary root, runs its init containers and its
// container's argv on the host with the container's environment, paths
// inside the pod mapped onto that root, and writes the real termination
// message and exit code into a Pod's status and the Job's status, the way
// kubelet and the Job controller would.
package kubelettest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Result is what the pod's main container did.
type Result struct {
	ExitCode           int
	TerminationMessage string
	Output             string
}

// Kubelet runs Jobs' pods on the host.
type Kubelet struct {
	Client client.Client
	// Binaries maps a container's command[0] (a path in the image) to an
	// executable on the host: the operator image's playbook-runner.
	Binaries map[string]string
	// ImageIDs maps an image to the imageID the pod status reports.
	ImageIDs map[string]string
}

// RunJob runs the Job's pod to completion and records the outcome.
func (k *Kubelet) RunJob(t testing.TB, job *batchv1.Job) Result {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	spec := job.Spec.Template.Spec
	mounts := map[string]string{} // volume name -> host dir
	for _, v := range spec.Volumes {
		dir := filepath.Join(root, "volumes", v.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := k.materialize(ctx, job.Namespace, v, dir); err != nil {
			t.Fatalf("kubelet: volume %s: %v", v.Name, err)
		}
		mounts[v.Name] = dir
	}
	hostPath := func(c corev1.Container) func(string) string {
		// Longest mount path first, so /a/b wins over /a.
		ms := append([]corev1.VolumeMount(nil), c.VolumeMounts...)
		sort.Slice(ms, func(i, j int) bool { return len(ms[i].MountPath) > len(ms[j].MountPath) })
		return func(s string) string {
			// Two passes through placeholders: the host root may itself lie
			// under a mount path such as /tmp.
			for i, m := range ms {
				if s == m.MountPath {
					return mounts[m.Name]
				}
				ph := fmt.Sprintf("\x00%d\x00", i)
				// A path argument, or a path string in the JSON run spec (only
				// at the start of a value: a repository URL may contain /tmp).
				if rest, ok := strings.CutPrefix(s, m.MountPath+"/"); ok {
					s = ph + "/" + rest
				}
				s = strings.ReplaceAll(s, `"`+m.MountPath+"/", `"`+ph+"/")
				s = strings.ReplaceAll(s, `"`+m.MountPath+`"`, `"`+ph+`"`)
			}
			for i, m := range ms {
				s = strings.ReplaceAll(s, fmt.Sprintf("\x00%d\x00", i), mounts[m.Name])
			}
			return s
		}
	}
	for _, c := range spec.InitContainers {
		if res := k.run(t, ctx, job.Namespace, c, hostPath(c), root); res.ExitCode != 0 {
			t.Fatalf("kubelet: init container %s exited %d: %s", c.Name, res.ExitCode, res.Output)
		}
	}
	main := spec.Containers[0]
	res := k.run(t, ctx, job.Namespace, main, hostPath(main), root)
	k.record(t, ctx, job, main, res)
	return res
}

// materialize writes a Secret or ConfigMap volume the way kubelet projects it.
func (k *Kubelet) materialize(ctx context.Context, ns string, v corev1.Volume, dir string) error {
	var data map[string][]byte
	var items []corev1.KeyToPath
	mode := int32(0o644)
	switch {
	case v.Secret != nil:
		s := &corev1.Secret{}
		if err := k.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: v.Secret.SecretName}, s); err != nil {
			return err
		}
		data, items = s.Data, v.Secret.Items
		if v.Secret.DefaultMode != nil {
			mode = *v.Secret.DefaultMode
		}
	case v.ConfigMap != nil:
		cm := &corev1.ConfigMap{}
		if err := k.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: v.ConfigMap.Name}, cm); err != nil {
			return err
		}
		data = map[string][]byte{}
		for key, val := range cm.Data {
			data[key] = []byte(val)
		}
		items = v.ConfigMap.Items
		if v.ConfigMap.DefaultMode != nil {
			mode = *v.ConfigMap.DefaultMode
		}
	default:
		return nil // emptyDir, PVC: an empty directory
	}
	if len(items) == 0 {
		for key := range data {
			items = append(items, corev1.KeyToPath{Key: key, Path: key})
		}
	}
	for _, it := range items {
		m := mode
		if it.Mode != nil {
			m = *it.Mode
		}
		p := filepath.Join(dir, it.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data[it.Key], os.FileMode(m)); err != nil {
			return err
		}
	}
	return nil
}

// run executes one container's argv on the host.
func (k *Kubelet) run(t testing.TB, ctx context.Context, ns string, c corev1.Container, hostPath func(string) string, root string) Result {
	t.Helper()
	argv := make([]string, 0, len(c.Command)+len(c.Args))
	for _, a := range append(append([]string{}, c.Command...), c.Args...) {
		argv = append(argv, hostPath(a))
	}
	if bin, ok := k.Binaries[c.Command[0]]; ok {
		argv[0] = bin
	}
	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, e := range c.Env {
		val := e.Value
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			s := &corev1.Secret{}
			if err := k.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: e.ValueFrom.SecretKeyRef.Name}, s); err != nil {
				t.Fatalf("kubelet: env %s: %v", e.Name, err)
			}
			val = string(s.Data[e.ValueFrom.SecretKeyRef.Key])
		}
		env = append(env, e.Name+"="+hostPath(val))
	}
	termLog := filepath.Join(root, "termination-"+c.Name)
	env = append(env, "PLAYBOOK_RUNNER_TERMINATION_LOG="+termLog, "PLAYBOOK_RUNNER_WORKSPACE="+hostPath("/workspace"))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	res := Result{Output: string(out)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	case err != nil:
		t.Fatalf("kubelet: container %s: %v", c.Name, err)
	}
	if b, err := os.ReadFile(termLog); err == nil {
		res.TerminationMessage = string(b)
	}
	return res
}

// record writes the Pod and the Job status as kubelet and the Job controller would.
func (k *Kubelet) record(t testing.TB, ctx context.Context, job *batchv1.Job, c corev1.Container, res Result) {
	t.Helper()
	labels := map[string]string{"batch.kubernetes.io/job-name": job.Name}
	for key, v := range job.Spec.Template.Labels {
		labels[key] = v
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-x", Namespace: job.Namespace, Labels: labels},
		Spec: *job.Spec.Template.Spec.DeepCopy()}
	if err := k.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	phase := corev1.PodSucceeded
	if res.ExitCode != 0 {
		phase = corev1.PodFailed
	}
	pod.Status = corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{
		Name: c.Name, Image: c.Image, ImageID: k.ImageIDs[c.Image],
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: int32(res.ExitCode), Message: res.TerminationMessage}},
	}}}
	if err := k.Client.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if err := k.Client.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	start := metav1.NewTime(now.Add(-time.Second))
	job.Status.StartTime = &start
	if res.ExitCode == 0 {
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "CompletionsReached"},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "CompletionsReached"},
		}
		job.Status.CompletionTime, job.Status.Succeeded = &now, 1
	} else {
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "BackoffLimitExceeded"},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "BackoffLimitExceeded",
				Message: fmt.Sprintf("container exited with %d", res.ExitCode)},
		}
		job.Status.Failed = 1
	}
	if err := k.Client.Status().Update(ctx, job); err != nil {
		t.Fatal(err)
	}
}
