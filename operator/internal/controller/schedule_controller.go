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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/csaupgrade"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/schedule"
)

// appliedHashAnnotation records what the operator last applied to a CronJob,
// so a reconcile that would apply the same thing writes nothing.
const appliedHashAnnotation = "ansible.cloud37.dev/applied-hash"

// pythonFieldManager is the field manager of the Python operator's creates
// and patches (not server-side apply).
const pythonFieldManager = "ansible-operator"

// ScheduleReconciler keeps one batch/v1 CronJob per Schedule in sync by
// server-side apply, and records the runs it makes.
type ScheduleReconciler struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  events.EventRecorder
	Env       Environment
	Clock     clock.PassiveClock
	// MaxConcurrentReconciles is the number of workers; 0 means
	// DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int

	written writeLog
}

var _ reconcile.Reconciler = (*ScheduleReconciler)(nil)

// +kubebuilder:rbac:groups=ansible.cloud37.dev,resources=schedules,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=ansible.cloud37.dev,resources=schedules/status,verbs=get;update;patch
// The CronJob and manual run Jobs block the Schedule's deletion (see
// playbooks/finalizers).
// +kubebuilder:rbac:groups=ansible.cloud37.dev,resources=schedules/finalizers,verbs=update
// delete on cronjobs: the operator deletes none, but changing an object's
// ownerReferences (adopting the Python operator's CronJob sets
// blockOwnerDeletion) needs it under OwnerReferencesPermissionEnforcement.
// +kubebuilder:rbac:groups=batch,resources=cronjobs,verbs=get;list;watch;create;update;patch;delete

// SetupWithManager registers the reconciler and its field index.
func (r *ScheduleReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &ansiblev1alpha1.Schedule{}, playbookRefIndex, func(o client.Object) []string {
		return []string{o.(*ansiblev1alpha1.Schedule).Spec.PlaybookRef.Name}
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&ansiblev1alpha1.Schedule{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&batchv1.CronJob{}, builder.WithPredicates(notCreated)).
		Watches(&batchv1.Job{}, handler.EnqueueRequestsFromMapFunc(ownerOfJob(ansiblev1alpha1.ScheduleKind))).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(ownerOfPod(mgr.GetClient(), ansiblev1alpha1.ScheduleKind))).
		Watches(&ansiblev1alpha1.Playbook{}, handler.EnqueueRequestsFromMapFunc(r.schedulesOfPlaybook)).
		Watches(&ansiblev1alpha1.Repository{}, handler.EnqueueRequestsFromMapFunc(r.schedulesOfRepository)).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.allSchedules), builder.WithPredicates(isConfigMap(r.Env.ConfigMap))).
		Named("schedule").
		WithOptions(controllerOptions(r.MaxConcurrentReconciles)).
		Complete(r)
}

func (r *ScheduleReconciler) schedulesOfPlaybook(ctx context.Context, o client.Object) []reconcile.Request {
	list := &ansiblev1alpha1.ScheduleList{}
	if err := r.Client.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{playbookRefIndex: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list Schedules of a Playbook", "playbook", o.GetName())
		return nil
	}
	return requests(list.Items)
}

// schedulesOfRepository reaches Schedules through the Playbooks that name the Repository.
func (r *ScheduleReconciler) schedulesOfRepository(ctx context.Context, o client.Object) []reconcile.Request {
	pbs := &ansiblev1alpha1.PlaybookList{}
	if err := r.Client.List(ctx, pbs, client.InNamespace(o.GetNamespace()), client.MatchingFields{repositoryRefIndex: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list Playbooks of a Repository", "repository", o.GetName())
		return nil
	}
	var out []reconcile.Request
	for i := range pbs.Items {
		out = append(out, r.schedulesOfPlaybook(ctx, &pbs.Items[i])...)
	}
	return out
}

func (r *ScheduleReconciler) allSchedules(ctx context.Context, _ client.Object) []reconcile.Request {
	list := &ansiblev1alpha1.ScheduleList{}
	if err := r.Client.List(ctx, list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list Schedules")
		return nil
	}
	return requests(list.Items)
}

// Reconcile implements reconcile.Reconciler.
func (r *ScheduleReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	return spine[*ansiblev1alpha1.Schedule]{
		kind:     ansiblev1alpha1.ScheduleKind,
		client:   r.Client,
		recorder: r.Recorder,
		newObj:   func() *ansiblev1alpha1.Schedule { return &ansiblev1alpha1.Schedule{} },
		steps:    r.steps(),
		written:  &r.written,
		tracker:  r.tracker(),
	}.reconcile(ctx, req)
}

func (r *ScheduleReconciler) tracker() *runTracker {
	return &runTracker{client: r.Client, recorder: r.Recorder, kind: ansiblev1alpha1.ScheduleKind}
}

// scheduleRuns are the Schedule's status fields about runs.
func scheduleRuns(s *ansiblev1alpha1.Schedule) runFields {
	return runFields{runs: &s.Status.Runs, lastManual: &s.Status.LastManualRun, lastHandled: &s.Status.LastHandledRunNow}
}

// steps are the Schedule's steps, in order.
func (r *ScheduleReconciler) steps() []step[*ansiblev1alpha1.Schedule] {
	return []step[*ansiblev1alpha1.Schedule]{
		r.observeRuns,
		r.loadConfig,
		computeSchedule,
		r.getPlaybook,
		r.applyCronJob,
		r.runNow,
		r.nextRunTime,
	}
}

// observeRuns records the Schedule's finished runs (the run tracker) and
// its last run.
func (r *ScheduleReconciler) observeRuns(ctx context.Context, s *ansiblev1alpha1.Schedule, w *work) error {
	if err := r.tracker().observe(ctx, s, scheduleRuns(s), w); err != nil {
		return err
	}
	observeLastRun(s, w.runs)
	return nil
}

// loadConfig reads the operator config into w.
func (r *ScheduleReconciler) loadConfig(ctx context.Context, _ *ansiblev1alpha1.Schedule, w *work) error {
	return loadConfig(ctx, r.Client, r.Env, w)
}

// runNow starts the run-now id's Job once (the run tracker), with the
// Schedule's resources, backoffLimit and TTL.
func (r *ScheduleReconciler) runNow(ctx context.Context, s *ansiblev1alpha1.Schedule, w *work) error {
	in := jobs.Inputs{Playbook: w.playbook, Repository: w.repo, Config: w.cfg, OperatorImage: r.Env.OperatorImage, Schedule: s}
	return r.tracker().start(ctx, s, scheduleRuns(s), in, w)
}

// computeSchedule resolves the random macros into w.computed and
// evaluates schedulePolicies. status.computedSchedule takes it with the
// CronJob, or with the violation, so that a reconcile pending on the
// Playbook writes nothing.
func computeSchedule(_ context.Context, s *ansiblev1alpha1.Schedule, w *work) error {
	w.computed, _ = schedule.Compute(s.Namespace, s.Name, w.cfg.ScheduleSalt, s.Spec.Schedule)
	if err := schedulePolicies.evaluate(s, w); err != nil {
		s.Status.ComputedSchedule = w.computed
		return err
	}
	return nil
}

// getPlaybook reads the Schedule's Playbook, which must be Ready, and its
// Repository into w.
func (r *ScheduleReconciler) getPlaybook(ctx context.Context, s *ansiblev1alpha1.Schedule, w *work) error {
	pb := &ansiblev1alpha1.Playbook{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: s.Namespace, Name: s.Spec.PlaybookRef.Name}, pb); err != nil {
		if apierrors.IsNotFound(err) {
			return waiting(ansiblev1alpha1.PlaybookNotReadyReason, fmt.Sprintf("Playbook %s/%s does not exist", s.Namespace, s.Spec.PlaybookRef.Name), 0)
		}
		return fmt.Errorf("failed to get Playbook %q: %w", s.Spec.PlaybookRef.Name, err)
	}
	if err := dependencyReady(ansiblev1alpha1.PlaybookNotReadyReason, ansiblev1alpha1.PlaybookKind, pb); err != nil {
		return err
	}
	repo := &ansiblev1alpha1.Repository{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: s.Namespace, Name: pb.Spec.RepositoryRef.Name}, repo); err != nil {
		if apierrors.IsNotFound(err) {
			return waiting(ansiblev1alpha1.PlaybookNotReadyReason, fmt.Sprintf("Repository of Playbook %s: %v", pb.Name, err), 0)
		}
		return fmt.Errorf("failed to get Repository %q: %w", pb.Spec.RepositoryRef.Name, err)
	}
	w.playbook, w.repo = pb, repo
	return nil
}

// nextRunTime fills status.nextRunTime, computed in spec.timeZone, and
// requeues when it passes (it is driven by time alone). It leaves Ready's
// message.
func (r *ScheduleReconciler) nextRunTime(_ context.Context, s *ansiblev1alpha1.Schedule, w *work) error {
	computed := w.computed
	s.Status.NextRunTime = nil
	if !s.Spec.Suspend {
		next, err := schedule.Next(computed, s.Spec.TimeZone, r.Clock.Now())
		if err != nil {
			return stalled(ansiblev1alpha1.InvalidSpecReason, err.Error())
		}
		t := metav1.NewTime(next.UTC())
		s.Status.NextRunTime = &t
		w.requeueAfter = min(next.Sub(r.Clock.Now())+time.Second, time.Hour)
	}
	msg := fmt.Sprintf("CronJob %s runs %q", jobs.CronJobName(s.Name), computed)
	if s.Spec.TimeZone != "" {
		msg += " in " + s.Spec.TimeZone
	}
	if s.Spec.Suspend {
		msg += " (suspended)"
	}
	w.ready(ansiblev1alpha1.ScheduledReason, "%s", msg)
	return nil
}

// applyCronJob server-side applies the desired CronJob with our field owner,
// forcing ownership of fields the Python operator's update manager held, and
// writes nothing when the last applied content is unchanged.
func (r *ScheduleReconciler) applyCronJob(ctx context.Context, s *ansiblev1alpha1.Schedule, w *work) error {
	computed := w.computed
	s.Status.ComputedSchedule = computed
	in := jobs.Inputs{Playbook: w.playbook, Repository: w.repo, Config: w.cfg, OperatorImage: r.Env.OperatorImage}
	desired, err := jobs.BuildCronJob(in, s, computed)
	if err != nil {
		return stalled(ansiblev1alpha1.InvalidSpecReason, err.Error())
	}
	if err := controllerutil.SetControllerReference(s, desired, r.Client.Scheme()); err != nil {
		return err
	}
	current := &batchv1.CronJob{}
	err = r.Client.Get(ctx, client.ObjectKeyFromObject(desired), current)
	switch {
	case apierrors.IsNotFound(err):
		current = nil
	case err != nil:
		return fmt.Errorf("failed to get CronJob %q: %w", desired.Name, err)
	}
	if current != nil {
		if owner := metav1.GetControllerOf(current); owner != nil && owner.UID != s.UID {
			return stalled(ansiblev1alpha1.CronJobConflictReason, fmt.Sprintf("CronJob %s/%s is controlled by %s %s: delete it or rename the Schedule", current.Namespace, current.Name, owner.Kind, owner.Name))
		}
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(desired)
	if err != nil {
		return err
	}
	delete(u, "status")
	unstructured.RemoveNestedField(u, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u, "spec", "jobTemplate", "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u, "spec", "jobTemplate", "spec", "template", "metadata", "creationTimestamp")
	b, err := json.Marshal(u)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	hash := hex.EncodeToString(sum[:8])
	adopted, err := r.adoptCronJob(ctx, current)
	if err != nil {
		return err
	}
	if !adopted && current != nil && current.Annotations[appliedHashAnnotation] == hash && metav1.IsControlledBy(current, s) {
		return nil
	}
	obj := &unstructured.Unstructured{Object: u}
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[appliedHashAnnotation] = hash
	obj.SetAnnotations(ann)
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("failed to apply CronJob %q: %w", desired.Name, err)
	}
	if current == nil {
		ctrl.LoggerFrom(ctx).Info("Created CronJob", "cronJob", desired.Name, "schedule", computed)
	}
	return nil
}

// adoptCronJob hands the fields the Python operator's field manager owns
// in current to our apply manager, and reports whether it did. Server-side
// apply removes a field only from the manager that applied it: without the
// hand-over, the old shell script in args, its ssh and vault volumes and
// mounts, REPO_TOKEN and its labels would outlive the adoption, and every
// scheduled run would pass that script to playbook-runner. With it, the
// apply that follows removes whatever the builder does not set.
func (r *ScheduleReconciler) adoptCronJob(ctx context.Context, current *batchv1.CronJob) (bool, error) {
	if current == nil {
		return false, nil
	}
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(current, sets.New(pythonFieldManager), FieldOwner)
	if err != nil || patch == nil {
		return false, err
	}
	// The patch carries the resourceVersion read: a CronJob changed since is
	// a conflict, and the reconcile is retried.
	if err := r.Client.Patch(ctx, current, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		return false, fmt.Errorf("failed to adopt CronJob %q from the Python operator: %w", current.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Adopted the Python operator's CronJob", "cronJob", current.Name)
	return true, nil
}

// observeLastRun fills lastRunTime, lastJobRef and lastRunRevision (from
// the newest run Job's own annotations) and BlockedByConcurrency, from
// what the run tracker listed.
func observeLastRun(s *ansiblev1alpha1.Schedule, tr *trackedRuns) {
	newest, active := tr.newest()
	if newest != nil {
		t := newest.CreationTimestamp
		if newest.Status.StartTime != nil {
			t = *newest.Status.StartTime
		}
		s.Status.LastRunTime = &t
		s.Status.LastJobRef = jobRef(newest.Namespace, newest.Name)
		s.Status.LastRunRevision = newest.Annotations[ansiblev1alpha1.RevisionAnnotation]
	}
	if active > 0 {
		setCondition(s, ansiblev1alpha1.BlockedByConcurrencyCondition, metav1.ConditionTrue, ansiblev1alpha1.ConcurrentJobsRunningReason,
			fmt.Sprintf("%d run(s) active; concurrencyPolicy %s decides whether the next one starts", active, s.Spec.ConcurrencyPolicy))
	} else {
		setCondition(s, ansiblev1alpha1.BlockedByConcurrencyCondition, metav1.ConditionFalse, ansiblev1alpha1.NoConcurrentJobsReason, "no run is active")
	}
}
