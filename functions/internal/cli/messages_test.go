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
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

const podItems = `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: p
  spec:
    containers:
    - name: c
      image: registry.example.com/team/app:1
`

// wantFailure runs args and checks the run failed and said every want on
// stderr, where main prints the error Run returns.
func wantFailure(t *testing.T, stdin string, want []string, args ...string) string {
	t.Helper()
	out, stderr, err := run(t, stdin, args...)
	if err == nil {
		t.Fatalf("pin-images %s succeeded; stdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out, stderr)
	}
	if !IsUsage(err) {
		stderr += "pin-images: " + err.Error() + "\n"
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr does not say %q:\n%s", w, stderr)
		}
	}
	return stderr
}

func TestFunction_input(t *testing.T) {
	t.Run("a YAML syntax error names line and column, without the usage", func(t *testing.T) {
		in := "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: [oops\n"
		stderr := wantFailure(t, in, []string{"line 4 column 1", "did not find expected"})
		if strings.Contains(stderr, "Usage:") {
			t.Errorf("stderr shows the usage for a syntax error:\n%s", stderr)
		}
	})
	t.Run("a document after the ResourceList is an error", func(t *testing.T) {
		out, _, _ := run(t, podItems+"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: stray\n")
		if out != "" {
			t.Errorf("stdout = %q, want nothing", out)
		}
		wantFailure(t, podItems+"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: stray\n", []string{"after the ResourceList", "line 13"})
	})
	t.Run("a functionConfig that is not a mapping is an error", func(t *testing.T) {
		wantFailure(t, podItems+"functionConfig: [mode, verify]\n", []string{"functionConfig", "a list"})
	})
	t.Run("a functionConfig error is printed once, with the config's own line", func(t *testing.T) {
		in := podItems + "functionConfig:\n  apiVersion: fn.ansible.cloud37.dev/v1alpha1\n  kind: PinImages\n  metadata:\n    name: x\n  spec:\n    concurrncy: 3\n"
		stderr := wantFailure(t, in, []string{`unknown field "spec.concurrncy"`, "line 6 of the functionConfig"})
		if n := strings.Count(stderr, "concurrncy"); n != 1 {
			t.Errorf("the error is printed %d times:\n%s", n, stderr)
		}
	})
	t.Run("concurrency 8.5 is an error, not 8", func(t *testing.T) {
		in := podItems + "functionConfig:\n  apiVersion: fn.ansible.cloud37.dev/v1alpha1\n  kind: PinImages\n  metadata:\n    name: x\n  spec:\n    mode: locked\n    concurrency: 8.5\n"
		wantFailure(t, in, []string{"spec.concurrency", "8.5", "whole number"})
	})
	t.Run("a ConfigMap config with several bad keys reports all of them", func(t *testing.T) {
		in := podItems + "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: x}\n  data: {mode: bad, concurrency: x, dropTag: maybe, foo: \"1\"}\n"
		wantFailure(t, in, []string{"data.mode", "data.concurrency", "data.dropTag", "foo"})
	})
}

func TestCLI_messages(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "deploy.yaml")
	writeFile(t, manifest, strings.ReplaceAll(deployment, "%REG%", "registry.example.com"))

	t.Run("a --config that is not PinImages says what kind it got", func(t *testing.T) {
		wantFailure(t, "", []string{"kind Deployment", "PinImages"}, "pin", "--config", manifest, manifest)
	})
	t.Run("lock -o DIR says it is a directory", func(t *testing.T) {
		stderr := wantFailure(t, "", []string{dir, "is a directory", "-o"}, "lock", "-o", dir, manifest)
		if strings.Contains(stderr, "--lock") {
			t.Errorf("the message blames --lock for -o:\n%s", stderr)
		}
	})
	for _, flags := range [][]string{
		{"--concurrency", "100"},
		{"--timeout", "-1s"},
		{"--platform", "bogus"},
		{"--insecure-registry", "a b"},
		{"--mirror", "docker.io="},
	} {
		t.Run("resolve rejects "+strings.Join(flags, " ")+" as pin does", func(t *testing.T) {
			pinErr := wantFailure(t, "", nil, append(append([]string{"pin"}, flags...), manifest)...)
			resolveErr := wantFailure(t, "", nil, append(append([]string{"resolve"}, flags...), "registry.example.com/team/app:1")...)
			if resolveErr != pinErr {
				t.Errorf("resolve says:\n%s\npin says:\n%s", resolveErr, pinErr)
			}
		})
	}
	for _, ref := range []string{"host.example.com//app", "host.example.com/app/", "-app", "app:-1", "host:p1:p2"} {
		t.Run("an invalid reference "+ref+" is rejected before any request", func(t *testing.T) {
			reg := registrytest.StartInProcess(t)
			proxy := registrytest.NewProxy(t, reg.Host)
			_, _, err := run(t, "", "resolve", "--mirror", "docker.io="+proxy.Host, "--mirror", "host.example.com="+proxy.Host, ref)
			if err == nil {
				t.Fatal("resolve succeeded")
			}
			if n := proxy.Requests(); n != 0 {
				t.Errorf("%d requests reached the registry", n)
			}
		})
	}
}

func TestCLI_interruptedIsNotTimeout(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	reg.PushRandom(t, "team/app:1")
	proxy := registrytest.NewProxy(t, reg.Host)
	held, release := proxy.Hold()
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-held
		cancel() // what main does on SIGINT and SIGTERM
	}()
	var out, errOut bytes.Buffer
	err := Run(ctx, []string{"resolve", proxy.Host + "/team/app:1"}, IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	if err == nil {
		t.Fatal("an interrupted resolve succeeded")
	}
	if got := errOut.String() + err.Error(); !strings.Contains(got, "interrupted") || strings.Contains(got, "timeout") {
		t.Errorf("stderr and error say %q, want interrupted and no timeout", got)
	}
}

func TestLock_stdinStaysAStream(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	one, two := reg.PushRandom(t, "team/one:1"), reg.PushRandom(t, "team/two:1")
	stream := pod("a", reg.Ref("team/one:1")) + "---\n" + pod("b", reg.Ref("team/two:1"))
	out, stderr, err := run(t, stream, "lock")
	if err != nil {
		t.Fatalf("lock: %v\n%s", err, stderr)
	}
	for _, d := range []string{one, two} {
		if !strings.Contains(out, d) {
			t.Errorf("the lock lacks %s (a document of the stream was dropped):\n%s", d, out)
		}
	}
}

func TestPin_syntaxErrorsNameLineAndColumn(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad.yaml"), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [p\n")
	writeFile(t, filepath.Join(dir, "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    pin-images.ansible.cloud37.dev/embedded: config.yaml\ndata:\n  config.yaml: |\n    image:\n      repository: a\n     tag: b\n")
	wantFailure(t, "", []string{"bad.yaml", "line 5 column 1"}, "verify", filepath.Join(dir, "bad.yaml"))
	wantFailure(t, "", []string{"data.config.yaml is not YAML", "line 3 column"}, "verify", filepath.Join(dir, "cm.yaml"))
}
