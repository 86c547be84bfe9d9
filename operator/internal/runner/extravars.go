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
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// unsafeKey marks a value ansible must not template: its JSON decoder turns
// {"__ansible_unsafe": v} into an unsafe string, as !unsafe does in YAML. A
// Secret value is data; "{{" in a password must reach the playbook as is.
const unsafeKey = "__ansible_unsafe"

// mergeExtraVars merges the Playbook's extraVars (a JSON object, templated
// by ansible as the reference operator's were) with the mounted Secrets,
// one variable per file, later directories winning. It returns nil when
// there are no variables, and the Secret values for redaction.
func mergeExtraVars(raw json.RawMessage, dirs []string) (map[string]any, []string, error) {
	vars := map[string]any{}
	if t := bytes.TrimSpace(raw); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(t))
		// Numbers stay as written: 12345678901234567890 must not become a float.
		dec.UseNumber()
		if err := dec.Decode(&vars); err != nil {
			return nil, nil, fail(ReasonInvalidSpec, "invalid run spec: extraVars is not a JSON object: %s", err)
		}
	}
	var secrets []string
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, nil, fail(ReasonPathNotFound, "the extra vars Secret directory %s does not exist", dir)
			}
			return nil, nil, fail(ReasonInvalidSpec, "failed to read the extra vars Secret directory %s: %s", dir, pathError(err))
		}
		for _, e := range entries {
			name := e.Name()
			// The kubelet's atomic writer keeps ..data and ..<timestamp>
			// next to the keys, which are symlinks into them.
			if strings.HasPrefix(name, "..") {
				continue
			}
			file := filepath.Join(dir, name)
			info, err := os.Stat(file)
			if err != nil {
				return nil, nil, fail(ReasonInvalidSpec, "failed to read the extra vars Secret key %s: %s", file, pathError(err))
			}
			if !info.Mode().IsRegular() {
				continue
			}
			b, err := os.ReadFile(file)
			if err != nil {
				return nil, nil, fail(ReasonInvalidSpec, "failed to read the extra vars Secret key %s: %s", file, pathError(err))
			}
			vars[name] = map[string]string{unsafeKey: string(b)}
			secrets = append(secrets, string(b))
		}
	}
	if len(vars) == 0 {
		return nil, secrets, nil
	}
	return vars, secrets, nil
}

// writeExtraVars writes vars as JSON into a new 0600 file in tmpDir, for
// --extra-vars @file: values never appear in argv or the environment.
func writeExtraVars(tmpDir string, vars map[string]any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(vars); err != nil {
		return "", fail(ReasonInvalidSpec, "failed to encode the extra vars: %s", err)
	}
	f, err := os.CreateTemp(tmpDir, "extra-vars-*.json")
	if err != nil {
		return "", fail(ReasonInvalidSpec, "failed to create the extra vars file in TMPDIR %s: %s", tmpDir, pathError(err))
	}
	_, werr := f.Write(buf.Bytes())
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return "", fail(ReasonInvalidSpec, "failed to write the extra vars file %s: %s", f.Name(), err)
	}
	return f.Name(), nil
}
