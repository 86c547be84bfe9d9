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

package jobs

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// executorUID is the user and group of the executor image
// (kenchrcum/ansible-runner), kept from the Python operator.
const executorUID int64 = 1000

// defaultPodSecurityContext is the restricted pod security context.
func defaultPodSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To(executorUID),
		RunAsGroup:     ptr.To(executorUID),
		FSGroup:        ptr.To(executorUID),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// defaultSecurityContext is the restricted container security context.
func defaultSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// mergePodSecurityContext returns the restricted pod defaults with every
// field the user set replacing the default's. A set field is a non-nil
// pointer, slice or map, or a non-empty string, so an explicit false or 0
// wins too. Fields are visited by reflection so that a field added to the
// Kubernetes type is honoured without a change here.
func mergePodSecurityContext(user *corev1.PodSecurityContext) *corev1.PodSecurityContext {
	out := defaultPodSecurityContext()
	if user != nil {
		overlay(reflect.ValueOf(out).Elem(), reflect.ValueOf(user.DeepCopy()).Elem())
	}
	return out
}

// mergeSecurityContext returns the restricted container defaults with every
// field the user set replacing the default's, like mergePodSecurityContext.
// capabilities is merged one level deeper: capabilities.add alone keeps
// drop: [ALL] (the pairing the restricted Pod Security Standard asks for).
func mergeSecurityContext(user *corev1.SecurityContext) *corev1.SecurityContext {
	out := defaultSecurityContext()
	if user == nil {
		return out
	}
	user = user.DeepCopy()
	caps := out.Capabilities
	if user.Capabilities != nil {
		overlay(reflect.ValueOf(caps).Elem(), reflect.ValueOf(user.Capabilities).Elem())
		user.Capabilities = nil
	}
	overlay(reflect.ValueOf(out).Elem(), reflect.ValueOf(user).Elem())
	out.Capabilities = caps
	return out
}

// overlay copies each set field of src over dst (both the same struct type).
func overlay(dst, src reflect.Value) {
	for i := range src.NumField() {
		f := src.Field(i)
		if !dst.Field(i).CanSet() || f.IsZero() {
			continue
		}
		dst.Field(i).Set(f)
	}
}
