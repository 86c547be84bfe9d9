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
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
)

func newRepositoryReconciler() (*RepositoryReconciler, *events.FakeRecorder) {
	rec := events.NewFakeRecorder(100)
	return &RepositoryReconciler{
		Client: k8sClient, APIReader: k8sClient, Recorder: rec,
		Clock:         clocktesting.NewFakePassiveClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)),
		ResolveBranch: git.ResolveBranch, LsRemote: git.LsRemote, ResolveRevision: git.ResolveRevision,
	}, rec
}

// notACommit is a 7-digit hex prefix none of commits starts with.
func notACommit(commits ...string) string {
	for _, p := range []string{"0000000", "1111111", "2222222"} {
		if !slices.ContainsFunc(commits, func(c string) bool { return strings.HasPrefix(c, p) }) {
			return p
		}
	}
	panic("three prefixes taken")
}

func boolPtr(b bool) *bool { return &b }

// reconcileRepository creates repo and its objects, reconciles once and
// returns the stored Repository, the result and the error.
func reconcileRepository(t *testing.T, r *RepositoryReconciler, repo *ansiblev1alpha1.Repository, objs ...client.Object) (*ansiblev1alpha1.Repository, reconcile.Result, error) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objs {
		o.SetNamespace(repo.Namespace)
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if repo.ResourceVersion == "" {
		if err := k8sClient.Create(ctx, repo); err != nil {
			t.Fatal(err)
		}
	}
	res, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: repo.Namespace, Name: repo.Name}})
	got := &ansiblev1alpha1.Repository{}
	if gerr := k8sClient.Get(ctx, client.ObjectKeyFromObject(repo), got); gerr != nil {
		t.Fatal(gerr)
	}
	return got, res, err
}

func condition(obj conditioned, typ string) metav1.Condition {
	if c := meta.FindStatusCondition(obj.GetConditions(), typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

func TestRepositoryReconciler_servers(t *testing.T) {
	requireEnv(t)
	src := gittest.NewRepo(t, map[string]string{"site.yml": "- hosts: all\n"})
	src.Branch(t, "release")
	// A commit of release that is no branch's tip: only a fetch finds it.
	pinned := src.Commit(t, map[string]string{"pinned.yml": "- hosts: all\n"}, "pinned")
	src.Commit(t, map[string]string{"later.yml": "- hosts: all\n"}, "later")
	bare := src.Bare(t)
	head, release := src.Head(t, "main"), src.Head(t, "release")
	httpURL := gittest.StartHTTP(t, bare, "git-user", "s3cret-password")
	sshd := gittest.StartSSHD(t, bare)
	daemonURL := gittest.StartDaemon(t, bare)
	_, otherKey := gittest.NewSSHKey(t)
	otherHost := gittest.StartSSHD(t, bare) // another host key for the mismatch case

	secret := func(data map[string]string, typ corev1.SecretType) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, Type: typ, StringData: data}
		return s
	}
	knownHosts := func(b []byte) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "known-hosts"}, Data: map[string]string{"known_hosts": string(b)}}
	}
	httpsAuth := &ansiblev1alpha1.RepositoryAuth{Method: ansiblev1alpha1.AuthMethodHTTPS, SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "creds"}}
	tokenAuth := &ansiblev1alpha1.RepositoryAuth{Method: ansiblev1alpha1.AuthMethodToken, SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "creds"}}
	sshAuth := &ansiblev1alpha1.RepositoryAuth{Method: ansiblev1alpha1.AuthMethodSSH, SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "creds"}}
	strict := &ansiblev1alpha1.RepositorySSH{KnownHostsConfigMapRef: &ansiblev1alpha1.LocalObjectReference{Name: "known-hosts"}}

	cases := map[string]struct {
		spec     ansiblev1alpha1.RepositorySpec
		objs     []client.Object
		ready    bool
		reason   string // Ready's reason
		authCond metav1.ConditionStatus
		revision string
		wantErr  bool
	}{
		"anonymous git daemon resolves main": {
			spec: ansiblev1alpha1.RepositorySpec{URL: daemonURL, Branch: "main"}, ready: true, reason: ansiblev1alpha1.ValidatedReason, revision: head,
		},
		"anonymous git daemon resolves another branch": {
			spec: ansiblev1alpha1.RepositorySpec{URL: daemonURL, Branch: "release"}, ready: true, reason: ansiblev1alpha1.ValidatedReason, revision: release,
		},
		"https basic-auth Secret resolves": {
			spec:  ansiblev1alpha1.RepositorySpec{URL: httpURL, Branch: "main", Auth: httpsAuth},
			objs:  []client.Object{secret(map[string]string{"username": "git-user", "password": "s3cret-password"}, corev1.SecretTypeBasicAuth)},
			ready: true, reason: ansiblev1alpha1.ValidatedReason, revision: head, authCond: metav1.ConditionTrue,
		},
		"https token Secret with a username resolves": {
			spec:  ansiblev1alpha1.RepositorySpec{URL: httpURL, Branch: "main", Auth: tokenAuth},
			objs:  []client.Object{secret(map[string]string{"username": "git-user", "token": "s3cret-password"}, corev1.SecretTypeOpaque)},
			ready: true, reason: ansiblev1alpha1.ValidatedReason, revision: head, authCond: metav1.ConditionTrue,
		},
		"wrong password is AuthenticationFailed": {
			spec:   ansiblev1alpha1.RepositorySpec{URL: httpURL, Branch: "main", Auth: httpsAuth},
			objs:   []client.Object{secret(map[string]string{"username": "git-user", "password": "not-the-password"}, corev1.SecretTypeBasicAuth)},
			reason: ansiblev1alpha1.AuthenticationFailedReason, authCond: metav1.ConditionFalse,
		},
		"a token without username uses oauth2 and is refused here": {
			spec:   ansiblev1alpha1.RepositorySpec{URL: httpURL, Branch: "main", Auth: tokenAuth},
			objs:   []client.Object{secret(map[string]string{"token": "s3cret-password"}, corev1.SecretTypeOpaque)},
			reason: ansiblev1alpha1.AuthenticationFailedReason, authCond: metav1.ConditionFalse,
		},
		"missing Secret is SecretNotFound": {
			spec:   ansiblev1alpha1.RepositorySpec{URL: httpURL, Branch: "main", Auth: httpsAuth},
			reason: ansiblev1alpha1.SecretNotFoundReason, authCond: metav1.ConditionFalse,
		},
		"Secret without the key is InvalidSecret": {
			spec:   ansiblev1alpha1.RepositorySpec{URL: httpURL, Branch: "main", Auth: tokenAuth},
			objs:   []client.Object{secret(map[string]string{"password": "x"}, corev1.SecretTypeOpaque)},
			reason: ansiblev1alpha1.InvalidSecretReason, authCond: metav1.ConditionFalse,
		},
		"ssh key and known_hosts resolve": {
			spec:  ansiblev1alpha1.RepositorySpec{URL: sshd.URL, Branch: "main", Auth: sshAuth, SSH: strict},
			objs:  []client.Object{secret(map[string]string{"ssh-privatekey": string(sshd.ClientKey)}, corev1.SecretTypeSSHAuth), knownHosts(sshd.KnownHosts)},
			ready: true, reason: ansiblev1alpha1.ValidatedReason, revision: head, authCond: metav1.ConditionTrue,
		},
		"another host's key in known_hosts is HostKeyMismatch": {
			spec: ansiblev1alpha1.RepositorySpec{URL: sshd.URL, Branch: "main", Auth: sshAuth, SSH: strict},
			objs: []client.Object{secret(map[string]string{"ssh-privatekey": string(sshd.ClientKey)}, corev1.SecretTypeSSHAuth),
				knownHosts([]byte(strings.Replace(string(otherHost.KnownHosts), "]:"+strconv.Itoa(otherHost.Port), "]:"+strconv.Itoa(sshd.Port), 1)))},
			reason: ansiblev1alpha1.HostKeyMismatchReason, authCond: metav1.ConditionFalse,
		},
		"a key the server does not know is AuthenticationFailed": {
			spec:   ansiblev1alpha1.RepositorySpec{URL: sshd.URL, Branch: "main", Auth: sshAuth, SSH: strict},
			objs:   []client.Object{secret(map[string]string{"ssh-privatekey": string(otherKey)}, corev1.SecretTypeSSHAuth), knownHosts(sshd.KnownHosts)},
			reason: ansiblev1alpha1.AuthenticationFailedReason, authCond: metav1.ConditionFalse,
		},
		"missing known_hosts ConfigMap is ConfigMapNotFound": {
			spec:   ansiblev1alpha1.RepositorySpec{URL: sshd.URL, Branch: "main", Auth: sshAuth, SSH: strict},
			objs:   []client.Object{secret(map[string]string{"ssh-privatekey": string(sshd.ClientKey)}, corev1.SecretTypeSSHAuth)},
			reason: ansiblev1alpha1.ConfigMapNotFoundReason, authCond: metav1.ConditionFalse,
		},
		"strictHostKeyChecking false needs no known_hosts": {
			spec:  ansiblev1alpha1.RepositorySpec{URL: sshd.URL, Branch: "main", Auth: sshAuth, SSH: &ansiblev1alpha1.RepositorySSH{StrictHostKeyChecking: boolPtr(false)}},
			objs:  []client.Object{secret(map[string]string{"ssh-privatekey": string(sshd.ClientKey)}, corev1.SecretTypeSSHAuth)},
			ready: true, reason: ansiblev1alpha1.ValidatedReason, revision: head, authCond: metav1.ConditionTrue,
		},
		"missing branch is BranchNotFound": {
			spec:   ansiblev1alpha1.RepositorySpec{URL: daemonURL, Branch: "nope"},
			reason: ansiblev1alpha1.BranchNotFoundReason,
		},
		"unreachable host is GitOperationFailed and retried": {
			spec:    ansiblev1alpha1.RepositorySpec{URL: "git://127.0.0.1:1/nothing", Branch: "main"},
			reason:  ansiblev1alpha1.GitOperationFailedReason,
			wantErr: true,
		},
		"a URL with credentials in it is stalled, and the password is not repeated": {
			spec:    ansiblev1alpha1.RepositorySpec{URL: strings.Replace(httpURL, "http://", "http://git-user:s3cret-password@", 1), Branch: "main"},
			reason:  ansiblev1alpha1.InvalidSpecReason,
			wantErr: true,
		},
		"a pinned revision is recorded as is": {
			spec:  ansiblev1alpha1.RepositorySpec{URL: daemonURL, Branch: "main", Revision: release},
			ready: true, reason: ansiblev1alpha1.ValidatedReason, revision: release,
		},
		"an abbreviated revision of a commit that is no tip resolves to the full commit": {
			spec:  ansiblev1alpha1.RepositorySpec{URL: daemonURL, Branch: "main", Revision: pinned[:7]},
			ready: true, reason: ansiblev1alpha1.ValidatedReason, revision: pinned,
		},
		"an abbreviated upper-case revision over https with credentials resolves": {
			spec:  ansiblev1alpha1.RepositorySpec{URL: httpURL, Branch: "main", Revision: strings.ToUpper(pinned[:12]), Auth: httpsAuth},
			objs:  []client.Object{secret(map[string]string{"username": "git-user", "password": "s3cret-password"}, corev1.SecretTypeBasicAuth)},
			ready: true, reason: ansiblev1alpha1.ValidatedReason, revision: pinned, authCond: metav1.ConditionTrue,
		},
		"a full upper-case revision is recorded in lower case": {
			spec:  ansiblev1alpha1.RepositorySpec{URL: daemonURL, Branch: "main", Revision: strings.ToUpper(pinned)},
			ready: true, reason: ansiblev1alpha1.ValidatedReason, revision: pinned,
		},
		"an abbreviated revision of no commit is RevisionNotFound": {
			spec:   ansiblev1alpha1.RepositorySpec{URL: daemonURL, Branch: "main", Revision: notACommit(pinned, head, release)},
			reason: ansiblev1alpha1.RevisionNotFoundReason, authCond: metav1.ConditionTrue,
		},
		"a SHA-256 revision is stalled": {
			spec:    ansiblev1alpha1.RepositorySpec{URL: daemonURL, Branch: "main", Revision: strings.Repeat("ab", 32)},
			reason:  ansiblev1alpha1.InvalidSpecReason,
			wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ns := newNamespace(t)
			r, rec := newRepositoryReconciler()
			repo := &ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "infra", Namespace: ns}, Spec: tc.spec}
			got, res, err := reconcileRepository(t, r, repo, tc.objs...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			ready := condition(got, ansiblev1alpha1.ReadyCondition)
			if (ready.Status == metav1.ConditionTrue) != tc.ready || ready.Reason != tc.reason {
				t.Fatalf("Ready = %s/%s %q, want ready=%v reason %s", ready.Status, ready.Reason, ready.Message, tc.ready, tc.reason)
			}
			if ready.ObservedGeneration != got.Generation || got.Status.ObservedGeneration != got.Generation {
				t.Errorf("observedGeneration not set: condition %d status %d generation %d", ready.ObservedGeneration, got.Status.ObservedGeneration, got.Generation)
			}
			if tc.authCond != "" {
				if c := condition(got, ansiblev1alpha1.AuthValidCondition); c.Status != tc.authCond {
					t.Errorf("AuthValid = %s/%s %q, want %s", c.Status, c.Reason, c.Message, tc.authCond)
				}
			}
			if got.Status.ResolvedRevision != tc.revision {
				t.Errorf("resolvedRevision = %q, want %q", got.Status.ResolvedRevision, tc.revision)
			}
			if tc.ready {
				if got.Status.LastSyncTime == nil || res.RequeueAfter != ansiblev1alpha1.DefaultRepositoryInterval {
					t.Errorf("lastSyncTime %v, requeue %v: want a sync time and a requeue after the interval", got.Status.LastSyncTime, res.RequeueAfter)
				}
				if condition(got, ansiblev1alpha1.StalledCondition).Status != "" || condition(got, ansiblev1alpha1.ReconcilingCondition).Status != "" {
					t.Error("Stalled/Reconciling present on a ready Repository")
				}
			}
			// Nothing secret in conditions or events.
			var texts []string
			for _, c := range got.Status.Conditions {
				texts = append(texts, c.Message)
			}
			close(rec.Events)
			for e := range rec.Events {
				texts = append(texts, e)
			}
			for _, s := range texts {
				for _, secret := range []string{"s3cret-password", "not-the-password", "PRIVATE KEY"} {
					if strings.Contains(s, secret) {
						t.Errorf("a secret leaked into %q", s)
					}
				}
			}
			// A new Repository that fails is announced; one that becomes
			// Ready is not (its status says so).
			if events := len(texts) - len(got.Status.Conditions); tc.ready && events != 0 {
				t.Errorf("%d events for a new Repository's first Ready, want none", events)
			} else if !tc.ready && events == 0 {
				t.Error("no Warning event was recorded for the failure")
			}
		})
	}
}
