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

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/schedule"
)

// policy is one validation of a spec that the API server accepted but that
// cannot work (cert-manager's policy chains): a pure function of the object
// and what the steps before it read (w), that reports a violation's reason
// and message. A violation stalls the object until the user edits it.
type policy[T any] func(obj T, w *work) (reason, message string, violated bool)

// policyChain evaluates policies in order; the first violation wins.
type policyChain[T any] []policy[T]

// evaluate returns the first violation as a stalled result, or nil.
func (c policyChain[T]) evaluate(obj T, w *work) error {
	for _, p := range c {
		if reason, message, violated := p(obj, w); violated {
			return stalled(reason, message)
		}
	}
	return nil
}

// repositoryPolicies are the Repository's checks before any git access.
var repositoryPolicies = policyChain[*ansiblev1alpha1.Repository]{
	validURL,
}

// playbookPolicies are the Playbook's checks once the operator config is read.
var playbookPolicies = policyChain[*ansiblev1alpha1.Playbook]{
	repositoryInNamespace,
	executorPinned,
}

// schedulePolicies are the Schedule's checks once the operator config is
// read and the schedule computed (w.computed).
var schedulePolicies = policyChain[*ansiblev1alpha1.Schedule]{
	playbookInNamespace,
	validSchedule,
}

func validURL(repo *ansiblev1alpha1.Repository, _ *work) (string, string, bool) {
	if err := git.ValidateURL(repo.Spec.URL); err != nil {
		return ansiblev1alpha1.InvalidSpecReason, "spec.url: " + err.Error(), true
	}
	return "", "", false
}

func repositoryInNamespace(pb *ansiblev1alpha1.Playbook, _ *work) (string, string, bool) {
	return sameNamespace("spec.repositoryRef", pb.Spec.RepositoryRef.Namespace, pb.Namespace)
}

func playbookInNamespace(s *ansiblev1alpha1.Schedule, _ *work) (string, string, bool) {
	return sameNamespace("spec.playbookRef", s.Spec.PlaybookRef.Namespace, s.Namespace)
}

// sameNamespace checks a reference's optional namespace (the Python
// operator's examples set it; cross-namespace references are not supported).
func sameNamespace(field, refNamespace, namespace string) (string, string, bool) {
	if refNamespace == "" || refNamespace == namespace {
		return "", "", false
	}
	return ansiblev1alpha1.InvalidSpecReason, fmt.Sprintf("%s.namespace %q must be empty or this object's namespace %q: references across namespaces are not supported", field, refNamespace, namespace), true
}

// executorPinned enforces the operator config's requirePinnedExecutor.
func executorPinned(pb *ansiblev1alpha1.Playbook, w *work) (string, string, bool) {
	image, pinned := jobs.ExecutorImage(pb, w.cfg)
	if !w.cfg.RequirePinnedExecutor || pinned {
		return "", "", false
	}
	return ansiblev1alpha1.ExecutorNotPinnedReason, fmt.Sprintf("executor image %s has no digest and the operator config sets requirePinnedExecutor: pin it (pin-images pin -w on the manifests, or set spec.runtime.image to repo:tag@sha256:…)", image), true
}

// validSchedule checks the computed cron expression.
func validSchedule(_ *ansiblev1alpha1.Schedule, w *work) (string, string, bool) {
	if err := schedule.Validate(w.computed); err != nil {
		return ansiblev1alpha1.InvalidSpecReason, "spec.schedule: " + err.Error(), true
	}
	return "", "", false
}
