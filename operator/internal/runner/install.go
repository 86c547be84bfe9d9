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

package runner

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// BinaryName is the runner's file name in the install directory.
const BinaryName = "playbook-runner"

// Install copies the executable at self to dir/playbook-runner with mode
// 0755, through a temporary file renamed into place, so that a concurrent
// reader never sees half a binary. It returns the installed path.
func Install(self, dir string) (string, error) {
	src, err := os.Open(self)
	if err != nil {
		return "", fmt.Errorf("failed to open the runner executable %s: %w", self, err)
	}
	defer func() { _ = src.Close() }()
	tmp, err := os.CreateTemp(dir, "."+BinaryName+"-*")
	if err != nil {
		return "", fmt.Errorf("failed to create a file in %s: %w", dir, err)
	}
	_, cerr := io.Copy(tmp, src)
	// CreateTemp makes 0600 files; Chmod is not subject to the umask.
	merr := tmp.Chmod(0o755)
	serr := tmp.Sync()
	clerr := tmp.Close()
	if err := errors.Join(cerr, merr, serr, clerr); err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("failed to copy the runner into %s: %w", dir, err)
	}
	dst := filepath.Join(dir, BinaryName)
	if err := os.Rename(tmp.Name(), dst); err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("failed to install %s: %w", dst, err)
	}
	return dst, nil
}
