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
	"github.com/cloud37/ansible-playbook-operator/operator/internal/metrics"
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
func (r *RepositoryReconciler) Reconcile(ctx context.Context, req reconcile.Request) (res reconcile.Result, retErr error) {
	done := metrics.StartReconcile("Repository")
	defer func() { done(retErr) }()

	repo := &ansiblev1alpha1.Repository{}
	if err := r.Client.Get(ctx, req.NamespacedName, repo); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if _, err := releaseLegacy(ctx, r.Client, repo); err != nil {
		return reconcile.Result{}, err
	}
	base := repo.DeepCopy()
	res, err := r.reconcile(ctx, repo)
	if perr := patchStatus(ctx, r.Client, base, repo, &base.Status, &repo.Status); perr != nil {
		return reconcile.Result{}, errors.Join(err, perr)
	}
	emitReadyTransition(r.Recorder, repo, base.Status.Conditions)
	return res, err
}

// reconcile runs the steps and summarizes; it only changes repo's status.
func (r *RepositoryReconciler) reconcile(ctx context.Context, repo *ansiblev1alpha1.Repository) (reconcile.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	if err := git.ValidateURL(repo.Spec.URL); err != nil {
		summarize(repo, outcome{reason: ansiblev1alpha1.InvalidSpecReason, message: "spec.url: " + err.Error(), stalled: true})
		repo.Status.ObservedGeneration = repo.Generation
		return reconcile.Result{}, reconcile.TerminalError(err)
	}
	// A restart (or any event) within the interval of a complete sync asks
	// the git server nothing and writes nothing: the sync is driven by time.
	if last := repo.Status.LastSyncTime; last != nil && repo.Status.ObservedGeneration == repo.Generation &&
		conditionTrue(repo, ansiblev1alpha1.ReadyCondition) {
		if wait := last.Add(repo.GetInterval()).Sub(r.Clock.Now()); wait > 0 {
			return reconcile.Result{RequeueAfter: wait}, nil
		}
	}
	auth, reason, msg := repositoryAuth(ctx, r.APIReader, repo)
	if reason != "" {
		setCondition(repo, ansiblev1alpha1.AuthValidCondition, metav1.ConditionFalse, reason, msg)
		summarize(repo, outcome{reason: reason, message: msg})
		repo.Status.ObservedGeneration = repo.Generation
		log.Info("Repository credentials unavailable", "reason", reason)
		return reconcile.Result{RequeueAfter: min(missingDependencyRetry, repo.GetInterval())}, nil
	}

	commit, err := r.resolve(ctx, repo, auth)
	if err != nil {
		reason, cond := gitFailure(err)
		msg := git.Sanitize(err.Error())
		if cond == ansiblev1alpha1.AuthValidCondition {
			setCondition(repo, ansiblev1alpha1.AuthValidCondition, metav1.ConditionFalse, reason, msg)
			setCondition(repo, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionUnknown, reason, "not checked: the git server refused the credentials or host key")
		} else {
			setCondition(repo, ansiblev1alpha1.AuthValidCondition, metav1.ConditionUnknown, reason, "not checked: the git server could not be asked")
			if serverAnswered(err) {
				setCondition(repo, ansiblev1alpha1.AuthValidCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, "the git server accepted the credentials")
			}
			setCondition(repo, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionFalse, reason, msg)
		}
		stalled := git.ReasonOf(err) == git.InvalidRevision
		summarize(repo, outcome{reason: reason, message: msg, stalled: stalled})
		repo.Status.ObservedGeneration = repo.Generation
		log.Info("Repository not resolved", "reason", reason, "message", msg)
		if stalled {
			return reconcile.Result{}, reconcile.TerminalError(err)
		}
		if reason == ansiblev1alpha1.GitOperationFailedReason {
			// Transient (network, server): controller-runtime's backoff applies.
			return reconcile.Result{}, fmt.Errorf("failed to resolve repository %q: %s", repo.Name, msg)
		}
		return reconcile.Result{RequeueAfter: repo.GetInterval()}, nil
	}

	now := metav1.NewTime(r.Clock.Now())
	if repo.Status.ResolvedRevision != commit {
		log.Info("Repository resolved", "revision", commit)
	}
	repo.Status.ResolvedRevision = commit
	repo.Status.LastSyncTime = &now
	setCondition(repo, ansiblev1alpha1.AuthValidCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, "the git server accepted the credentials")
	what := fmt.Sprintf("branch %s", repo.Spec.Branch)
	if repo.Spec.Revision != "" {
		what = fmt.Sprintf("pinned revision %s", repo.Spec.Revision)
	}
	setCondition(repo, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, fmt.Sprintf("%s is %s", what, commit))
	summarize(repo, outcome{ready: true, reason: ansiblev1alpha1.ValidatedReason, message: fmt.Sprintf("resolved %s to %s", what, commit)})
	repo.Status.ObservedGeneration = repo.Generation
	return reconcile.Result{RequeueAfter: repo.GetInterval()}, nil
}

// resolve asks the remote: the branch's tip, or, for a pinned revision,
// that the remote answers with these credentials (ls-remote cannot list
// every commit; the run fetches the branch and checks out exactly the
// revision) and the full commit the revision names. An abbreviation is
// resolved once per spec: a commit's name never changes.
func (r *RepositoryReconciler) resolve(ctx context.Context, repo *ansiblev1alpha1.Repository, auth git.Auth) (string, error) {
	if repo.Spec.Revision == "" {
		branch := repo.Spec.Branch
		if branch == "" {
			branch = "main"
		}
		return r.ResolveBranch(ctx, repo.Spec.URL, branch, auth)
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

// repositoryAuth builds the credentials from the Secret and known_hosts
// ConfigMap, read with the API reader. A non-empty reason says what is
// missing; the message names the object and key, never a value.
func repositoryAuth(ctx context.Context, reader client.Reader, repo *ansiblev1alpha1.Repository) (git.Auth, string, string) {
	var auth git.Auth
	spec := repo.Spec
	if spec.Auth != nil && spec.Auth.Method != "" && spec.Auth.SecretRef != nil {
		secret := &corev1.Secret{}
		key := types.NamespacedName{Namespace: repo.Namespace, Name: spec.Auth.SecretRef.Name}
		if err := reader.Get(ctx, key, secret); err != nil {
			if apierrors.IsNotFound(err) {
				return auth, ansiblev1alpha1.SecretNotFoundReason, fmt.Sprintf("Secret %s/%s named by spec.auth.secretRef does not exist: create it", key.Namespace, key.Name)
			}
			return auth, ansiblev1alpha1.SecretNotFoundReason, fmt.Sprintf("Secret %s/%s could not be read: %s", key.Namespace, key.Name, apierrors.ReasonForError(err))
		}
		data := secret.Data
		missing := func(keys string) string {
			return fmt.Sprintf("Secret %s/%s has no key %s, which auth.method %s needs", key.Namespace, key.Name, keys, spec.Auth.Method)
		}
		switch spec.Auth.Method {
		case ansiblev1alpha1.AuthMethodSSH:
			if len(data["ssh-privatekey"]) == 0 {
				return auth, ansiblev1alpha1.InvalidSecretReason, missing("ssh-privatekey")
			}
			auth.SSHPrivateKey = data["ssh-privatekey"]
		case ansiblev1alpha1.AuthMethodHTTPS, ansiblev1alpha1.AuthMethodToken:
			switch {
			case len(data["token"]) > 0:
				auth.Username, auth.Password = string(data["username"]), string(data["token"])
				if auth.Username == "" {
					auth.Username = "oauth2"
				}
			case spec.Auth.Method == ansiblev1alpha1.AuthMethodHTTPS && len(data["password"]) > 0:
				auth.Username, auth.Password = string(data["username"]), string(data["password"])
			case spec.Auth.Method == ansiblev1alpha1.AuthMethodHTTPS:
				return auth, ansiblev1alpha1.InvalidSecretReason, missing("token (or username and password)")
			default:
				return auth, ansiblev1alpha1.InvalidSecretReason, missing("token")
			}
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
			return auth, ansiblev1alpha1.ConfigMapNotFoundReason, fmt.Sprintf("ConfigMap %s/%s named by spec.ssh.knownHostsConfigMapRef does not exist: create it with the key known_hosts (ssh-keyscan output)", key.Namespace, key.Name)
		case err != nil:
			return auth, ansiblev1alpha1.ConfigMapNotFoundReason, fmt.Sprintf("ConfigMap %s/%s could not be read: %s", key.Namespace, key.Name, apierrors.ReasonForError(err))
		case cm.Data["known_hosts"] == "":
			return auth, ansiblev1alpha1.ConfigMapNotFoundReason, fmt.Sprintf("ConfigMap %s/%s has no key known_hosts: add the ssh-keyscan output of the git server", key.Namespace, key.Name)
		}
		auth.SSHKnownHosts = []byte(cm.Data["known_hosts"])
	}
	return auth, "", ""
}
