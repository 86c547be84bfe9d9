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

// sameNamespace checks a reference's optional namespace (the Python
// operator's examples set it; cross-namespace references are not supported).
func sameNamespace(field, refNamespace, namespace string) (string, bool) {
	if refNamespace == "" || refNamespace == namespace {
		return "", true
	}
	return fmt.Sprintf("%s.namespace %q must be empty or this object's namespace %q: references across namespaces are not supported", field, refNamespace, namespace), false
}

// executorPreflight checks what a run of the Playbook needs besides the
// Repository: the executor image pin policy, the service account and the
// cache claim. A non-empty reason makes the Playbook not Ready.
func executorPreflight(ctx context.Context, c client.Reader, pb *ansiblev1alpha1.Playbook, repo *ansiblev1alpha1.Repository, cfg opconfig.Config) (reason, message string, stalled bool, err error) {
	image, pinned := jobs.ExecutorImage(pb, cfg)
	if cfg.RequirePinnedExecutor && !pinned {
		return ansiblev1alpha1.ExecutorNotPinnedReason, fmt.Sprintf("executor image %s has no digest and the operator config sets requirePinnedExecutor: pin it (pin-images pin -w on the manifests, or set spec.runtime.image to repo:tag@sha256:…)", image), true, nil
	}
	sa := cfg.ExecutorDefaults.ServiceAccountName
	if pb.Spec.Runtime != nil && pb.Spec.Runtime.ServiceAccountName != "" {
		sa = pb.Spec.Runtime.ServiceAccountName
	}
	if sa != "" {
		if err := c.Get(ctx, types.NamespacedName{Namespace: pb.Namespace, Name: sa}, &corev1.ServiceAccount{}); err != nil {
			if apierrors.IsNotFound(err) {
				return ansiblev1alpha1.ServiceAccountNotFoundReason, fmt.Sprintf("service account %s/%s for the executor pods does not exist: create it in this namespace (kustomize component executor-rbac) or change the service account", pb.Namespace, sa), false, nil
			}
			return "", "", false, err
		}
	}
	if claim := cacheClaim(repo, cfg); claim != "" {
		if err := c.Get(ctx, types.NamespacedName{Namespace: pb.Namespace, Name: claim}, &corev1.PersistentVolumeClaim{}); err != nil {
			if apierrors.IsNotFound(err) {
				return ansiblev1alpha1.PersistentVolumeClaimNotFoundReason, fmt.Sprintf("cache PersistentVolumeClaim %s/%s does not exist: create it in this namespace (kustomize component pvc-cache) or set cache.strategy none", pb.Namespace, claim), false, nil
			}
			return "", "", false, err
		}
	}
	return "", "", false, nil
}

// cacheClaim is the cache PVC a run mounts: the Repository's, else the operator config's.
func cacheClaim(repo *ansiblev1alpha1.Repository, cfg opconfig.Config) string {
	if repo != nil && repo.Spec.Cache != nil && repo.Spec.Cache.Strategy == ansiblev1alpha1.CacheStrategyPVC {
		return repo.Spec.Cache.PVCName
	}
	if cfg.ExecutorDefaults.Cache.Strategy == "pvc" {
		return cfg.ExecutorDefaults.Cache.PVCName
	}
	return ""
}
