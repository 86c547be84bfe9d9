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

import (
	"path"
	"strings"
)

// PathKind says where a path of a run is looked up. The operator's path
// check and playbook-runner both classify a Playbook's paths with
// InventoryKind and FileKind, so that they agree on what a path means.
type PathKind int

const (
	// RepositoryPath is relative to the repository root: the operator checks
	// it at the resolved commit, the runner requires it in the checkout.
	RepositoryPath PathKind = iota
	// PodPath is absolute: a file of the executor image or of a volume
	// mounted into the pod (a fileMount, runtime.volumes). Only the runner,
	// inside the pod, can check it.
	PodPath
	// HostList is an inline inventory such as "localhost," or "web-1,web-2":
	// ansible reads host names from it, no file is involved.
	HostList
)

// InventoryKind classifies an inventory (-i) argument: ansible reads one
// with a comma as a list of hosts, anything else as a path.
func InventoryKind(inventory string) PathKind {
	if strings.Contains(inventory, ",") {
		return HostList
	}
	return FileKind(inventory)
}

// FileKind classifies the path of a file (the playbook, an ansible.cfg, an
// inventory that is not a host list).
func FileKind(p string) PathKind {
	if path.IsAbs(p) {
		return PodPath
	}
	return RepositoryPath
}
