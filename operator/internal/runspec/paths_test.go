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

package runspec

import "testing"

func TestInventoryKind(t *testing.T) {
	cases := map[string]PathKind{
		"inventory/hosts.ini":            RepositoryPath,
		"hosts":                          RepositoryPath,
		"./-odd":                         RepositoryPath,
		"/etc/ansible/private/hosts.ini": PodPath,
		"localhost,":                     HostList,
		"web-1,web-2":                    HostList,
		// A comma makes a host list whatever else the value looks like:
		// ansible reads it so when no file of that name exists.
		"/a,b": HostList,
	}
	for in, want := range cases {
		if got := InventoryKind(in); got != want {
			t.Errorf("InventoryKind(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestFileKind(t *testing.T) {
	cases := map[string]PathKind{
		"ansible.cfg":                      RepositoryPath,
		"config/ansible.cfg":               RepositoryPath,
		"/etc/ansible/private/ansible.cfg": PodPath,
		// A comma is part of a file name here.
		"a,b.cfg": RepositoryPath,
	}
	for in, want := range cases {
		if got := FileKind(in); got != want {
			t.Errorf("FileKind(%q) = %d, want %d", in, got, want)
		}
	}
}
