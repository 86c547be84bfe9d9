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

package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

// everything is what a user sees of a run: stdout, stderr and the error
// main prints.
func everything(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, stderr, err := run(t, stdin, args...)
	text := out + stderr
	if err != nil {
		text += err.Error()
	}
	return text
}

func TestCLI_noSecretInAnyOutput(t *testing.T) {
	t.Run("a registry that echoes the credentials from the docker config", func(t *testing.T) {
		reg := registrytest.Start(t, registrytest.Options{Auth: registrytest.AuthBasic})
		reg.PushRandom(t, "team/app:1")
		proxy := registrytest.NewProxy(t, reg.Host)
		proxy.SetFault(registrytest.EchoCredentials, 0)
		echoed := *reg
		echoed.Host = proxy.Host
		t.Setenv("DOCKER_CONFIG", echoed.WriteDockerConfig(t))
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "deploy.yaml"), pod("p", proxy.Host+"/team/app:1"))
		rl := "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- " +
			strings.ReplaceAll(strings.TrimSuffix(pod("p", proxy.Host+"/team/app:1"), "\n"), "\n", "\n  ") +
			"\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n  data: {platform: linux/amd64}\n"
		secrets := []string{reg.Password, reg.Username + ":" + reg.Password}
		// A platform makes every lookup a GET, whose error body is quoted.
		for name, args := range map[string][]string{
			"resolve":       {"resolve", "--platform", "linux/amd64", proxy.Host + "/team/app:1"},
			"pin -w":        {"pin", "-w", "--platform", "linux/amd64", dir},
			"verify":        {"verify", "--platform", "linux/amd64", dir},
			"lock":          {"lock", "--platform", "linux/amd64", dir},
			"function mode": nil,
		} {
			t.Run(name, func(t *testing.T) {
				stdin := ""
				if args == nil {
					stdin = rl
				}
				text := everything(t, stdin, args...)
				if !strings.Contains(text, "unauthorized") {
					t.Fatalf("the echoing registry was not reached:\n%s", text)
				}
				registrytest.NoSecret(t, name, text, secrets...)
			})
		}
	})
	t.Run("a reference written with credentials", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "deploy.yaml"), pod("a", "https://robot:s3cr3t-ref@registry.example.com/team/app:1")+
			"---\n"+pod("b", "robot:s3cr3t-ref@registry.example.com/team/app:1"))
		for _, args := range [][]string{{"verify", dir}, {"pin", "-w", dir}, {"resolve", "robot:s3cr3t-ref@registry.example.com/team/app:1"}} {
			text := everything(t, "", args...)
			if !strings.Contains(text, "invalid image reference") {
				t.Errorf("%s: the reference was not refused:\n%s", args[0], text)
			}
			registrytest.NoSecret(t, args[0], text, "s3cr3t-ref")
		}
	})
	t.Run("a mirror written with credentials", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "deploy.yaml"), pod("a", "nginx:1.25"))
		config := filepath.Join(t.TempDir(), "pin.yaml")
		writeFile(t, config, "apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: PinImages\nmetadata: {name: p}\nspec:\n  mirrors:\n  - {from: docker.io, to: \"robot:s3cr3t-mirror@mirror.example.com:5000/hub\"}\n")
		rl := "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n  data: {mirrors: \"docker.io=https://robot:s3cr3t-mirror@mirror.example.com/hub\"}\n"
		for name, args := range map[string][]string{
			"--mirror":      {"resolve", "--mirror", "docker.io=robot:s3cr3t-mirror@mirror.example.com/hub", "nginx:1.25"},
			"--config":      {"verify", "--config", config, dir},
			"function mode": nil,
		} {
			stdin := ""
			if args == nil {
				stdin = rl
			}
			text := everything(t, stdin, args...)
			if !strings.Contains(text, "mirror") {
				t.Errorf("%s: the mirror was not refused:\n%s", name, text)
			}
			registrytest.NoSecret(t, name, text, "s3cr3t-mirror")
		}
	})
	t.Run("a failing credential helper blocks no anonymous registry and shows no output", func(t *testing.T) {
		const output = "keyring locked; cached token tok-9c8b7a6d5e4f expired"
		helper := registrytest.InstallCredentialHelper(t, "broken", "", "", output)
		t.Setenv("DOCKER_CONFIG", helper.WriteDockerConfig(t))
		anon := registrytest.Start(t, registrytest.Options{})
		digest := anon.PushRandom(t, "team/app:1")
		out, stderr, err := run(t, "", "resolve", anon.Ref("team/app:1"))
		if err != nil || out != anon.Ref("team/app:1")+"@"+digest+"\n" {
			t.Errorf("resolve of an anonymous registry = %q, %v; stderr:\n%s", out, err, stderr)
		}
		authed := registrytest.Start(t, registrytest.Options{Auth: registrytest.AuthToken})
		authed.PushRandom(t, "team/app:1")
		text := everything(t, "", "resolve", authed.Ref("team/app:1"))
		if !strings.Contains(text, "credential helper") {
			t.Errorf("the failure does not name the credential helper:\n%s", text)
		}
		registrytest.NoSecret(t, "resolve", text, "tok-9c8b7a6d5e4f")
	})
}
