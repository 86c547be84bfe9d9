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
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/metrics"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/opconfig"
)

// step is one stage of a reconcile, the same shape for the three kinds
// (Flux source-controller's ordered steps). A step reads what it needs,
// sets only its own specific conditions and status fields on obj, and
// leaves what the next steps and the summarizer need in w. It returns nil
// to go on, errUpToDate to end the reconcile as a success, a *result
// (stalled, waiting, transient) to end it with that outcome, or any other
// error, which is transient and leaves Ready alone.
type step[T conditioned] func(ctx context.Context, obj T, w *work) error

// errUpToDate ends the steps early, as a success: nothing needs doing now.
// The step that returns it leaves Ready's reason and message in w.
var errUpToDate = errors.New("up to date")

// work is what the steps of one reconcile share: what they found, for the
// steps after them and for the summarizer.
type work struct {
	// readyReason and readyMessage are Ready=True's, when every step passed.
	readyReason, readyMessage string
	// requeueAfter re-runs a reconcile driven by time (an interval, the
	// next run time), on success.
	requeueAfter time.Duration
	// progress, when set, is the message of Reconciling=True: work that
	// spans reconciles is under way (a manual run).
	progress string

	// cfg is the operator config (Playbook and Schedule).
	cfg opconfig.Config
	// repo is the Repository a Playbook or a Schedule's Playbook names.
	repo *ansiblev1alpha1.Repository
	// playbook is the Playbook a Schedule names.
	playbook *ansiblev1alpha1.Playbook
	// computed is a Schedule's cron expression, random macros resolved.
	computed string
	// runs is what the run tracker found and changed (Playbook, Schedule).
	runs *trackedRuns
}

// ready leaves Ready=True's reason and message for the summarizer.
func (w *work) ready(reason, format string, args ...any) {
	w.readyReason, w.readyMessage = reason, fmt.Sprintf(format, args...)
}

// resultKind is how a reconcile that could not finish ended.
type resultKind int

const (
	// stalledResult: the spec (or what it names) cannot work until the
	// user edits it. Stalled=True, Ready=False, and no retry
	// (reconcile.TerminalError): the edit brings the next reconcile.
	stalledResult resultKind = iota + 1
	// waitingResult: something the object needs is missing or not ready.
	// Ready=False; a watch, or requeueAfter for what is not watched,
	// brings the next reconcile, without backoff.
	waitingResult
	// transientResult: a failure that may pass by itself (network, a git
	// server). Ready=False, and the error is returned, so controller-runtime's
	// backoff applies.
	transientResult
)

// result is how a step ends a reconcile that cannot finish (Flux's
// internal/error Stalling, Waiting and Generic): the kind, and the reason
// and message of Ready=False (and Stalled=True). The message is
// credential-free.
type result struct {
	kind    resultKind
	reason  string
	message string
	// requeueAfter re-checks a waiting result whose cause is not watched.
	requeueAfter time.Duration
	// pending: a waiting result whose dependency is still reconciling.
	// No complete observation was made: the summarizer keeps the
	// conditions and observedGeneration as they were (a new object stays
	// without conditions; kstatus: in progress, as its observedGeneration
	// lags), and the dependency's own status write brings the next
	// reconcile. Only what the run tracker must keep (status.runs and the
	// fields next to it) is written. This saves a status write (Ready=False,
	// then Ready=True) per object created with its dependency.
	pending bool
	cause   error
}

func (r *result) Error() string { return r.message }

func (r *result) Unwrap() error { return r.cause }

// stalled ends a reconcile on a spec that cannot work.
func stalled(reason, message string) *result {
	return &result{kind: stalledResult, reason: reason, message: message}
}

// waiting ends a reconcile that waits for something; after > 0 re-checks
// what no watch reports.
func waiting(reason, message string, after time.Duration) *result {
	return &result{kind: waitingResult, reason: reason, message: message, requeueAfter: after}
}

// pendingOn ends a reconcile whose dependency has not finished its own.
func pendingOn(reason, message string) *result {
	return &result{kind: waitingResult, reason: reason, message: message, pending: true}
}

// transient ends a reconcile on a failure that may pass; message is
// already sanitized.
func transient(reason, message string, cause error) *result {
	return &result{kind: transientResult, reason: reason, message: message, cause: cause}
}

// runSteps runs steps in order until one does not return nil.
func runSteps[T conditioned](ctx context.Context, obj T, w *work, steps []step[T]) error {
	for _, s := range steps {
		if err := s(ctx, obj, w); err != nil {
			if errors.Is(err, errUpToDate) {
				return nil
			}
			return err
		}
	}
	return nil
}

// summarize is the one place that sets Ready, Reconciling and Stalled and
// bumps observedGeneration, from what the steps ended with (err) and left
// in w (Flux's summarize-and-patch): observedGeneration moves only with a
// complete observation (success, stalled, waiting, or a classified
// transient failure), never on an unclassified error or a pending result,
// which also restore the conditions read (before). kstatus: Reconciling
// and Stalled are present only while True. It returns the reconcile's
// result.
func summarize(obj conditioned, before []metav1.Condition, w *work, err error) (reconcile.Result, error) {
	var r *result
	if err != nil && !errors.As(err, &r) {
		return reconcile.Result{}, err
	}
	if r != nil && r.pending {
		obj.SetConditions(slices.Clone(before))
		return reconcile.Result{}, nil
	}
	if w.progress != "" && (r == nil || r.kind != stalledResult) {
		setCondition(obj, ansiblev1alpha1.ReconcilingCondition, metav1.ConditionTrue, ansiblev1alpha1.ProgressingReason, w.progress)
	} else {
		removeCondition(obj, ansiblev1alpha1.ReconcilingCondition)
	}
	obj.SetObservedGeneration(obj.GetGeneration())
	if r == nil {
		setCondition(obj, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, w.readyReason, w.readyMessage)
		removeCondition(obj, ansiblev1alpha1.StalledCondition)
		return reconcile.Result{RequeueAfter: w.requeueAfter}, nil
	}
	setCondition(obj, ansiblev1alpha1.ReadyCondition, metav1.ConditionFalse, r.reason, r.message)
	if r.kind == stalledResult {
		setCondition(obj, ansiblev1alpha1.StalledCondition, metav1.ConditionTrue, r.reason, r.message)
	} else {
		removeCondition(obj, ansiblev1alpha1.StalledCondition)
	}
	switch r.kind {
	case stalledResult:
		return reconcile.Result{}, reconcile.TerminalError(r)
	case transientResult:
		return reconcile.Result{}, r
	}
	return reconcile.Result{RequeueAfter: r.requeueAfter}, nil
}

// spine is the one skeleton of the three reconcilers (STYLE 16): get the
// object, release the Python operator's leftovers, snapshot, run the
// ordered steps, summarize, patch the status once (only if it changed),
// then announce. Nothing but the steps differs per kind.
type spine[T conditioned] struct {
	kind     string
	client   client.Client
	recorder events.EventRecorder
	// newObj returns an empty object of the kind.
	newObj func() T
	steps  []step[T]
	// tracker records, announces and starts runs (Playbook, Schedule).
	tracker *runTracker
	// written is the reconciler's record of its own status writes.
	written *writeLog
}

// writeLog remembers, per object, the resourceVersion a status write of
// this reconciler replaced, until the cache shows a newer one. An event
// that arrives during a reconcile (a dependency's status, an owned
// child) runs the next reconcile at once, often before the cache has the
// status just written: that reconcile would compute the same status
// against the stale copy and fail on its resourceVersion (a wasted write,
// an error, a backoff). Seeing the replaced resourceVersion, it waits for
// the cache instead (the Kubernetes controllers' "expectations").
type writeLog struct{ m sync.Map }

// staleAfterWrite is how soon a reconcile that met a stale cache runs again.
const staleAfterWrite = 50 * time.Millisecond

// stale reports whether obj is the copy a status write of ours replaced.
func (l *writeLog) stale(obj client.Object) bool {
	if l == nil {
		return false
	}
	key := client.ObjectKeyFromObject(obj)
	replaced, ok := l.m.Load(key)
	if !ok {
		return false
	}
	if replaced == obj.GetResourceVersion() {
		return true
	}
	l.m.Delete(key)
	return false
}

// wrote records that a status write replaced the resourceVersion of base.
func (l *writeLog) wrote(base, obj client.Object) {
	if l != nil && base.GetResourceVersion() != obj.GetResourceVersion() {
		l.m.Store(client.ObjectKeyFromObject(obj), base.GetResourceVersion())
	}
}

// reconcile implements reconcile.Reconciler for the kind.
func (s spine[T]) reconcile(ctx context.Context, req reconcile.Request) (res reconcile.Result, retErr error) {
	done := metrics.StartReconcile(s.kind)
	defer func() { done(retErr) }()

	obj := s.newObj()
	if err := s.client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) && s.tracker != nil {
			return reconcile.Result{}, s.tracker.releaseOwnerless(ctx, req.Namespace, req.Name)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if s.written.stale(obj) {
		return reconcile.Result{RequeueAfter: staleAfterWrite}, nil
	}
	if _, err := releaseLegacy(ctx, s.client, obj); err != nil {
		return reconcile.Result{}, err
	}
	base := obj.DeepCopyObject().(T)
	before := base.GetConditions()
	w := &work{}
	res, err := summarize(obj, before, w, runSteps(ctx, obj, w, s.steps))
	if perr := patchStatus(ctx, s.client, base, obj); perr != nil {
		return reconcile.Result{}, errors.Join(err, perr)
	}
	s.written.wrote(base, obj)
	emitReadyTransition(s.recorder, obj, before)
	if s.tracker != nil && w.runs != nil {
		err = errors.Join(err, s.tracker.announce(ctx, obj, w.runs, before))
	}
	return res, err
}
