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
	"sort"
	"strings"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/metrics"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

// Field indexes: dependents are found through the API cache, so a
// Repository or Playbook change reaches exactly the objects that name it.
const (
	repositoryRefIndex = "spec.repositoryRef.name"
	playbookRefIndex   = "spec.playbookRef.name"
)

// PathChecker reports which of paths are missing from the repository at
// commit. An error means the check was impossible (size cap, server without
// the commit at depth 1): the condition is Unknown and the runner fails fast.
type PathChecker func(ctx context.Context, url, branch string, auth git.Auth, commit string, paths []string) (missing []string, err error)

// PlaybookReconciler validates a Playbook (Repository, paths, executor) and
// runs it on demand (annotation ansible.cloud37.dev/run-now).
type PlaybookReconciler struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  events.EventRecorder
	Env       Environment
	// CheckPaths validates paths at the Repository's commit; nil leaves
	// CloneReady Unknown (the runner then fails fast naming a missing path).
	CheckPaths PathChecker
	// MaxConcurrentReconciles is the number of workers; 0 means
	// DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int

	pathsMu sync.Mutex
	// pathsSeen caches path checks by url, commit and paths: one fetch per
	// (repository, commit).
	pathsSeen map[string][]string
}

var _ reconcile.Reconciler = (*PlaybookReconciler)(nil)

// +kubebuilder:rbac:groups=ansible.cloud37.dev,resources=playbooks,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=ansible.cloud37.dev,resources=playbooks/status,verbs=get;update;patch
// Run Jobs block their Playbook's deletion until the garbage collector has
// removed them; the OwnerReferencesPermissionEnforcement admission plugin
// (on in OpenShift) lets only a user who may update the owner's finalizers
// set that.
// +kubebuilder:rbac:groups=ansible.cloud37.dev,resources=playbooks/finalizers,verbs=update
// Finished run Jobs are annotated as recorded, and their pods' finalizer
// jobs.RunRecordFinalizer is removed, once the run is in status.
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=serviceaccounts;persistentvolumeclaims,verbs=get;list;watch

// SetupWithManager registers the reconciler and its field index.
func (r *PlaybookReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &ansiblev1alpha1.Playbook{}, repositoryRefIndex, func(o client.Object) []string {
		return []string{o.(*ansiblev1alpha1.Playbook).Spec.RepositoryRef.Name}
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&ansiblev1alpha1.Playbook{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&batchv1.Job{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(ownerOfPod(mgr.GetClient(), "Playbook"))).
		Watches(&ansiblev1alpha1.Repository{}, handler.EnqueueRequestsFromMapFunc(r.playbooksOfRepository)).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.allPlaybooks), builder.WithPredicates(isConfigMap(r.Env.ConfigMap))).
		Named("playbook").
		WithOptions(controllerOptions(r.MaxConcurrentReconciles)).
		Complete(r)
}

func (r *PlaybookReconciler) playbooksOfRepository(ctx context.Context, o client.Object) []reconcile.Request {
	list := &ansiblev1alpha1.PlaybookList{}
	if err := r.Client.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{repositoryRefIndex: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list Playbooks of a Repository", "repository", o.GetName())
		return nil
	}
	return requests(list.Items)
}

func (r *PlaybookReconciler) allPlaybooks(ctx context.Context, _ client.Object) []reconcile.Request {
	list := &ansiblev1alpha1.PlaybookList{}
	if err := r.Client.List(ctx, list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list Playbooks")
		return nil
	}
	return requests(list.Items)
}

func requests[T any, PT interface {
	*T
	client.Object
}](items []T) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(items))
	for i := range items {
		o := PT(&items[i])
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
	}
	return out
}

func isConfigMap(key types.NamespacedName) predicate.Predicate {
	return predicate.NewPredicateFuncs(func(o client.Object) bool {
		return key.Name != "" && o.GetName() == key.Name && o.GetNamespace() == key.Namespace
	})
}

// Reconcile implements reconcile.Reconciler.
func (r *PlaybookReconciler) Reconcile(ctx context.Context, req reconcile.Request) (res reconcile.Result, retErr error) {
	done := metrics.StartReconcile("Playbook")
	defer func() { done(retErr) }()

	pb := &ansiblev1alpha1.Playbook{}
	if err := r.Client.Get(ctx, req.NamespacedName, pb); err != nil {
		if apierrors.IsNotFound(err) {
			return reconcile.Result{}, releaseOwnerless(ctx, r.Client, req.Namespace, jobs.OwnerKindPlaybook, req.Name)
		}
		return reconcile.Result{}, err
	}
	if _, err := releaseLegacy(ctx, r.Client, pb); err != nil {
		return reconcile.Result{}, err
	}
	base := pb.DeepCopy()
	runs, err := r.reconcile(ctx, pb)
	if perr := patchStatus(ctx, r.Client, base, pb, &base.Status, &pb.Status); perr != nil {
		return reconcile.Result{}, errors.Join(err, perr)
	}
	return reconcile.Result{}, errors.Join(err, afterStatus(ctx, r.Client, r.Recorder, pb, jobs.OwnerKindPlaybook, runs, base.Status.Conditions))
}

// reconcile runs the steps; it returns what recording the runs changed.
func (r *PlaybookReconciler) reconcile(ctx context.Context, pb *ansiblev1alpha1.Playbook) (runUpdate, error) {
	// Finished runs are recorded whatever the Playbook's state.
	rs, err := listRuns(ctx, r.Client, pb.Namespace, jobs.OwnerKindPlaybook, pb.Name)
	if err != nil {
		return runUpdate{}, err
	}
	runs := rs.record(pb.Status.Runs, pb.UID)
	pb.Status.Runs = mergeRuns(pb.Status.Runs, runs.added)
	noteManualRun(pb.Status.LastManualRun, pb.Namespace, runs.added)
	observeImagePulls(pb, rs)

	o, repo, err := r.validate(ctx, pb)
	if err != nil {
		return runs, err
	}
	summarize(pb, o)
	pb.Status.ObservedGeneration = pb.Generation
	if !o.ready {
		return runs, nil
	}
	return runs, r.runNow(ctx, pb, repo, rs.jobs)
}

// validate checks the Repository, the executor and the paths.
func (r *PlaybookReconciler) validate(ctx context.Context, pb *ansiblev1alpha1.Playbook) (outcome, *ansiblev1alpha1.Repository, error) {
	if msg, ok := sameNamespace("spec.repositoryRef", pb.Spec.RepositoryRef.Namespace, pb.Namespace); !ok {
		return outcome{reason: ansiblev1alpha1.InvalidSpecReason, message: msg, stalled: true}, nil, nil
	}
	cfg, err := r.Env.config(ctx, r.Client)
	if err != nil {
		return outcome{reason: ansiblev1alpha1.InvalidSpecReason, message: "operator config: " + err.Error()}, nil, nil
	}
	repo := &ansiblev1alpha1.Repository{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: pb.Namespace, Name: pb.Spec.RepositoryRef.Name}, repo); err != nil {
		if apierrors.IsNotFound(err) {
			return outcome{reason: ansiblev1alpha1.RepoNotReadyReason, message: fmt.Sprintf("Repository %s/%s does not exist", pb.Namespace, pb.Spec.RepositoryRef.Name)}, nil, nil
		}
		return outcome{}, nil, err
	}
	if !meta.IsStatusConditionTrue(repo.Status.Conditions, ansiblev1alpha1.ReadyCondition) || repo.Status.ResolvedRevision == "" {
		msg := fmt.Sprintf("Repository %s is not Ready", repo.Name)
		if c := meta.FindStatusCondition(repo.Status.Conditions, ansiblev1alpha1.ReadyCondition); c != nil && c.Message != "" {
			msg += ": " + c.Message
		}
		return outcome{reason: ansiblev1alpha1.RepoNotReadyReason, message: msg}, nil, nil
	}
	reason, msg, stalled, err := executorPreflight(ctx, r.Client, pb, repo, cfg)
	if err != nil {
		return outcome{}, nil, err
	}
	if reason != "" {
		return outcome{reason: reason, message: msg, stalled: stalled}, nil, nil
	}
	if o, ok := r.validatePaths(ctx, pb, repo); !ok {
		return o, nil, nil
	}
	return outcome{ready: true, reason: ansiblev1alpha1.ValidatedReason,
		message: fmt.Sprintf("ready to run %s at commit %s", pb.Spec.PlaybookPath, repo.Status.ResolvedRevision)}, repo, nil
}

// requiredPaths are the paths of the Playbook that must exist in the
// repository at the commit. Host lists and absolute paths (files of the
// executor image or of mounted volumes) are the runner's to check: the same
// rule, runspec.InventoryKind and FileKind, decides in both places.
func requiredPaths(pb *ansiblev1alpha1.Playbook) []string {
	paths := []string{pb.Spec.PlaybookPath}
	inventories := pb.Spec.InventoryPaths
	if pb.Spec.InventoryPath != "" {
		inventories = []string{pb.Spec.InventoryPath}
	}
	for _, inv := range inventories {
		if runspec.InventoryKind(inv) == runspec.RepositoryPath {
			paths = append(paths, inv)
		}
	}
	if cfg := pb.Spec.AnsibleCfgPath; cfg != "" && runspec.FileKind(cfg) == runspec.RepositoryPath {
		paths = append(paths, cfg)
	}
	return paths
}

// validatePaths sets CloneReady from one shallow fetch per (repository,
// commit); ok is false when a path is missing.
func (r *PlaybookReconciler) validatePaths(ctx context.Context, pb *ansiblev1alpha1.Playbook, repo *ansiblev1alpha1.Repository) (outcome, bool) {
	commit := repo.Status.ResolvedRevision
	if r.CheckPaths == nil {
		setCondition(pb, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionUnknown, ansiblev1alpha1.ValidatedReason, "paths not checked: the run fails fast naming a missing path")
		return outcome{}, true
	}
	paths := requiredPaths(pb)
	sort.Strings(paths)
	key := repo.Spec.URL + "@" + commit + ":" + strings.Join(paths, ",")
	r.pathsMu.Lock()
	missing, seen := r.pathsSeen[key]
	r.pathsMu.Unlock()
	if !seen {
		auth, reason, _ := repositoryAuth(ctx, r.APIReader, repo)
		if reason != "" {
			setCondition(pb, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionUnknown, reason, "paths not checked: the Repository's credentials are unavailable")
			return outcome{}, true
		}
		var err error
		missing, err = r.CheckPaths(ctx, repo.Spec.URL, repo.Spec.Branch, auth, commit, paths)
		if err != nil {
			setCondition(pb, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionUnknown, ansiblev1alpha1.GitOperationFailedReason,
				"paths not checked: "+git.Sanitize(err.Error())+"; the run fails fast naming a missing path")
			return outcome{}, true
		}
		r.pathsMu.Lock()
		if r.pathsSeen == nil || len(r.pathsSeen) > 4096 {
			r.pathsSeen = map[string][]string{}
		}
		r.pathsSeen[key] = missing
		r.pathsMu.Unlock()
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("not found at commit %s of Repository %s: %s", commit, repo.Name, strings.Join(missing, ", "))
		setCondition(pb, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionFalse, ansiblev1alpha1.InvalidPathReason, msg)
		return outcome{reason: ansiblev1alpha1.InvalidPathReason, message: msg}, false
	}
	setCondition(pb, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, "paths found at commit "+commit)
	return outcome{}, true
}

// runNow creates the Job of a run-now id once (see startRun).
func (r *PlaybookReconciler) runNow(ctx context.Context, pb *ansiblev1alpha1.Playbook, repo *ansiblev1alpha1.Repository, existing []batchv1.Job) error {
	cfg, err := r.Env.config(ctx, r.Client)
	if err != nil {
		return err
	}
	in := jobs.Inputs{Playbook: pb, Repository: repo, Config: cfg, OperatorImage: r.Env.OperatorImage}
	return startRun(ctx, r.Client, r.Recorder, pb, jobs.OwnerKindPlaybook, manualRuns{&pb.Status.LastHandledRunNow, &pb.Status.LastManualRun, pb.Status.Runs}, in, existing)
}

// manualRuns are an owner's status fields about manual runs.
type manualRuns struct {
	// lastHandled is status.lastHandledRunNow.
	lastHandled *string
	// last is status.lastManualRun.
	last **ansiblev1alpha1.ManualRun
	// runs is status.runs.
	runs []ansiblev1alpha1.RunRecord
}

// startRun creates the Job of the owner's run-now id once: an id already
// handled (the last one, or one of the recorded runs), or carried by an
// existing Job, is a no-op, so replaying after an operator restart or after
// the TTL deleted the run's Job does nothing.
func startRun(ctx context.Context, c client.Client, rec events.EventRecorder, owner client.Object, kind string, st manualRuns, in jobs.Inputs, existing []batchv1.Job) error {
	id := owner.GetAnnotations()[RunNowAnnotation]
	if id == "" || id == *st.lastHandled {
		return nil
	}
	name := jobs.JobName(kind, owner.GetName(), id)
	handled := slices.ContainsFunc(st.runs, func(r ansiblev1alpha1.RunRecord) bool { return r.RunID == id && r.JobName == name })
	for i := range existing {
		handled = handled || existing[i].Name == name || existing[i].Annotations[jobs.RunIDAnnotation] == id
	}
	if handled {
		*st.lastHandled = id
		return nil
	}
	job, err := jobs.BuildJob(in, jobs.Owner{Kind: kind, Name: owner.GetName(), UID: owner.GetUID()}, id)
	if err != nil {
		// No start time: the same failure on the next reconcile writes nothing.
		*st.last = &ansiblev1alpha1.ManualRun{RunID: id, Status: ansiblev1alpha1.ManualRunFailed, Reason: ansiblev1alpha1.ManualRunJobFailedReason,
			Message: fmt.Sprintf("failed to build the Job of run %s: %s", id, err)}
		return reconcile.TerminalError(fmt.Errorf("failed to build the Job of run %q: %w", id, err))
	}
	if err := controllerutil.SetControllerReference(owner, job, c.Scheme()); err != nil {
		return err
	}
	if err := c.Create(ctx, job, client.FieldOwner(FieldOwner)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("failed to create Job %q: %w", job.Name, err)
	}
	*st.lastHandled = id
	now := metav1.Now()
	*st.last = &ansiblev1alpha1.ManualRun{RunID: id, JobRef: jobRef(job.Namespace, job.Name), StartTime: &now,
		Status: ansiblev1alpha1.ManualRunRunning, Reason: ansiblev1alpha1.ManualRunJobCreatedReason,
		Message: fmt.Sprintf("manual run Job %s created", job.Name)}
	if rec != nil {
		rec.Eventf(owner, job, "Normal", "RunStarted", "Run", "run %s started as Job %s at commit %s", id, job.Name, in.Repository.Status.ResolvedRevision)
	}
	return nil
}
