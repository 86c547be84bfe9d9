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

package localcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

// Storage. The default StorageClass `local` is served by the node's own
// provisioner (Provision): a claim gets a `local` PersistentVolume on a
// directory of the node, for which the kubelet applies the pod's fsGroup,
// so that the restricted run pods (uid 1000) can write to their cache.
// kube-controller-manager's host-path provisioner (class `hostpath`) works
// too, but the kubelet applies no fsGroup to hostPath volumes and the
// provisioner makes its directories root-owned 0750: a non-root pod cannot
// write there, and the run pods' securityContext is not weakened for a
// test volume.
const (
	// LocalStorageClass is the default class.
	LocalStorageClass = "local"
	// HostPathStorageClass is kube-controller-manager's host-path
	// provisioner's class.
	HostPathStorageClass = "hostpath"
	// localProvisioner is the provisioner name of LocalStorageClass.
	localProvisioner = "localcluster.ansible.cloud37.dev/local"
	// provisionedByAnnotation marks the volumes Provision made.
	provisionedByAnnotation = "pv.kubernetes.io/provisioned-by"
	// storageProvisionerAnnotation is what the PV controller sets on a
	// claim whose class names an external provisioner.
	storageProvisionerAnnotation = "volume.kubernetes.io/storage-provisioner"
)

func clientset(kubeconfig string) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// applyBase creates the StorageClasses and waits for the default
// namespace's ServiceAccount, which kube-controller-manager creates a
// moment after it starts: until then no pod can be created there.
func (c *Cluster) applyBase(ctx context.Context) error {
	cs, err := clientset(c.Kubeconfig())
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, "the default ServiceAccount", compKCM, 60*time.Second, func() error {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	}); err != nil {
		return err
	}
	for _, sc := range []*storagev1.StorageClass{
		{ObjectMeta: metav1.ObjectMeta{Name: LocalStorageClass, Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
			Provisioner: localProvisioner, ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimDelete),
			VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)},
		{ObjectMeta: metav1.ObjectMeta{Name: HostPathStorageClass},
			Provisioner: "kubernetes.io/host-path", ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimDelete),
			VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)},
	} {
		if _, err := cs.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("failed to create StorageClass %q: %w", sc.Name, err)
		}
	}
	return nil
}

// Provision serves LocalStorageClass until ctx ends: every pending claim
// of the class gets a local volume on a new directory under dir, bound to
// it; a released volume's directory is removed with the volume. It polls:
// a test node has few claims, and a poll cannot miss an event.
func Provision(ctx context.Context, kubeconfig, dir, node string) error {
	cs, err := clientset(kubeconfig)
	if err != nil {
		return err
	}
	for {
		if err := provisionOnce(ctx, cs, dir, node); err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "provisioner: %v\n", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func provisionOnce(ctx context.Context, cs kubernetes.Interface, dir, node string) error {
	claims, err := cs.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range claims.Items {
		pvc := &claims.Items[i]
		if pvc.Spec.VolumeName != "" || pvc.Annotations[storageProvisionerAnnotation] != localProvisioner || pvc.DeletionTimestamp != nil {
			continue
		}
		if err := provisionClaim(ctx, cs, dir, node, pvc); err != nil {
			fmt.Fprintf(os.Stderr, "provisioner: claim %s/%s: %v\n", pvc.Namespace, pvc.Name, err)
		}
	}
	vols, err := cs.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range vols.Items {
		pv := &vols.Items[i]
		if pv.Annotations[provisionedByAnnotation] != localProvisioner || pv.Status.Phase != corev1.VolumeReleased ||
			pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
			continue
		}
		if err := os.RemoveAll(pv.Spec.Local.Path); err != nil {
			return err
		}
		if err := cs.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		fmt.Fprintf(os.Stderr, "provisioner: deleted %s\n", pv.Name)
	}
	return nil
}

// provisionClaim makes the claim's volume, pre-bound to it.
func provisionClaim(ctx context.Context, cs kubernetes.Interface, dir, node string, pvc *corev1.PersistentVolumeClaim) error {
	name := "pvc-" + string(pvc.UID)
	path := filepath.Join(dir, name)
	// Root-owned 0755: the kubelet gives the pod's fsGroup write access
	// when it mounts it.
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if size.IsZero() {
		size = resource.MustParse("1Gi")
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{provisionedByAnnotation: localProvisioner}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              LocalStorageClass,
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
			PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: path}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
		},
	}
	if _, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	fmt.Fprintf(os.Stderr, "provisioner: %s/%s -> %s (%s)\n", pvc.Namespace, pvc.Name, name, path)
	return nil
}
