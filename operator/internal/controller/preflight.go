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
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/opconfig"
)

// Environment is what run building needs from the operator's own setup.
type Environment struct {
	// ConfigMap is the OperatorConfig ConfigMap (key config.yaml).
	ConfigMap types.NamespacedName
	// OperatorImage is the operator's own image, as its Pod names it; the
	// init container of every run copies playbook-runner from it.
	OperatorImage string
}

// config reads the OperatorConfig; a missing ConfigMap means the defaults.
func (e Environment) config(ctx context.Context, c client.Reader) (opconfig.Config, error) {
	if e.ConfigMap.Name == "" {
		return opconfig.Default(), nil
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, e.ConfigMap, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return opconfig.Default(), nil
		}
		return opconfig.Config{}, fmt.Errorf("failed to read the operator config ConfigMap %s: %w", e.ConfigMap, err)
	}
	cfg, err := opconfig.Parse([]byte(cm.Data[opconfig.Key]))
	if err != nil {
		return opconfig.Config{}, fmt.Errorf("ConfigMap %s: %w", e.ConfigMap, err)
	}
	return cfg, nil
}

// preflightExecutor checks what a run of the Playbook needs in its
// namespace besides the Repository: the service account and the cache
// claim, as the Job builder names them (jobs.ServiceAccountName,
// jobs.CacheClaim). Neither is watched: a missing one is re-checked after
// missingDependencyRetry.
func preflightExecutor(ctx context.Context, c client.Reader, pb *ansiblev1alpha1.Playbook, repo *ansiblev1alpha1.Repository, cfg opconfig.Config) error {
	if sa := jobs.ServiceAccountName(pb, cfg); sa != "" {
		if err := c.Get(ctx, types.NamespacedName{Namespace: pb.Namespace, Name: sa}, &corev1.ServiceAccount{}); err != nil {
			if apierrors.IsNotFound(err) {
				return waiting(ansiblev1alpha1.ServiceAccountNotFoundReason, fmt.Sprintf("service account %s/%s for the executor pods does not exist: create it in this namespace (kustomize component executor-rbac) or change the service account", pb.Namespace, sa), missingDependencyRetry)
			}
			return fmt.Errorf("failed to get service account %q: %w", sa, err)
		}
	}
	if claim := jobs.CacheClaim(repo, cfg); claim != "" {
		if err := c.Get(ctx, types.NamespacedName{Namespace: pb.Namespace, Name: claim}, &corev1.PersistentVolumeClaim{}); err != nil {
			if apierrors.IsNotFound(err) {
				return waiting(ansiblev1alpha1.PersistentVolumeClaimNotFoundReason, fmt.Sprintf("cache PersistentVolumeClaim %s/%s does not exist: create it in this namespace (kustomize component pvc-cache) or set cache.strategy none", pb.Namespace, claim), missingDependencyRetry)
			}
			return fmt.Errorf("failed to get PersistentVolumeClaim %q: %w", claim, err)
		}
	}
	return nil
}
