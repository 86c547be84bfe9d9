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
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// at is t0 plus minutes.
func at(minutes int) metav1.Time { return metav1.NewTime(t0.Add(time.Duration(minutes) * time.Minute)) }

type jobOpt func(*batchv1.Job)

// finished completes the Job at minute m.
func finished(m int) jobOpt {
	return func(j *batchv1.Job) {
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: at(m)}}
		c := at(m)
		j.Status.CompletionTime = &c
	}
}

func marked(j *batchv1.Job) { j.Annotations[jobs.RecordedAnnotation] = "true" }

// legacy is a Job an older operator made: no finalizer in its template.
func legacy(j *batchv1.Job) { j.Spec.Template.Finalizers = nil }

func uid(u string) jobOpt { return func(j *batchv1.Job) { j.Labels[jobs.OwnerUIDLabel] = u } }

func testJob(name string, opts ...jobOpt) batchv1.Job {
	j := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{jobs.OwnerUIDLabel: "owner"},
		Annotations: map[string]string{ansiblev1alpha1.RunIDAnnotation: name}}}
	j.Spec.Template.Finalizers = []string{jobs.RunRecordFinalizer}
	for _, o := range opts {
		o(&j)
	}
	return j
}

// testPod is a pod of job in phase, holding the finalizer or not.
func testPod(job string, created int, phase corev1.PodPhase, holding bool) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", job, created), CreationTimestamp: at(created),
		Labels: map[string]string{batchv1.JobNameLabel: job, jobs.OwnerUIDLabel: "owner"}}, Status: corev1.PodStatus{Phase: phase}}
	if holding {
		p.Finalizers = []string{jobs.RunRecordFinalizer}
	}
	if phase == corev1.PodSucceeded || phase == corev1.PodFailed {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: jobs.ExecutorContainerName,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: at(created + 1), Reason: "Error"}}}}
	}
	return p
}

// fullRuns is a full status.runs of scheduled runs finished at minutes
// from..from+maxRuns-1, in the given order of an older operator (oldest
// first).
func fullRuns(from int) []ansiblev1alpha1.RunRecord {
	var out []ansiblev1alpha1.RunRecord
	for i := range maxRuns {
		c := at(from + i)
		out = append(out, ansiblev1alpha1.RunRecord{RunID: fmt.Sprintf("old-%d", i), JobName: fmt.Sprintf("old-%d", i), CompletionTime: &c, Result: ansiblev1alpha1.RunSucceeded})
	}
	return out
}

func TestRunSet_record(t *testing.T) {
	cases := map[string]struct {
		jobs []batchv1.Job
		pods []corev1.Pod
		runs []ansiblev1alpha1.RunRecord
		// added, marked and released name the run records (job names),
		// Jobs and pods that record must return.
		added, marked, released []string
	}{
		"a finished Job is recorded and marked, and its pods released": {
			jobs:  []batchv1.Job{testJob("a", finished(5))},
			pods:  []corev1.Pod{testPod("a", 1, corev1.PodFailed, true), testPod("a", 2, corev1.PodSucceeded, true)},
			added: []string{"a"}, marked: []string{"a"}, released: []string{"a-1", "a-2"},
		},
		"a running Job waits, its pods keep the finalizer": {
			jobs: []batchv1.Job{testJob("a")},
			pods: []corev1.Pod{testPod("a", 1, corev1.PodRunning, true)},
		},
		"a marked Job is not recorded again": {
			jobs: []batchv1.Job{testJob("a", finished(5), marked)},
			pods: []corev1.Pod{testPod("a", 1, corev1.PodSucceeded, false)},
		},
		"a Job in status.runs whose mark failed is only marked and released": {
			jobs:   []batchv1.Job{testJob("old-3", finished(3))},
			pods:   []corev1.Pod{testPod("old-3", 1, corev1.PodSucceeded, true)},
			runs:   fullRuns(0),
			marked: []string{"old-3"}, released: []string{"old-3-1"},
		},
		"a Job that finished before every run of a full list is still recorded": {
			jobs:  []batchv1.Job{testJob("late", finished(1))},
			runs:  fullRuns(10),
			added: []string{"late"}, marked: []string{"late"},
		},
		"an older operator's Job older than a full list was recorded and trimmed": {
			jobs:   []batchv1.Job{testJob("trimmed", finished(1), legacy)},
			runs:   fullRuns(10),
			marked: []string{"trimmed"},
		},
		"an older operator's Job newer than the oldest run is recorded": {
			jobs:  []batchv1.Job{testJob("newer", finished(15), legacy)},
			runs:  fullRuns(10),
			added: []string{"newer"}, marked: []string{"newer"},
		},
		"the pods of a deleted Job are recorded once all are done": {
			pods:     []corev1.Pod{testPod("gone", 1, corev1.PodSucceeded, true), testPod("gone", 3, corev1.PodFailed, true)},
			added:    []string{"gone"},
			released: []string{"gone-1", "gone-3"},
		},
		"the pods of a deleted Job wait while one runs": {
			pods: []corev1.Pod{testPod("gone", 1, corev1.PodFailed, true), testPod("gone", 3, corev1.PodRunning, true)},
		},
		"a deleted Job's run already in status is only released": {
			pods:     []corev1.Pod{testPod("old-2", 1, corev1.PodSucceeded, true)},
			runs:     fullRuns(0),
			released: []string{"old-2-1"},
		},
		"runs of an earlier owner of the same name are released, not recorded": {
			jobs: []batchv1.Job{testJob("before", finished(5), uid("earlier"))},
			pods: func() []corev1.Pod {
				a, b := testPod("before", 1, corev1.PodSucceeded, true), testPod("gone", 1, corev1.PodSucceeded, true)
				b.Labels[jobs.OwnerUIDLabel] = "earlier"
				return []corev1.Pod{a, b}
			}(),
			released: []string{"before-1", "gone-1"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rs := runSet{jobs: tc.jobs, pods: map[string][]corev1.Pod{}}
			for _, p := range tc.pods {
				rs.pods[p.Labels[batchv1.JobNameLabel]] = append(rs.pods[p.Labels[batchv1.JobNameLabel]], p)
			}
			u := rs.record(tc.runs, "owner")
			var added, marked, released []string
			for _, r := range u.added {
				added = append(added, r.JobName)
			}
			for _, j := range u.mark {
				marked = append(marked, j.Name)
			}
			for _, p := range u.release {
				released = append(released, p.Name)
			}
			for what, d := range map[string]string{
				"added":    cmp.Diff(tc.added, added),
				"marked":   cmp.Diff(tc.marked, marked),
				"released": cmp.Diff(tc.released, released),
			} {
				if d != "" {
					t.Errorf("%s (-want +got):\n%s", what, d)
				}
			}
		})
	}
}

func TestRunRecordFromPods(t *testing.T) {
	pods := []corev1.Pod{testPod("gone", 1, corev1.PodSucceeded, true), testPod("gone", 3, corev1.PodFailed, true)}
	rec, done := runRecordFromPods("gone", pods)
	if !done || rec.Result != ansiblev1alpha1.RunSucceeded || rec.CompletionTime == nil || !rec.CompletionTime.Equal(ptrTime(at(2))) {
		t.Errorf("record = %+v, done %v: want the succeeded pod's outcome, finished at minute 2", rec, done)
	}
	rec, _ = runRecordFromPods("gone", pods[1:])
	if rec.Result != ansiblev1alpha1.RunFailed || rec.Reason != "Error" || rec.RunID != "gone" {
		t.Errorf("record = %+v: want Failed with the container's reason, run id the Job name", rec)
	}
}

func ptrTime(t metav1.Time) *metav1.Time { return &t }

func TestMergeRuns(t *testing.T) {
	old := fullRuns(0) // oldest first, as an older operator kept them
	c := at(30)
	added := []ansiblev1alpha1.RunRecord{{RunID: "new", JobName: "new", CompletionTime: &c}}
	got := mergeRuns(old, added)
	var names []string
	for _, r := range got {
		names = append(names, r.JobName)
	}
	want := []string{"new", "old-9", "old-8", "old-7", "old-6", "old-5", "old-4", "old-3", "old-2", "old-1"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("runs (-want +got):\n%s", d)
	}
	if got := mergeRuns(got, nil); len(got) != maxRuns || got[0].JobName != "new" {
		t.Errorf("merging nothing changed the runs: %v", got)
	}
}
