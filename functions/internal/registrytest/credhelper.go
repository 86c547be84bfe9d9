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

package registrytest

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// CredentialHelper is a docker credential helper program
// (docker-credential-<Name>) installed on PATH for one test, as `docker
// login` with a credsStore leaves users with.
type CredentialHelper struct {
	// Name is what docker configs name it by ("test" runs docker-credential-test).
	Name string
}

// InstallCredentialHelper puts a docker-credential-<name> shell script on
// PATH (t.Setenv) that answers `get` with username and secret, or, when
// fail is non-empty, prints fail and exits 1, as a helper whose keyring is
// locked or whose cached token expired does.
func InstallCredentialHelper(t testing.TB, name, username, secret, fail string) CredentialHelper {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\n"
	if fail != "" {
		script += "echo " + strconv.Quote(fail) + "\nexit 1\n"
	} else {
		out, err := json.Marshal(map[string]string{"Username": username, "Secret": secret})
		mustOK(t, err, "encoding helper answer")
		script += "read server\nprintf '%s\\n' " + shellQuote(string(out)) + "\n"
	}
	path := filepath.Join(dir, "docker-credential-"+name)
	mustOK(t, os.WriteFile(path, []byte(script), 0o755), "writing credential helper")
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return CredentialHelper{Name: name}
}

// WriteDockerConfig writes a docker config.json into a new temp dir that
// sends every registry to the helper (credsStore), and returns the dir, for
// DOCKER_CONFIG.
func (h CredentialHelper) WriteDockerConfig(t testing.TB) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"auths": map[string]any{}, "credsStore": h.Name})
	mustOK(t, err, "encoding docker config")
	dir := t.TempDir()
	writeFile(t, dir, "config.json", b)
	return dir
}

// NoSecret fails the test when text shows any of the secrets as is or in
// base64, the forms a server echoes credentials in.
func NoSecret(t testing.TB, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			t.Fatal("registrytest: NoSecret called with an empty secret")
		}
		for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte(s))} {
			if strings.Contains(text, form) {
				t.Errorf("%s shows %q:\n%s", what, form, text)
			}
		}
	}
}

// shellQuote quotes s for sh: single quotes, with embedded ones spliced in.
func shellQuote(s string) string {
	out := "'"
	for _, c := range s {
		if c == '\'' {
			out += `'\''`
			continue
		}
		out += string(c)
	}
	return out + "'"
}
