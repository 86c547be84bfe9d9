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
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
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

	written writeLog

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
		Owns(&batchv1.Job{}, builder.WithPredicates(notCreated)).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(ownerOfPod(mgr.GetClient(), ansiblev1alpha1.PlaybookKind))).
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
func (r *PlaybookReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	return spine[*ansiblev1alpha1.Playbook]{
		kind:     ansiblev1alpha1.PlaybookKind,
		client:   r.Client,
		recorder: r.Recorder,
		newObj:   func() *ansiblev1alpha1.Playbook { return &ansiblev1alpha1.Playbook{} },
		steps:    r.steps(),
		written:  &r.written,
		tracker:  r.tracker(),
	}.reconcile(ctx, req)
}

func (r *PlaybookReconciler) tracker() *runTracker {
	return &runTracker{client: r.Client, recorder: r.Recorder, kind: ansiblev1alpha1.PlaybookKind}
}

// playbookRuns are the Playbook's status fields about runs.
func playbookRuns(pb *ansiblev1alpha1.Playbook) runFields {
	return runFields{runs: &pb.Status.Runs, lastManual: &pb.Status.LastManualRun, lastHandled: &pb.Status.LastHandledRunNow}
}

// steps are the Playbook's steps, in order: runs are recorded whatever the
// Playbook's state; a run starts only when every check before it passed.
func (r *PlaybookReconciler) steps() []step[*ansiblev1alpha1.Playbook] {
	return []step[*ansiblev1alpha1.Playbook]{
		r.observeRuns,
		r.loadConfig,
		checkPlaybookPolicies,
		r.getRepository,
		r.preflight,
		r.validatePaths,
		r.runNow,
	}
}

// observeRuns records the Playbook's finished runs (the run tracker).
func (r *PlaybookReconciler) observeRuns(ctx context.Context, pb *ansiblev1alpha1.Playbook, w *work) error {
	return r.tracker().observe(ctx, pb, playbookRuns(pb), w)
}

// checkPlaybookPolicies evaluates playbookPolicies.
func checkPlaybookPolicies(_ context.Context, pb *ansiblev1alpha1.Playbook, w *work) error {
	return playbookPolicies.evaluate(pb, w)
}

// preflight checks the executor's service account and cache claim.
func (r *PlaybookReconciler) preflight(ctx context.Context, pb *ansiblev1alpha1.Playbook, w *work) error {
	return preflightExecutor(ctx, r.Client, pb, w.repo, w.cfg)
}

// runNow starts the run-now id's Job once (the run tracker).
func (r *PlaybookReconciler) runNow(ctx context.Context, pb *ansiblev1alpha1.Playbook, w *work) error {
	in := jobs.Inputs{Playbook: pb, Repository: w.repo, Config: w.cfg, OperatorImage: r.Env.OperatorImage}
	return r.tracker().start(ctx, pb, playbookRuns(pb), in, w)
}

// loadConfig reads the operator config into w.
func (r *PlaybookReconciler) loadConfig(ctx context.Context, _ *ansiblev1alpha1.Playbook, w *work) error {
	return loadConfig(ctx, r.Client, r.Env, w)
}

// loadConfig reads the operator config into w; a config that does not
// parse waits for its ConfigMap (watched) to change.
func loadConfig(ctx context.Context, c client.Reader, env Environment, w *work) error {
	cfg, err := env.config(ctx, c)
	if err != nil {
		return waiting(ansiblev1alpha1.InvalidSpecReason, "operator config: "+err.Error(), 0)
	}
	w.cfg = cfg
	return nil
}

// getRepository reads the Playbook's Repository into w; it must be Ready
// with a resolved commit.
func (r *PlaybookReconciler) getRepository(ctx context.Context, pb *ansiblev1alpha1.Playbook, w *work) error {
	repo := &ansiblev1alpha1.Repository{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: pb.Namespace, Name: pb.Spec.RepositoryRef.Name}, repo); err != nil {
		if apierrors.IsNotFound(err) {
			return waiting(ansiblev1alpha1.RepoNotReadyReason, fmt.Sprintf("Repository %s/%s does not exist", pb.Namespace, pb.Spec.RepositoryRef.Name), 0)
		}
		return fmt.Errorf("failed to get Repository %q: %w", pb.Spec.RepositoryRef.Name, err)
	}
	if err := dependencyReady(ansiblev1alpha1.RepoNotReadyReason, ansiblev1alpha1.RepositoryKind, repo); err != nil {
		return err
	}
	if repo.Status.ResolvedRevision == "" {
		return waiting(ansiblev1alpha1.RepoNotReadyReason, fmt.Sprintf("Repository %s has no resolved revision", repo.Name), 0)
	}
	w.repo = repo
	return nil
}

// dependencyReady checks that dep, a watched object the reconciled one
// needs, is Ready for its current generation. One that has not finished
// its first (or latest) reconcile is pending: its status write brings the
// next reconcile, and writing Ready=False in between would cost a write.
func dependencyReady(reason, kind string, dep conditioned) error {
	ready := meta.FindStatusCondition(dep.GetConditions(), ansiblev1alpha1.ReadyCondition)
	if ready == nil || ready.ObservedGeneration != dep.GetGeneration() {
		return pendingOn(reason, fmt.Sprintf("%s %s is being reconciled", kind, dep.GetName()))
	}
	if ready.Status != metav1.ConditionTrue {
		msg := fmt.Sprintf("%s %s is not Ready", kind, dep.GetName())
		if ready.Message != "" {
			msg += ": " + ready.Message
		}
		return waiting(reason, msg, 0)
	}
	return nil
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
// commit); a missing path waits for a new commit or an edit. It leaves
// Ready's message.
func (r *PlaybookReconciler) validatePaths(ctx context.Context, pb *ansiblev1alpha1.Playbook, w *work) error {
	repo := w.repo
	commit := repo.Status.ResolvedRevision
	w.ready(ansiblev1alpha1.ValidatedReason, "ready to run %s at commit %s", pb.Spec.PlaybookPath, commit)
	if r.CheckPaths == nil {
		setCondition(pb, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionUnknown, ansiblev1alpha1.ValidatedReason, "paths not checked: the run fails fast naming a missing path")
		return nil
	}
	paths := requiredPaths(pb)
	sort.Strings(paths)
	key := repo.Spec.URL + "@" + commit + ":" + strings.Join(paths, ",")
	r.pathsMu.Lock()
	missing, seen := r.pathsSeen[key]
	r.pathsMu.Unlock()
	if !seen {
		auth, err := repositoryAuth(ctx, r.APIReader, repo)
		if err != nil {
			var res *result
			if !errors.As(err, &res) {
				return err
			}
			setCondition(pb, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionUnknown, res.reason, "paths not checked: the Repository's credentials are unavailable")
			return nil
		}
		missing, err = r.CheckPaths(ctx, repo.Spec.URL, repo.GetBranch(), auth, commit, paths)
		if err != nil {
			setCondition(pb, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionUnknown, ansiblev1alpha1.GitOperationFailedReason,
				"paths not checked: "+git.Sanitize(err.Error())+"; the run fails fast naming a missing path")
			return nil
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
		return waiting(ansiblev1alpha1.InvalidPathReason, msg, 0)
	}
	setCondition(pb, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, "paths found at commit "+commit)
	return nil
}
