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
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
)

// TestPlaybookReconciler_pathsOutsideTheRepository: inventories and
// ansible.cfg paths the API documents as not being files of the repository
// (a host list, absolute paths of a fileMount) pass the path check, which
// looks only for the repository's own paths; a relative path still has to
// exist at the commit.
func TestPlaybookReconciler_pathsOutsideTheRepository(t *testing.T) {
	requireEnv(t)
	mount := &ansiblev1alpha1.PlaybookSecrets{FileMounts: []ansiblev1alpha1.SecretFileMount{{
		SecretRef: ansiblev1alpha1.FileMountSecretReference{Name: "inventory"}, MountPath: "/etc/ansible/private",
	}}}
	cases := map[string]struct {
		mutate  func(s *ansiblev1alpha1.PlaybookSpec)
		ready   bool
		missing string // the path the InvalidPath message names
	}{
		"an inline host list inventory is Ready": {
			mutate: func(s *ansiblev1alpha1.PlaybookSpec) { s.InventoryPath = "localhost," },
			ready:  true,
		},
		"an absolute inventory from a fileMount is Ready": {
			mutate: func(s *ansiblev1alpha1.PlaybookSpec) {
				s.InventoryPath, s.Secrets = "/etc/ansible/private/hosts.ini", mount
			},
			ready: true,
		},
		"host lists and absolute paths among inventoryPaths are Ready": {
			mutate: func(s *ansiblev1alpha1.PlaybookSpec) {
				s.InventoryPath, s.InventoryPaths, s.Secrets = "", []string{"inventory/hosts.ini", "web-1,web-2", "/etc/ansible/private/hosts.ini"}, mount
			},
			ready: true,
		},
		"an absolute ansibleCfgPath is Ready": {
			mutate: func(s *ansiblev1alpha1.PlaybookSpec) {
				s.AnsibleCfgPath, s.Secrets = "/etc/ansible/private/ansible.cfg", mount
			},
			ready: true,
		},
		"a relative ansibleCfgPath missing at the commit is InvalidPath": {
			mutate:  func(s *ansiblev1alpha1.PlaybookSpec) { s.AnsibleCfgPath = "ansible.cfg" },
			missing: "ansible.cfg",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, "")
			pb := get(t, f.pb)
			tc.mutate(&pb.Spec)
			if err := k8sClient.Update(context.Background(), pb); err != nil {
				t.Fatal(err)
			}
			startOperator(t, f.env)
			if tc.ready {
				waitReady(t, f.pb)
				if c := condition(f.pb, ansiblev1alpha1.CloneReadyCondition); c.Status != metav1.ConditionTrue {
					t.Errorf("CloneReady = %s %q, want True", c.Status, c.Message)
				}
				return
			}
			c := waitReason(t, f.pb, ansiblev1alpha1.InvalidPathReason)
			if !strings.HasSuffix(c.Message, ": "+tc.missing) {
				t.Errorf("Ready message %q does not end with the missing path %s", c.Message, tc.missing)
			}
		})
	}
}
