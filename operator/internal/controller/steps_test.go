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

// Tests of the steps, the summarizer, the policies and the run tracker
// that call them directly against controller-runtime's fake client: they
// run without an API server (go test -short), as Flux tests its steps.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/opconfig"
)

const (
	testNS     = "apps"
	testCommit = "0123456789abcdef0123456789abcdef01234567"
)

var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// fakeClient is a fake client holding objs, with the status subresource
// of the three kinds; writes counts its write requests.
func fakeClient(writes *atomic.Int64, objs ...client.Object) client.WithWatch {
	b := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithStatusSubresource(&ansiblev1alpha1.Repository{}, &ansiblev1alpha1.Playbook{}, &ansiblev1alpha1.Schedule{})
	c := b.Build()
	if writes == nil {
		return c
	}
	return countWrites(c, writes)
}

// Functional options for test objects (STYLE 35).
type repoOpt func(*ansiblev1alpha1.Repository)

func newRepo(opts ...repoOpt) *ansiblev1alpha1.Repository {
	r := &ansiblev1alpha1.Repository{
		ObjectMeta: metav1.ObjectMeta{Name: "infra", Namespace: testNS, Generation: 1},
		Spec:       ansiblev1alpha1.RepositorySpec{URL: "https://git.example.com/infra.git"},
		Status:     ansiblev1alpha1.RepositoryStatus{ObservedGeneration: -1},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// resolved is a Repository whose reconcile completed: Ready at testCommit.
func resolved(r *ansiblev1alpha1.Repository) {
	r.Status.ObservedGeneration = r.Generation
	r.Status.ResolvedRevision = testCommit
	t := metav1.NewTime(testNow)
	r.Status.LastSyncTime = &t
	setCondition(r, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, "resolved branch main to "+testCommit)
}

func withAuth(method ansiblev1alpha1.AuthMethod, secret string) repoOpt {
	return func(r *ansiblev1alpha1.Repository) {
		r.Spec.Auth = &ansiblev1alpha1.RepositoryAuth{Method: method, SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: secret}}
	}
}

type pbOpt func(*ansiblev1alpha1.Playbook)

func newPlaybook(opts ...pbOpt) *ansiblev1alpha1.Playbook {
	pb := &ansiblev1alpha1.Playbook{
		ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: testNS, Generation: 1, UID: "pb-uid"},
		Spec:       ansiblev1alpha1.PlaybookSpec{RepositoryRef: ansiblev1alpha1.ObjectReference{Name: "infra"}, PlaybookPath: "site.yml"},
		Status:     ansiblev1alpha1.PlaybookStatus{ObservedGeneration: -1},
	}
	for _, o := range opts {
		o(pb)
	}
	return pb
}

func runNow(id string) func(client.Object) {
	return func(o client.Object) { o.SetAnnotations(map[string]string{ansiblev1alpha1.RunNowAnnotation: id}) }
}

func newSchedule() *ansiblev1alpha1.Schedule {
	return &ansiblev1alpha1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: testNS, Generation: 1, UID: "s-uid"},
		Spec:       ansiblev1alpha1.ScheduleSpec{PlaybookRef: ansiblev1alpha1.ObjectReference{Name: "site"}, Schedule: "@daily-random"},
		Status:     ansiblev1alpha1.ScheduleStatus{ObservedGeneration: -1},
	}
}

// readyPlaybook is a Playbook whose reconcile completed.
func readyPlaybook(pb *ansiblev1alpha1.Playbook) {
	pb.Status.ObservedGeneration = pb.Generation
	setCondition(pb, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, "ready")
}

// conds are an object's conditions as type=status/reason, for comparison.
func conds(obj conditioned) []string {
	var out []string
	for _, c := range obj.GetConditions() {
		out = append(out, fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason))
	}
	return out
}

func sortedConds(obj conditioned) []string {
	out := conds(obj)
	return cmpSorted(out)
}

func cmpSorted(s []string) []string {
	cp := append([]string(nil), s...)
	for i := range cp {
		for j := i + 1; j < len(cp); j++ {
			if cp[j] < cp[i] {
				cp[i], cp[j] = cp[j], cp[i]
			}
		}
	}
	return cp
}

func TestSummarize(t *testing.T) {
	cause := errors.New("connection refused")
	tests := map[string]struct {
		err      error
		progress string
		// want are the conditions after, sorted; wantOG the observedGeneration.
		want        []string
		wantOG      int64
		wantRequeue time.Duration
		// wantErr: the returned error; terminal: it is a TerminalError.
		wantErr, terminal bool
	}{
		"success sets Ready and bumps observedGeneration": {
			want: []string{"Ready=True/Validated"}, wantOG: 3, wantRequeue: time.Minute,
		},
		"a stalled result stalls and is terminal": {
			err:  stalled(ansiblev1alpha1.InvalidSpecReason, "bad"),
			want: []string{"Ready=False/InvalidSpec", "Stalled=True/InvalidSpec"}, wantOG: 3, wantErr: true, terminal: true,
		},
		"a waiting result requeues without an error": {
			err:  waiting(ansiblev1alpha1.SecretNotFoundReason, "no secret", 30*time.Second),
			want: []string{"Ready=False/SecretNotFound"}, wantOG: 3, wantRequeue: 30 * time.Second,
		},
		"a transient result returns its error for backoff": {
			err:  transient(ansiblev1alpha1.GitOperationFailedReason, "unreachable", cause),
			want: []string{"Ready=False/GitOperationFailed"}, wantOG: 3, wantErr: true,
		},
		"a pending result leaves the status alone": {
			err:    pendingOn(ansiblev1alpha1.RepoNotReadyReason, "being reconciled"),
			wantOG: -1,
		},
		"an unclassified error leaves the status alone": {
			err: cause, wantOG: -1, wantErr: true,
		},
		"a manual run in progress sets Reconciling": {
			progress: "manual run r1 is running",
			want:     []string{"Ready=True/Validated", "Reconciling=True/Progressing"}, wantOG: 3, wantRequeue: time.Minute,
		},
		"Stalled removes Reconciling": {
			err: stalled(ansiblev1alpha1.InvalidSpecReason, "bad"), progress: "manual run r1 is running",
			want: []string{"Ready=False/InvalidSpec", "Stalled=True/InvalidSpec"}, wantOG: 3, wantErr: true, terminal: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pb := newPlaybook()
			pb.Generation = 3
			w := &work{progress: tc.progress, requeueAfter: time.Minute}
			w.ready(ansiblev1alpha1.ValidatedReason, "ok")
			res, err := summarize(pb, nil, w, tc.err)
			if diff := cmp.Diff(tc.want, sortedConds(pb), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if pb.Status.ObservedGeneration != tc.wantOG {
				t.Errorf("observedGeneration = %d, want %d", pb.Status.ObservedGeneration, tc.wantOG)
			}
			if (err != nil) != tc.wantErr || errors.Is(err, reconcile.TerminalError(nil)) != tc.terminal {
				t.Errorf("error = %v, want error %v (terminal %v)", err, tc.wantErr, tc.terminal)
			}
			if res.RequeueAfter != tc.wantRequeue {
				t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, tc.wantRequeue)
			}
			for _, c := range pb.Status.Conditions {
				if c.ObservedGeneration != 3 {
					t.Errorf("condition %s has observedGeneration %d, want 3", c.Type, c.ObservedGeneration)
				}
			}
		})
	}
}

func TestRunSteps_stopsAtTheFirstResult(t *testing.T) {
	var ran []string
	mk := func(name string, err error) step[*ansiblev1alpha1.Playbook] {
		return func(context.Context, *ansiblev1alpha1.Playbook, *work) error {
			ran = append(ran, name)
			return err
		}
	}
	pb := newPlaybook()
	err := runSteps(context.Background(), pb, &work{}, []step[*ansiblev1alpha1.Playbook]{mk("a", nil), mk("b", errUpToDate), mk("c", nil)})
	if err != nil || strings.Join(ran, "") != "ab" {
		t.Errorf("errUpToDate: ran %v, err %v; want a, b and nil", ran, err)
	}
	ran = nil
	w := waiting("X", "y", 0)
	if err := runSteps(context.Background(), pb, &work{}, []step[*ansiblev1alpha1.Playbook]{mk("a", w), mk("b", nil)}); err != w || strings.Join(ran, "") != "a" {
		t.Errorf("a result: ran %v, err %v; want a and the result", ran, err)
	}
}

func TestPolicies(t *testing.T) {
	pinned := opconfig.Default()
	pinned.RequirePinnedExecutor = true
	tests := map[string]struct {
		violation func() (string, string, bool)
		// wantReason is empty when no policy is violated.
		wantReason, wantIn string
	}{
		"a valid URL passes": {
			violation: func() (string, string, bool) { return validURL(newRepo(), &work{}) },
		},
		"an invalid URL stalls naming spec.url": {
			violation: func() (string, string, bool) {
				return validURL(newRepo(func(r *ansiblev1alpha1.Repository) { r.Spec.URL = "ftp://x/y" }), &work{})
			},
			wantReason: ansiblev1alpha1.InvalidSpecReason, wantIn: "spec.url",
		},
		"a repositoryRef in another namespace stalls": {
			violation: func() (string, string, bool) {
				return repositoryInNamespace(newPlaybook(func(pb *ansiblev1alpha1.Playbook) { pb.Spec.RepositoryRef.Namespace = "other" }), &work{})
			},
			wantReason: ansiblev1alpha1.InvalidSpecReason, wantIn: "references across namespaces",
		},
		"a repositoryRef in the own namespace passes": {
			violation: func() (string, string, bool) {
				return repositoryInNamespace(newPlaybook(func(pb *ansiblev1alpha1.Playbook) { pb.Spec.RepositoryRef.Namespace = testNS }), &work{})
			},
		},
		"an unpinned executor under requirePinnedExecutor stalls": {
			violation:  func() (string, string, bool) { return executorPinned(newPlaybook(), &work{cfg: pinned}) },
			wantReason: ansiblev1alpha1.ExecutorNotPinnedReason, wantIn: "pin-images pin -w",
		},
		"a pinned executor passes": {
			violation: func() (string, string, bool) {
				return executorPinned(newPlaybook(func(pb *ansiblev1alpha1.Playbook) {
					pb.Spec.Runtime = &ansiblev1alpha1.PlaybookRuntime{Image: "r/x:1@sha256:" + strings.Repeat("a", 64)}
				}), &work{cfg: pinned})
			},
		},
		"an invalid computed schedule stalls naming spec.schedule": {
			violation: func() (string, string, bool) {
				return validSchedule(newSchedule(), &work{computed: "61 * * * *"})
			},
			wantReason: ansiblev1alpha1.InvalidSpecReason, wantIn: "spec.schedule",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reason, msg, violated := tc.violation()
			if violated != (tc.wantReason != "") || reason != tc.wantReason || !strings.Contains(msg, tc.wantIn) {
				t.Errorf("got (%q, %q, %v), want reason %q with %q", reason, msg, violated, tc.wantReason, tc.wantIn)
			}
		})
	}
	// The chain returns the first violation, as a stalled result.
	s := newSchedule()
	s.Spec.PlaybookRef.Namespace = "other"
	var r *result
	if err := schedulePolicies.evaluate(s, &work{computed: "bad"}); !errors.As(err, &r) || r.kind != stalledResult || !strings.Contains(r.message, "spec.playbookRef") {
		t.Errorf("chain = %v, want the namespace violation first, stalled", err)
	}
}

func TestDependencyReady(t *testing.T) {
	failed := func(r *ansiblev1alpha1.Repository) {
		setCondition(r, ansiblev1alpha1.ReadyCondition, metav1.ConditionFalse, ansiblev1alpha1.BranchNotFoundReason, "no branch")
	}
	newGeneration := func(r *ansiblev1alpha1.Repository) { r.Generation = 2 }
	tests := map[string]struct {
		repo *ansiblev1alpha1.Repository
		// want is "pending", "waiting" or "" (no result).
		want string
	}{
		"a new Repository is pending":                        {repo: newRepo(), want: "pending"},
		"a Repository resolving a new generation is pending": {repo: newRepo(resolved, newGeneration), want: "pending"},
		"a Ready Repository passes":                          {repo: newRepo(resolved)},
		"a Repository that failed is waited for":             {repo: newRepo(resolved, failed), want: "waiting"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := dependencyReady(ansiblev1alpha1.RepoNotReadyReason, ansiblev1alpha1.RepositoryKind, tc.repo)
			got := ""
			var r *result
			switch {
			case errors.As(err, &r) && r.pending:
				got = "pending"
			case r != nil && r.kind == waitingResult:
				got = "waiting"
			case err != nil:
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("dependencyReady = %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

// gitStub answers the Repository reconciler's git seams.
type gitStub struct {
	commit string
	err    error
	calls  int
}

func (g *gitStub) reconciler(c client.Client, rec events.EventRecorder) *RepositoryReconciler {
	return &RepositoryReconciler{
		Client: c, APIReader: c, Recorder: rec, Clock: clocktesting.NewFakePassiveClock(testNow),
		ResolveBranch: func(context.Context, string, string, git.Auth) (string, error) {
			g.calls++
			return g.commit, g.err
		},
		LsRemote: func(context.Context, string, git.Auth) ([]git.Ref, error) { g.calls++; return nil, g.err },
		ResolveRevision: func(context.Context, string, string, git.Auth) (string, error) {
			g.calls++
			return g.commit, g.err
		},
	}
}

func reconcileOnce(t *testing.T, r reconcile.Reconciler, c client.Client, obj client.Object) (reconcile.Result, error) {
	t.Helper()
	res, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
	if gerr := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); gerr != nil {
		t.Fatal(gerr)
	}
	return res, err
}

func TestRepositoryReconciler_steps(t *testing.T) {
	secret := func(data map[string]string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: testNS}, Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
	tests := map[string]struct {
		repo   *ansiblev1alpha1.Repository
		objs   []client.Object
		git    gitStub
		want   []string
		wantIn string
		// wantRequeue is the RequeueAfter; wantErr an error; terminal a TerminalError.
		wantRequeue       time.Duration
		wantErr, terminal bool
		// wantGitCalls is how many times git was asked.
		wantGitCalls int
	}{
		"a resolved branch is Ready until the interval": {
			repo: newRepo(), git: gitStub{commit: testCommit},
			want:        []string{"AuthValid=True/Validated", "CloneReady=True/Validated", "Ready=True/Validated"},
			wantIn:      "resolved branch main to " + testCommit,
			wantRequeue: 5 * time.Minute, wantGitCalls: 1,
		},
		"an invalid URL stalls before any git access": {
			repo: newRepo(func(r *ansiblev1alpha1.Repository) { r.Spec.URL = "ftp://x/y" }),
			want: []string{"Ready=False/InvalidSpec", "Stalled=True/InvalidSpec"}, wantIn: "spec.url", wantErr: true, terminal: true,
		},
		"a missing Secret waits and re-checks": {
			repo: newRepo(withAuth(ansiblev1alpha1.AuthMethodToken, "creds")),
			want: []string{"AuthValid=False/SecretNotFound", "Ready=False/SecretNotFound"}, wantIn: "does not exist", wantRequeue: missingDependencyRetry,
		},
		"a Secret without the method's key is invalid": {
			repo: newRepo(withAuth(ansiblev1alpha1.AuthMethodSSH, "creds")), objs: []client.Object{secret(map[string]string{"token": "t0ken"})},
			want: []string{"AuthValid=False/InvalidSecret", "Ready=False/InvalidSecret"}, wantIn: "has no key ssh-privatekey, which auth.method ssh needs", wantRequeue: missingDependencyRetry,
		},
		"a token Secret is used": {
			repo: newRepo(withAuth(ansiblev1alpha1.AuthMethodToken, "creds")), objs: []client.Object{secret(map[string]string{"token": "t0ken"})},
			git:  gitStub{commit: testCommit},
			want: []string{"AuthValid=True/Validated", "CloneReady=True/Validated", "Ready=True/Validated"}, wantRequeue: 5 * time.Minute, wantGitCalls: 1,
		},
		"refused credentials wait for the next interval": {
			repo: newRepo(), git: gitStub{err: &git.Error{Reason: git.AuthFailed, Message: "authentication required"}},
			want:        []string{"AuthValid=False/AuthenticationFailed", "CloneReady=Unknown/AuthenticationFailed", "Ready=False/AuthenticationFailed"},
			wantRequeue: 5 * time.Minute, wantGitCalls: 1,
		},
		"a missing branch says the server answered": {
			repo: newRepo(), git: gitStub{err: &git.Error{Reason: git.BranchNotFound, Message: "branch not found"}},
			want:        []string{"AuthValid=True/Validated", "CloneReady=False/BranchNotFound", "Ready=False/BranchNotFound"},
			wantRequeue: 5 * time.Minute, wantGitCalls: 1,
		},
		"an unreachable server is transient": {
			repo: newRepo(), git: gitStub{err: &git.Error{Reason: git.Unreachable, Message: "failed to reach https://git.example.com"}},
			want:    []string{"AuthValid=Unknown/GitOperationFailed", "CloneReady=False/GitOperationFailed", "Ready=False/GitOperationFailed"},
			wantErr: true, wantGitCalls: 1,
		},
		"an invalid revision stalls": {
			repo: newRepo(func(r *ansiblev1alpha1.Repository) { r.Spec.Revision = "abcdef1" }), git: gitStub{err: &git.Error{Reason: git.InvalidRevision, Message: "sha-256"}},
			want:    []string{"AuthValid=True/Validated", "CloneReady=False/InvalidSpec", "Ready=False/InvalidSpec", "Stalled=True/InvalidSpec"},
			wantErr: true, terminal: true, wantGitCalls: 1,
		},
		"within the interval nothing is asked": {
			repo: newRepo(resolved), git: gitStub{err: errors.New("must not be called")},
			want: []string{"Ready=True/Validated"}, wantRequeue: 5 * time.Minute,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := fakeClient(nil, append(tc.objs, tc.repo)...)
			rec := events.NewFakeRecorder(10)
			res, err := reconcileOnce(t, tc.git.reconciler(c, rec), c, tc.repo)
			if diff := cmp.Diff(tc.want, sortedConds(tc.repo)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			ready := condition(tc.repo, ansiblev1alpha1.ReadyCondition)
			if !strings.Contains(ready.Message, tc.wantIn) {
				t.Errorf("Ready message %q, want %q in it", ready.Message, tc.wantIn)
			}
			if (err != nil) != tc.wantErr || errors.Is(err, reconcile.TerminalError(nil)) != tc.terminal {
				t.Errorf("error = %v, want error %v (terminal %v)", err, tc.wantErr, tc.terminal)
			}
			if res.RequeueAfter != tc.wantRequeue {
				t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, tc.wantRequeue)
			}
			if tc.git.calls != tc.wantGitCalls {
				t.Errorf("git asked %d times, want %d", tc.git.calls, tc.wantGitCalls)
			}
			if tc.repo.Status.ObservedGeneration != tc.repo.Generation {
				t.Errorf("observedGeneration %d, want %d", tc.repo.Status.ObservedGeneration, tc.repo.Generation)
			}
		})
	}
}

// TestRepositoryReconciler_eventsAndNoOp: a new Repository's first Ready
// is no event (its status says so); a failure is a Warning with the
// condition's reason, the recovery a Normal event, each once, and a
// reconcile with nothing new writes nothing.
func TestRepositoryReconciler_eventsAndNoOp(t *testing.T) {
	all := func(rec *events.FakeRecorder) []string {
		var out []string
		for {
			select {
			case e := <-rec.Events:
				out = append(out, e)
			default:
				return out
			}
		}
	}
	t.Run("a new Repository that resolves is not announced", func(t *testing.T) {
		var writes atomic.Int64
		repo := newRepo()
		c := fakeClient(&writes, repo)
		rec := events.NewFakeRecorder(10)
		r := (&gitStub{commit: testCommit}).reconciler(c, rec)
		if _, err := reconcileOnce(t, r, c, repo); err != nil {
			t.Fatal(err)
		}
		if n := writes.Load(); n != 1 {
			t.Errorf("first reconcile made %d writes, want 1 (the status)", n)
		}
		if !meta.IsStatusConditionTrue(repo.Status.Conditions, ansiblev1alpha1.ReadyCondition) {
			t.Fatalf("Ready not True: %+v", repo.Status.Conditions)
		}
		if got := all(rec); len(got) != 0 {
			t.Errorf("events %q for a new Repository's first Ready, want none", got)
		}
	})
	t.Run("a failure and the recovery are announced once each", func(t *testing.T) {
		var writes atomic.Int64
		repo := newRepo()
		c := fakeClient(&writes, repo)
		rec := events.NewFakeRecorder(10)
		g := &gitStub{err: &git.Error{Reason: git.BranchNotFound, Message: `branch "main" not found`}}
		r := g.reconciler(c, rec)
		if _, err := reconcileOnce(t, r, c, repo); err != nil {
			t.Fatal(err)
		}
		if got := all(rec); len(got) != 1 || !strings.HasPrefix(got[0], "Warning "+ansiblev1alpha1.BranchNotFoundReason+" ") {
			t.Errorf("events %q, want one Warning %s", got, ansiblev1alpha1.BranchNotFoundReason)
		}
		if _, err := reconcileOnce(t, r, c, repo); err != nil {
			t.Fatal(err)
		}
		if got := all(rec); len(got) != 0 {
			t.Errorf("events %q when the failure stays the same, want none", got)
		}
		g.err, g.commit = nil, testCommit
		if _, err := reconcileOnce(t, r, c, repo); err != nil {
			t.Fatal(err)
		}
		if got := all(rec); len(got) != 1 || !strings.HasPrefix(got[0], "Normal "+ansiblev1alpha1.ValidatedReason+" ") {
			t.Errorf("events %q after the recovery, want one Normal %s", got, ansiblev1alpha1.ValidatedReason)
		}
		writes.Store(0)
		calls := g.calls
		if _, err := reconcileOnce(t, r, c, repo); err != nil {
			t.Fatal(err)
		}
		if n := writes.Load(); n != 0 || g.calls != calls {
			t.Errorf("a reconcile within the interval made %d writes and %d git calls, want none", n, g.calls-calls)
		}
		if got := all(rec); len(got) != 0 {
			t.Errorf("events %q on a no-op, want none", got)
		}
	})
}

// playbookReconciler is a Playbook reconciler on c with a path checker
// reporting missing (or failing with pathErr).
func playbookReconciler(c client.Client, rec events.EventRecorder, missing []string, pathErr error) *PlaybookReconciler {
	return &PlaybookReconciler{
		Client: c, APIReader: c, Recorder: rec, Env: Environment{OperatorImage: testOperatorImage},
		CheckPaths: func(context.Context, string, string, git.Auth, string, []string) ([]string, error) {
			return missing, pathErr
		},
	}
}

func TestPlaybookReconciler_steps(t *testing.T) {
	sa := func(pb *ansiblev1alpha1.Playbook) {
		pb.Spec.Runtime = &ansiblev1alpha1.PlaybookRuntime{ServiceAccountName: "runner"}
	}
	pvc := func(r *ansiblev1alpha1.Repository) {
		r.Spec.Cache = &ansiblev1alpha1.RepositoryCache{Strategy: ansiblev1alpha1.CacheStrategyPVC, PVCName: "cache"}
	}
	tests := map[string]struct {
		pb       *ansiblev1alpha1.Playbook
		repo     *ansiblev1alpha1.Repository // nil: none
		objs     []client.Object
		missing  []string
		pathErr  error
		want     []string
		wantOG   int64
		wantIn   string
		requeue  time.Duration
		terminal bool
	}{
		"a Ready Repository and present paths make the Playbook Ready": {
			pb: newPlaybook(), repo: newRepo(resolved),
			want: []string{"CloneReady=True/Validated", "Ready=True/Validated"}, wantOG: 1, wantIn: "ready to run site.yml at commit " + testCommit,
		},
		"a Repository still being reconciled writes nothing": {
			pb: newPlaybook(), repo: newRepo(), wantOG: -1,
		},
		"a missing Repository is waited for": {
			pb: newPlaybook(), want: []string{"Ready=False/RepoNotReady"}, wantOG: 1, wantIn: "does not exist",
		},
		"a Repository that failed is waited for": {
			pb: newPlaybook(), repo: newRepo(resolved, func(r *ansiblev1alpha1.Repository) {
				setCondition(r, ansiblev1alpha1.ReadyCondition, metav1.ConditionFalse, ansiblev1alpha1.BranchNotFoundReason, "branch main not found")
			}),
			want: []string{"Ready=False/RepoNotReady"}, wantOG: 1, wantIn: "branch main not found",
		},
		"a missing path is waited for": {
			pb: newPlaybook(), repo: newRepo(resolved), missing: []string{"site.yml"},
			want: []string{"CloneReady=False/InvalidPath", "Ready=False/InvalidPath"}, wantOG: 1, wantIn: "site.yml",
		},
		"paths that cannot be checked leave CloneReady Unknown": {
			pb: newPlaybook(), repo: newRepo(resolved), pathErr: errors.New("too large"),
			want: []string{"CloneReady=Unknown/GitOperationFailed", "Ready=True/Validated"}, wantOG: 1,
		},
		"a missing service account is re-checked": {
			pb: newPlaybook(sa), repo: newRepo(resolved),
			want: []string{"Ready=False/ServiceAccountNotFound"}, wantOG: 1, wantIn: testNS + "/runner", requeue: missingDependencyRetry,
		},
		"a present service account passes": {
			pb: newPlaybook(sa), repo: newRepo(resolved), objs: []client.Object{&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "runner", Namespace: testNS}}},
			want: []string{"CloneReady=True/Validated", "Ready=True/Validated"}, wantOG: 1,
		},
		"a missing cache claim, as the Job builder names it, is re-checked": {
			pb: newPlaybook(), repo: newRepo(resolved, pvc),
			want: []string{"Ready=False/PersistentVolumeClaimNotFound"}, wantOG: 1, wantIn: testNS + "/cache", requeue: missingDependencyRetry,
		},
		"a repositoryRef in another namespace stalls": {
			pb:   newPlaybook(func(pb *ansiblev1alpha1.Playbook) { pb.Spec.RepositoryRef.Namespace = "elsewhere" }),
			want: []string{"Ready=False/InvalidSpec", "Stalled=True/InvalidSpec"}, wantOG: 1, terminal: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs := append(tc.objs, tc.pb)
			if tc.repo != nil {
				objs = append(objs, tc.repo)
			}
			c := fakeClient(nil, objs...)
			res, err := reconcileOnce(t, playbookReconciler(c, events.NewFakeRecorder(10), tc.missing, tc.pathErr), c, tc.pb)
			if diff := cmp.Diff(tc.want, sortedConds(tc.pb), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if tc.pb.Status.ObservedGeneration != tc.wantOG {
				t.Errorf("observedGeneration %d, want %d", tc.pb.Status.ObservedGeneration, tc.wantOG)
			}
			if ready := condition(tc.pb, ansiblev1alpha1.ReadyCondition); !strings.Contains(ready.Message, tc.wantIn) {
				t.Errorf("Ready message %q, want %q in it", ready.Message, tc.wantIn)
			}
			if (err != nil) != tc.terminal || errors.Is(err, reconcile.TerminalError(nil)) != tc.terminal {
				t.Errorf("error = %v, want terminal %v", err, tc.terminal)
			}
			if res.RequeueAfter != tc.requeue {
				t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, tc.requeue)
			}
		})
	}
}

// TestPlaybookReconciler_runNow: a run-now id makes one Job, sets
// lastManualRun and Reconciling in the same status write, announces
// RunStarted after it; the finished run is recorded, counted and announced
// once, Reconciling goes, and the Job is marked recorded.
func TestPlaybookReconciler_runNowSteps(t *testing.T) {
	var writes atomic.Int64
	pb, repo := newPlaybook(readyPlaybook), newRepo(resolved)
	runNow("r1")(pb)
	c := fakeClient(&writes, pb, repo)
	rec := events.NewFakeRecorder(20)
	r := playbookReconciler(c, rec, nil, nil)
	if _, err := reconcileOnce(t, r, c, pb); err != nil {
		t.Fatal(err)
	}
	list := &batchv1.JobList{}
	if err := c.List(context.Background(), list, client.InNamespace(testNS)); err != nil || len(list.Items) != 1 {
		t.Fatalf("Jobs: %d (%v), want 1", len(list.Items), err)
	}
	job := list.Items[0]
	if want := jobs.JobName(ansiblev1alpha1.PlaybookKind, "site", "r1"); job.Name != want {
		t.Errorf("Job %s, want %s", job.Name, want)
	}
	if pb.Status.LastHandledRunNow != "r1" || pb.Status.LastManualRun == nil || pb.Status.LastManualRun.Status != ansiblev1alpha1.ManualRunRunning {
		t.Errorf("status %+v, want r1 handled and running", pb.Status)
	}
	if got := condition(pb, ansiblev1alpha1.ReconcilingCondition); got.Status != metav1.ConditionTrue || !strings.Contains(got.Message, "r1") {
		t.Errorf("Reconciling %+v, want True naming the run", got)
	}
	// Create (the Job) and one status patch.
	if n := writes.Load(); n != 2 {
		t.Errorf("%d writes, want 2", n)
	}
	if got := drain(rec, "RunStarted"); len(got) != 1 {
		t.Errorf("RunStarted events %q, want 1", got)
	}

	// The Job finishes; its pod carries the runner's summary.
	now := metav1.NewTime(testNow)
	job.Status.StartTime = &now
	job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now}}
	if err := c.Status().Update(context.Background(), &job); err != nil {
		t.Fatal(err)
	}
	before := runsCounted(t, ansiblev1alpha1.PlaybookKind)
	writes.Store(0)
	if _, err := reconcileOnce(t, r, c, pb); err != nil {
		t.Fatal(err)
	}
	if len(pb.Status.Runs) != 1 || pb.Status.Runs[0].RunID != "r1" || pb.Status.LastManualRun.Status != ansiblev1alpha1.ManualRunSucceeded {
		t.Errorf("status %+v, want r1 recorded and succeeded", pb.Status)
	}
	if got := condition(pb, ansiblev1alpha1.ReconcilingCondition); got.Status != "" {
		t.Errorf("Reconciling %+v after the run, want none", got)
	}
	if got := runsCounted(t, ansiblev1alpha1.PlaybookKind) - before; got != 1 {
		t.Errorf("runs counted %v, want 1", got)
	}
	if got := drain(rec, "RunSucceeded"); len(got) != 1 {
		t.Errorf("RunSucceeded events %q, want 1", got)
	}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(&job), &job); err != nil || job.Annotations[jobs.RecordedAnnotation] != "true" {
		t.Errorf("Job annotations %v (%v), want recorded", job.Annotations, err)
	}
	// The status patch and the Job's mark.
	if n := writes.Load(); n != 2 {
		t.Errorf("%d writes, want 2", n)
	}
	// Replaying writes nothing and starts nothing.
	writes.Store(0)
	if _, err := reconcileOnce(t, playbookReconciler(c, rec, nil, nil), c, pb); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 0 {
		t.Errorf("replay made %d writes, want 0", n)
	}
}

// TestPlaybookReconciler_runNowThatCannotBeBuilt stalls the Playbook and
// records the failed manual run.
func TestPlaybookReconciler_runNowThatCannotBeBuilt(t *testing.T) {
	pb, repo := newPlaybook(), newRepo(resolved)
	runNow("r1")(pb)
	pb.Spec.Runtime = &ansiblev1alpha1.PlaybookRuntime{Volumes: []corev1.Volume{{Name: "workspace"}}}
	c := fakeClient(nil, pb, repo)
	_, err := reconcileOnce(t, playbookReconciler(c, nil, nil, nil), c, pb)
	if !errors.Is(err, reconcile.TerminalError(nil)) {
		t.Errorf("error %v, want terminal", err)
	}
	if got := condition(pb, ansiblev1alpha1.StalledCondition); got.Reason != ansiblev1alpha1.InvalidSpecReason || !strings.Contains(got.Message, "workspace") {
		t.Errorf("Stalled %+v, want InvalidSpec naming the volume", got)
	}
	if m := pb.Status.LastManualRun; m == nil || m.Status != ansiblev1alpha1.ManualRunFailed || pb.Status.LastHandledRunNow != "" {
		t.Errorf("lastManualRun %+v, handled %q: want Failed and not handled", m, pb.Status.LastHandledRunNow)
	}
}

func TestScheduleReconciler_steps(t *testing.T) {
	t.Run("a Ready Playbook gets a CronJob and the Schedule is Ready", func(t *testing.T) {
		var writes atomic.Int64
		s, pb, repo := newSchedule(), newPlaybook(readyPlaybook), newRepo(resolved)
		c := fakeClient(&writes, s, pb, repo)
		r := &ScheduleReconciler{Client: c, APIReader: c, Env: Environment{OperatorImage: testOperatorImage}, Clock: clocktesting.NewFakePassiveClock(testNow)}
		res, err := reconcileOnce(t, r, c, s)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"BlockedByConcurrency=False/NoConcurrentJobs", "Ready=True/Scheduled"}, sortedConds(s)); diff != "" {
			t.Errorf("conditions (-want +got):\n%s", diff)
		}
		cj := &batchv1.CronJob{}
		if err := c.Get(context.Background(), types.NamespacedName{Namespace: testNS, Name: "nightly"}, cj); err != nil {
			t.Fatal(err)
		}
		if cj.Spec.Schedule != s.Status.ComputedSchedule || !strings.HasPrefix(s.Status.ComputedSchedule, "") || s.Status.NextRunTime == nil {
			t.Errorf("CronJob %q, status %+v", cj.Spec.Schedule, s.Status)
		}
		if res.RequeueAfter <= 0 || res.RequeueAfter > time.Hour {
			t.Errorf("RequeueAfter %v, want until the next run, at most an hour", res.RequeueAfter)
		}
		// The apply and the status.
		if n := writes.Load(); n != 2 {
			t.Errorf("%d writes, want 2", n)
		}
		writes.Store(0)
		if _, err := reconcileOnce(t, r, c, s); err != nil {
			t.Fatal(err)
		}
		if n := writes.Load(); n != 0 {
			t.Errorf("no-op made %d writes, want 0", n)
		}
	})
	t.Run("a Playbook being reconciled writes nothing", func(t *testing.T) {
		var writes atomic.Int64
		s, pb := newSchedule(), newPlaybook()
		c := fakeClient(&writes, s, pb)
		r := &ScheduleReconciler{Client: c, APIReader: c, Clock: clocktesting.NewFakePassiveClock(testNow)}
		if _, err := reconcileOnce(t, r, c, s); err != nil {
			t.Fatal(err)
		}
		// Not even observeLastRun's BlockedByConcurrency=False: it is
		// written with the first complete observation.
		if n := writes.Load(); n != 0 || s.Status.ObservedGeneration != -1 {
			t.Errorf("%d writes, observedGeneration %d: want none, -1", n, s.Status.ObservedGeneration)
		}
	})
	t.Run("a CronJob of another owner stalls", func(t *testing.T) {
		s, pb, repo := newSchedule(), newPlaybook(readyPlaybook), newRepo(resolved)
		other := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: testNS, OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "other", Controller: ptrTo(true)}}}}
		c := fakeClient(nil, s, pb, repo, other)
		r := &ScheduleReconciler{Client: c, APIReader: c, Env: Environment{OperatorImage: testOperatorImage}, Clock: clocktesting.NewFakePassiveClock(testNow)}
		if _, err := reconcileOnce(t, r, c, s); !errors.Is(err, reconcile.TerminalError(nil)) {
			t.Errorf("error %v, want terminal", err)
		}
		if got := condition(s, ansiblev1alpha1.StalledCondition); got.Reason != ansiblev1alpha1.CronJobConflictReason {
			t.Errorf("Stalled %+v, want CronJobConflict", got)
		}
	})
	t.Run("an active run blocks and names lastJobRef", func(t *testing.T) {
		s, pb, repo := newSchedule(), newPlaybook(readyPlaybook), newRepo(resolved)
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "nightly-1", Namespace: testNS,
			Labels:      jobs.OwnerLabels(ansiblev1alpha1.ScheduleKind, "nightly"),
			Annotations: map[string]string{ansiblev1alpha1.RevisionAnnotation: testCommit}}}
		c := fakeClient(nil, s, pb, repo, job)
		r := &ScheduleReconciler{Client: c, APIReader: c, Env: Environment{OperatorImage: testOperatorImage}, Clock: clocktesting.NewFakePassiveClock(testNow)}
		if _, err := reconcileOnce(t, r, c, s); err != nil {
			t.Fatal(err)
		}
		if got := condition(s, ansiblev1alpha1.BlockedByConcurrencyCondition); got.Status != metav1.ConditionTrue {
			t.Errorf("BlockedByConcurrency %+v, want True", got)
		}
		if s.Status.LastJobRef != testNS+"/nightly-1" || s.Status.LastRunRevision != testCommit {
			t.Errorf("lastJobRef %q, lastRunRevision %q", s.Status.LastJobRef, s.Status.LastRunRevision)
		}
	})
}

func ptrTo[T any](v T) *T { return &v }

// TestRunTracker_releasesAGoneOwnersPods: a deleted owner's waiting pods
// lose the run-record finalizer.
func TestRunTracker_releasesAGoneOwnersPods(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: testNS, Finalizers: []string{jobs.RunRecordFinalizer},
		Labels: mergeLabels(jobs.OwnerLabels(ansiblev1alpha1.PlaybookKind, "site"), map[string]string{batchv1.JobNameLabel: "site-1"})}}
	c := fakeClient(nil, pod)
	r := playbookReconciler(c, nil, nil, nil)
	if _, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: testNS, Name: "site"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(pod), pod); err != nil {
		// The fake client deletes an object whose last finalizer goes only
		// when it is being deleted; this one is not.
		t.Fatal(err)
	}
	if len(pod.Finalizers) != 0 {
		t.Errorf("finalizers %v, want none", pod.Finalizers)
	}
}

func mergeLabels(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestOwnerMaps: run Jobs and pods map to their owner of the kind only.
func TestOwnerMaps(t *testing.T) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: testNS, Labels: jobs.OwnerLabels(ansiblev1alpha1.ScheduleKind, "nightly"),
		Annotations: map[string]string{jobs.OwnerNameAnnotation: "nightly"}}}
	if got := ownerOfJob(ansiblev1alpha1.ScheduleKind)(context.Background(), job); len(got) != 1 || got[0].Name != "nightly" {
		t.Errorf("ownerOfJob = %v, want nightly", got)
	}
	if got := ownerOfJob(ansiblev1alpha1.PlaybookKind)(context.Background(), job); len(got) != 0 {
		t.Errorf("ownerOfJob(Playbook) = %v, want none", got)
	}
	// A pod of an older operator, without the owner annotation, maps through its Job.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: testNS,
		Labels: mergeLabels(jobs.OwnerLabels(ansiblev1alpha1.ScheduleKind, "nightly"), map[string]string{batchv1.JobNameLabel: "j"})}}
	c := fakeClient(nil, job)
	if got := ownerOfPod(c, ansiblev1alpha1.ScheduleKind)(context.Background(), pod); len(got) != 1 || got[0].Name != "nightly" {
		t.Errorf("ownerOfPod = %v, want nightly", got)
	}
}

// TestAuthMethodsAgree: the API's auth methods are the ones git.Credentials takes.
func TestAuthMethodsAgree(t *testing.T) {
	for api, g := range map[ansiblev1alpha1.AuthMethod]string{
		ansiblev1alpha1.AuthMethodSSH: git.MethodSSH, ansiblev1alpha1.AuthMethodHTTPS: git.MethodHTTPS, ansiblev1alpha1.AuthMethodToken: git.MethodToken,
	} {
		if string(api) != g {
			t.Errorf("API method %q, git method %q", api, g)
		}
	}
}

// TestEnvironment_config: a missing ConfigMap means the defaults; one that
// does not parse makes the Playbook wait.
func TestEnvironment_config(t *testing.T) {
	env := Environment{ConfigMap: types.NamespacedName{Namespace: testNS, Name: "cfg"}}
	c := fakeClient(nil)
	if cfg, err := env.config(context.Background(), c); err != nil || cfg.ExecutorDefaults.Image.Repository == "" {
		t.Errorf("config = %+v, %v; want the defaults", cfg, err)
	}
	bad := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: testNS}, Data: map[string]string{opconfig.Key: "nonsense: [\n"}}
	pb, repo := newPlaybook(), newRepo(resolved)
	c = fakeClient(nil, bad, pb, repo)
	r := playbookReconciler(c, nil, nil, nil)
	r.Env.ConfigMap = env.ConfigMap
	if _, err := reconcileOnce(t, r, c, pb); err != nil {
		t.Fatal(err)
	}
	if got := condition(pb, ansiblev1alpha1.ReadyCondition); got.Status != metav1.ConditionFalse || !strings.Contains(got.Message, "operator config") {
		t.Errorf("Ready %+v, want False naming the operator config", got)
	}
}

// TestSpine_waitsForTheCacheAfterItsOwnWrite: a reconcile that reads the
// copy its own status write replaced (a cache not caught up yet) writes
// nothing and comes back shortly; once the cache is fresh, it runs.
func TestSpine_waitsForTheCacheAfterItsOwnWrite(t *testing.T) {
	var writes atomic.Int64
	repo := newRepo()
	stale := repo.DeepCopy()
	c := fakeClient(&writes, repo)
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(repo), stale); err != nil {
		t.Fatal(err)
	}
	g := &gitStub{commit: testCommit}
	r := g.reconciler(c, nil)
	if _, err := reconcileOnce(t, r, c, repo); err != nil || writes.Load() != 1 {
		t.Fatalf("first reconcile: %v, %d writes; want the status written", err, writes.Load())
	}
	// A cache that still holds the copy before the write.
	lagging := interceptor.NewClient(c, interceptor.Funcs{Get: func(ctx context.Context, cl client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		stale.DeepCopyInto(obj.(*ansiblev1alpha1.Repository))
		return nil
	}})
	r.Client = lagging
	writes.Store(0)
	res, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(repo)})
	if err != nil || res.RequeueAfter != staleAfterWrite || writes.Load() != 0 || g.calls != 1 {
		t.Errorf("on the stale copy: %v, %+v, %d writes, %d git calls; want a short requeue and nothing else", err, res, writes.Load(), g.calls)
	}
	// The cache caught up: a normal (no-op) reconcile.
	r.Client = c
	if res, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(repo)}); err != nil || res.RequeueAfter == staleAfterWrite {
		t.Errorf("on the fresh copy: %v, %+v; want the interval's requeue", err, res)
	}
}
