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

// Package controller holds one reconciler per kind. The three share one
// skeleton (spine): get the object, snapshot it, run ordered steps of one
// signature that set only their own conditions and end with a typed result
// (stalled, waiting, transient), summarize Ready/Reconciling/Stalled once,
// and patch the status once, only when it changed. Runs (their Jobs, status
// records, events and metrics) belong to one run tracker.
package controller

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
)

// FieldOwner is the field manager of every write, server-side apply included.
const FieldOwner = "ansible-playbook-operator"

// DefaultMaxConcurrentReconciles is each controller's number of workers
// when a reconciler's MaxConcurrentReconciles is 0. A Repository whose git
// host never answers holds one worker for up to git.DefaultTimeout per
// attempt (a Playbook's path check, git.FetchTimeout): with one worker that
// stalled every other object of the kind for a minute.
const DefaultMaxConcurrentReconciles = 4

// notCreated drops the creation of an owned child: only the reconcile
// that created it makes one (a Schedule's CronJob, a Playbook's run Job),
// and reconciling again for it would read a cache that lacks the status
// that reconcile wrote, and fail on the stale resourceVersion (a wasted
// write and a retry). Updates and deletions of the child still reconcile.
var notCreated = predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }}

// controllerOptions are the options of a controller with workers workers
// (0: DefaultMaxConcurrentReconciles).
func controllerOptions(workers int) controller.Options {
	if workers <= 0 {
		workers = DefaultMaxConcurrentReconciles
	}
	return controller.Options{MaxConcurrentReconciles: workers}
}

// Leftovers of the Python operator (kopf): released and cleaned on first
// reconcile, since nothing will ever handle them again.
var (
	legacyFinalizers  = []string{"kopf.zalando.org/KopfFinalizerMarker", "ansible.cloud37.dev/finalizer"}
	legacyAnnotations = []string{"kopf.zalando.org/last-handled-configuration", "ansible.cloud37.dev/trigger-reconcile"}
)

// conditioned is what the three kinds implement.
type conditioned interface {
	client.Object
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
	SetObservedGeneration(int64)
}

// setCondition sets one condition with the object's generation.
func setCondition(obj conditioned, typ string, status metav1.ConditionStatus, reason, message string) {
	conds := obj.GetConditions()
	meta.SetStatusCondition(&conds, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: obj.GetGeneration(),
	})
	obj.SetConditions(conds)
}

// removeCondition drops a condition that is present only while True.
func removeCondition(obj conditioned, typ string) {
	conds := obj.GetConditions()
	meta.RemoveStatusCondition(&conds, typ)
	obj.SetConditions(conds)
}

// patchStatus writes the status once, and only when it changed (base is
// the snapshot taken before the steps; releaseLegacy ran before it, so
// only the status can differ). The patch is optimistically locked: a
// reconcile that read a stale object from the cache gets a conflict and is
// retried, so the runs, events and metrics announced after a successful
// patch are announced exactly once.
func patchStatus(ctx context.Context, c client.Client, base, obj conditioned) error {
	fillTransitionTimes(obj, time.Now())
	if equality.Semantic.DeepEqual(base, obj) {
		return nil
	}
	patch := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
	if err := c.Status().Patch(ctx, obj, patch, client.FieldOwner(FieldOwner)); err != nil {
		return fmt.Errorf("failed to patch status: %w", err)
	}
	return nil
}

// fillTransitionTimes gives every condition without a lastTransitionTime
// one. The Python operator never set it, and meta.SetStatusCondition keeps
// the time of a condition whose status did not change, so a migrated
// condition would otherwise reach the API server as null, which the CRD
// refuses: every status write would fail.
func fillTransitionTimes(obj conditioned, now time.Time) {
	conds := obj.GetConditions()
	for i := range conds {
		if conds[i].LastTransitionTime.IsZero() {
			conds[i].LastTransitionTime = metav1.NewTime(now)
		}
	}
	obj.SetConditions(conds)
}

// releaseLegacy removes the Python operator's finalizers and annotations.
// It reports whether it wrote.
func releaseLegacy(ctx context.Context, c client.Client, obj client.Object) (bool, error) {
	base := obj.DeepCopyObject().(client.Object)
	changed := false
	for _, f := range legacyFinalizers {
		changed = controllerutil.RemoveFinalizer(obj, f) || changed
	}
	if ann := obj.GetAnnotations(); ann != nil {
		for _, a := range legacyAnnotations {
			if _, ok := ann[a]; ok {
				delete(ann, a)
				changed = true
			}
		}
		obj.SetAnnotations(ann)
	}
	if !changed {
		return false, nil
	}
	if err := c.Patch(ctx, obj, client.MergeFrom(base), client.FieldOwner(FieldOwner)); err != nil {
		return false, fmt.Errorf("failed to release the Python operator's finalizers and annotations: %w", err)
	}
	return true, nil
}

// emitReadyTransition records an event when Ready changed status or reason:
// Normal for True, Warning otherwise; the event reason is the condition's.
// A new object's first Ready=True is no event: it says nothing the status
// does not, and the Kubernetes event style guide asks for no Event that
// only repeats what watching the object shows. At scale it was one Event
// per object, as many API writes as the objects' creation. A new object
// that fails gets its Warning, and every later transition (a recovery
// among them) its event.
func emitReadyTransition(rec events.EventRecorder, obj conditioned, before []metav1.Condition) {
	if rec == nil {
		return
	}
	now := meta.FindStatusCondition(obj.GetConditions(), ansiblev1alpha1.ReadyCondition)
	if now == nil {
		return
	}
	old := meta.FindStatusCondition(before, ansiblev1alpha1.ReadyCondition)
	if old == nil && now.Status == metav1.ConditionTrue {
		return
	}
	if old != nil && old.Status == now.Status && old.Reason == now.Reason {
		return
	}
	typ := "Warning"
	if now.Status == metav1.ConditionTrue {
		typ = "Normal"
	}
	rec.Eventf(obj, nil, typ, now.Reason, "Reconcile", "%s", now.Message)
}

// conditionTrue reports whether the object's condition typ is True.
func conditionTrue(obj conditioned, typ string) bool {
	return meta.IsStatusConditionTrue(obj.GetConditions(), typ)
}
