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
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
)

// missingDependencyRetry re-checks a missing Secret or ConfigMap: they are
// read with the API reader (no cluster-wide Secret cache), so not watched.
const missingDependencyRetry = 30 * time.Second

// RepositoryReconciler resolves a Repository's branch (or pinned revision)
// to a commit with an in-process ls-remote, every spec.interval.
type RepositoryReconciler struct {
	Client client.Client
	// APIReader reads Secrets and ConfigMaps directly from the API server.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// ResolveBranch, LsRemote and ResolveRevision are the git seams
	// (git.ResolveBranch, git.LsRemote and git.ResolveRevision).
	ResolveBranch   func(ctx context.Context, url, branch string, auth git.Auth) (string, error)
	LsRemote        func(ctx context.Context, url string, auth git.Auth) ([]git.Ref, error)
	ResolveRevision func(ctx context.Context, url, revision string, auth git.Auth) (string, error)
	// MaxConcurrentReconciles is the number of workers; 0 means
	// DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int

	written writeLog
}

var _ reconcile.Reconciler = (*RepositoryReconciler)(nil)

// +kubebuilder:rbac:groups=ansible.cloud37.dev,resources=repositories,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=ansible.cloud37.dev,resources=repositories/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets;configmaps,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the reconciler.
func (r *RepositoryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.ResolveBranch == nil {
		r.ResolveBranch = git.ResolveBranch
	}
	if r.LsRemote == nil {
		r.LsRemote = git.LsRemote
	}
	if r.ResolveRevision == nil {
		r.ResolveRevision = git.ResolveRevision
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&ansiblev1alpha1.Repository{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("repository").
		WithOptions(controllerOptions(r.MaxConcurrentReconciles)).
		Complete(r)
}

// Reconcile implements reconcile.Reconciler.
func (r *RepositoryReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	return spine[*ansiblev1alpha1.Repository]{
		kind:     ansiblev1alpha1.RepositoryKind,
		client:   r.Client,
		recorder: r.Recorder,
		newObj:   func() *ansiblev1alpha1.Repository { return &ansiblev1alpha1.Repository{} },
		steps:    r.steps(),
		written:  &r.written,
	}.reconcile(ctx, req)
}

// steps are the Repository's steps, in order.
func (r *RepositoryReconciler) steps() []step[*ansiblev1alpha1.Repository] {
	return []step[*ansiblev1alpha1.Repository]{
		checkRepositoryPolicies,
		r.skipWithinInterval,
		r.resolveRevision,
	}
}

// checkRepositoryPolicies evaluates repositoryPolicies.
func checkRepositoryPolicies(_ context.Context, repo *ansiblev1alpha1.Repository, w *work) error {
	return repositoryPolicies.evaluate(repo, w)
}

// skipWithinInterval ends a reconcile within the interval of a complete
// sync: a restart (or any event) asks the git server nothing and writes
// nothing, since the sync is driven by time.
func (r *RepositoryReconciler) skipWithinInterval(_ context.Context, repo *ansiblev1alpha1.Repository, w *work) error {
	last := repo.Status.LastSyncTime
	ready := meta.FindStatusCondition(repo.Status.Conditions, ansiblev1alpha1.ReadyCondition)
	if last == nil || repo.Status.ObservedGeneration != repo.Generation || ready == nil || ready.Status != metav1.ConditionTrue {
		return nil
	}
	wait := last.Add(repo.GetInterval()).Sub(r.Clock.Now())
	if wait <= 0 {
		return nil
	}
	w.ready(ready.Reason, "%s", ready.Message)
	w.requeueAfter = wait
	return errUpToDate
}

// resolveRevision reads the credentials and asks the git server for the
// commit; it sets AuthValid, CloneReady, resolvedRevision and lastSyncTime.
func (r *RepositoryReconciler) resolveRevision(ctx context.Context, repo *ansiblev1alpha1.Repository, w *work) error {
	log := ctrl.LoggerFrom(ctx)
	auth, err := repositoryAuth(ctx, r.APIReader, repo)
	if err != nil {
		var res *result
		if errors.As(err, &res) {
			setCondition(repo, ansiblev1alpha1.AuthValidCondition, metav1.ConditionFalse, res.reason, res.message)
			log.Info("Repository credentials unavailable", "reason", res.reason)
			res.requeueAfter = min(missingDependencyRetry, repo.GetInterval())
		}
		return err
	}
	commit, err := r.resolve(ctx, repo, auth)
	if err != nil {
		return gitResult(repo, err)
	}
	now := metav1.NewTime(r.Clock.Now())
	if repo.Status.ResolvedRevision != commit {
		log.Info("Repository resolved", "revision", commit)
	}
	repo.Status.ResolvedRevision = commit
	repo.Status.LastSyncTime = &now
	setCondition(repo, ansiblev1alpha1.AuthValidCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, "the git server accepted the credentials")
	what := fmt.Sprintf("branch %s", repo.GetBranch())
	if repo.Spec.Revision != "" {
		what = fmt.Sprintf("pinned revision %s", repo.Spec.Revision)
	}
	setCondition(repo, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, fmt.Sprintf("%s is %s", what, commit))
	w.ready(ansiblev1alpha1.ValidatedReason, "resolved %s to %s", what, commit)
	w.requeueAfter = repo.GetInterval()
	return nil
}

// gitResult sets AuthValid and CloneReady from a failed resolve and
// classifies it: an invalid revision stalls, a network or server failure
// is transient, the rest (credentials refused, no such branch) wait for an
// edit or the next interval.
func gitResult(repo *ansiblev1alpha1.Repository, err error) error {
	reason, cond := gitFailure(err)
	msg := git.Sanitize(err.Error())
	if cond == ansiblev1alpha1.AuthValidCondition {
		setCondition(repo, ansiblev1alpha1.AuthValidCondition, metav1.ConditionFalse, reason, msg)
		setCondition(repo, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionUnknown, reason, "not checked: the git server refused the credentials or host key")
	} else {
		if serverAnswered(err) {
			setCondition(repo, ansiblev1alpha1.AuthValidCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, "the git server accepted the credentials")
		} else {
			setCondition(repo, ansiblev1alpha1.AuthValidCondition, metav1.ConditionUnknown, reason, "not checked: the git server could not be asked")
		}
		setCondition(repo, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionFalse, reason, msg)
	}
	switch {
	case git.ReasonOf(err) == git.InvalidRevision:
		return stalled(reason, msg)
	case reason == ansiblev1alpha1.GitOperationFailedReason:
		return transient(reason, msg, err)
	}
	return waiting(reason, msg, repo.GetInterval())
}

// resolve asks the remote: the branch's tip, or, for a pinned revision,
// that the remote answers with these credentials (ls-remote cannot list
// every commit; the run fetches the branch and checks out exactly the
// revision) and the full commit the revision names. An abbreviation is
// resolved once per spec: a commit's name never changes.
func (r *RepositoryReconciler) resolve(ctx context.Context, repo *ansiblev1alpha1.Repository, auth git.Auth) (string, error) {
	if repo.Spec.Revision == "" {
		return r.ResolveBranch(ctx, repo.Spec.URL, repo.GetBranch(), auth)
	}
	if _, err := r.LsRemote(ctx, repo.Spec.URL, auth); err != nil {
		return "", err
	}
	prev := repo.Status.ResolvedRevision
	if repo.Status.ObservedGeneration == repo.Generation && git.IsFullHash(prev) && strings.HasPrefix(prev, strings.ToLower(repo.Spec.Revision)) {
		return prev, nil
	}
	return r.ResolveRevision(ctx, repo.Spec.URL, repo.Spec.Revision, auth)
}

// serverAnswered reports whether err came after the git server accepted
// the credentials: the branch or revision is not there, or cannot be used.
func serverAnswered(err error) bool {
	switch git.ReasonOf(err) {
	case git.BranchNotFound, git.RevisionNotFound, git.InvalidRevision, git.TooLarge:
		return true
	}
	return false
}

// gitFailure maps a git error to a condition reason and the condition it is about.
func gitFailure(err error) (reason, condition string) {
	switch git.ReasonOf(err) {
	case git.AuthFailed:
		return ansiblev1alpha1.AuthenticationFailedReason, ansiblev1alpha1.AuthValidCondition
	case git.HostKeyMismatch:
		return ansiblev1alpha1.HostKeyMismatchReason, ansiblev1alpha1.AuthValidCondition
	case git.BranchNotFound:
		return ansiblev1alpha1.BranchNotFoundReason, ansiblev1alpha1.CloneReadyCondition
	case git.RevisionNotFound, git.TooLarge:
		return ansiblev1alpha1.RevisionNotFoundReason, ansiblev1alpha1.CloneReadyCondition
	case git.InvalidURL, git.InvalidRevision:
		return ansiblev1alpha1.InvalidSpecReason, ansiblev1alpha1.CloneReadyCondition
	}
	return ansiblev1alpha1.GitOperationFailedReason, ansiblev1alpha1.CloneReadyCondition
}

// repositoryAuth builds the credentials from the Secret (git.Credentials
// decides which keys the auth method takes) and the known_hosts ConfigMap,
// read with the API reader. What is missing is a waiting *result whose
// message names the object and key, never a value.
func repositoryAuth(ctx context.Context, reader client.Reader, repo *ansiblev1alpha1.Repository) (git.Auth, error) {
	var auth git.Auth
	spec := repo.Spec
	if spec.Auth != nil && spec.Auth.Method != "" && spec.Auth.SecretRef != nil {
		secret := &corev1.Secret{}
		key := types.NamespacedName{Namespace: repo.Namespace, Name: spec.Auth.SecretRef.Name}
		if err := reader.Get(ctx, key, secret); err != nil {
			if apierrors.IsNotFound(err) {
				return auth, waiting(ansiblev1alpha1.SecretNotFoundReason, fmt.Sprintf("Secret %s/%s named by spec.auth.secretRef does not exist: create it", key.Namespace, key.Name), 0)
			}
			return auth, waiting(ansiblev1alpha1.SecretNotFoundReason, fmt.Sprintf("Secret %s/%s could not be read: %s", key.Namespace, key.Name, apierrors.ReasonForError(err)), 0)
		}
		var err error
		auth, err = git.Credentials(string(spec.Auth.Method), func(k string) ([]byte, error) { return secret.Data[k], nil })
		var missing *git.MissingKeyError
		switch {
		case errors.As(err, &missing):
			return auth, waiting(ansiblev1alpha1.InvalidSecretReason, fmt.Sprintf("Secret %s/%s has %s", key.Namespace, key.Name, missing), 0)
		case err != nil:
			return auth, stalled(ansiblev1alpha1.InvalidSpecReason, "spec.auth.method: "+err.Error())
		}
	}
	if spec.SSH != nil && spec.SSH.StrictHostKeyChecking != nil && !*spec.SSH.StrictHostKeyChecking {
		auth.InsecureIgnoreHostKey = true
	}
	if spec.SSH != nil && spec.SSH.KnownHostsConfigMapRef != nil {
		cm := &corev1.ConfigMap{}
		key := types.NamespacedName{Namespace: repo.Namespace, Name: spec.SSH.KnownHostsConfigMapRef.Name}
		err := reader.Get(ctx, key, cm)
		switch {
		case apierrors.IsNotFound(err):
			return auth, waiting(ansiblev1alpha1.ConfigMapNotFoundReason, fmt.Sprintf("ConfigMap %s/%s named by spec.ssh.knownHostsConfigMapRef does not exist: create it with the key known_hosts (ssh-keyscan output)", key.Namespace, key.Name), 0)
		case err != nil:
			return auth, waiting(ansiblev1alpha1.ConfigMapNotFoundReason, fmt.Sprintf("ConfigMap %s/%s could not be read: %s", key.Namespace, key.Name, apierrors.ReasonForError(err)), 0)
		case cm.Data["known_hosts"] == "":
			return auth, waiting(ansiblev1alpha1.ConfigMapNotFoundReason, fmt.Sprintf("ConfigMap %s/%s has no key known_hosts: add the ssh-keyscan output of the git server", key.Namespace, key.Name), 0)
		}
		auth.SSHKnownHosts = []byte(cm.Data["known_hosts"])
	}
	return auth, nil
}
