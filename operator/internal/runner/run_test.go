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
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

// markerPlaybook writes marker-<host> with content into TMPDIR on every host.
func markerPlaybook(content string) string {
	return `- hosts: all
  gather_facts: false
  tasks:
    - name: Write a marker
      copy:
        content: "` + content + `"
        dest: "{{ lookup('env', 'TMPDIR') }}/marker-{{ inventory_hostname }}"
`
}

const failingPlaybook = `- hosts: all
  gather_facts: false
  tasks:
    - name: Greet
      debug:
        msg: hello
    - name: Break on beta
      fail:
        msg: "beta is broken: disk <full> & \"quoted\""
      when: inventory_hostname == 'beta'
`

func TestRun_playbookOutcomes(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{
		"hosts":       localInventory("alpha", "beta"),
		"site.yml":    markerPlaybook("{{ inventory_hostname }}"),
		"failing.yml": failingPlaybook,
		"broken.yml":  "- hosts: all\n  tasks: [\n",
	})
	url := gittest.StartDaemon(t, repo.Bare(t))
	commit := repo.Head(t, "main")

	t.Run("a playbook that changes hosts succeeds with their counts", func(t *testing.T) {
		p := newPod(t)
		got, _ := p.run(t, spec(url, commit))
		wantSummary(t, got, ResultSucceeded, ReasonSucceeded, 0)
		if diff := cmp.Diff(runspec.Counts{OK: 2, Changed: 2}, got.Totals); diff != "" {
			t.Errorf("totals mismatch (-want +got):\n%s", diff)
		}
		wantHosts := []runspec.HostCounts{
			{Host: "alpha", Counts: runspec.Counts{OK: 1, Changed: 1}},
			{Host: "beta", Counts: runspec.Counts{OK: 1, Changed: 1}},
		}
		if diff := cmp.Diff(wantHosts, got.Hosts); diff != "" {
			t.Errorf("hosts mismatch (-want +got):\n%s", diff)
		}
		if got.Commit != commit || len(got.Failures) != 0 || got.Truncated {
			t.Errorf("summary = %+v, want commit %s, no failures, not truncated", got, commit)
		}
		if c := p.file(t, "marker-alpha"); c != "alpha" {
			t.Errorf("marker-alpha = %q", c)
		}
		// The default stdout callback still writes the recap.
		if !strings.Contains(p.out.String(), "PLAY RECAP") {
			t.Errorf("ansible's output lacks the recap:\n%s", p.out.String())
		}
	})

	t.Run("a failing task gives exit code 2 and names host, task and message", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, commit)
		s.Playbook = "failing.yml"
		got, raw := p.run(t, s)
		wantSummary(t, got, ResultFailed, ReasonPlaybookFailed, 2)
		want := []runspec.Failure{{Host: "beta", Task: "Break on beta", Message: `beta is broken: disk <full> & "quoted"`}}
		if diff := cmp.Diff(want, got.Failures); diff != "" {
			t.Errorf("failures mismatch (-want +got):\n%s", diff)
		}
		if got.Hosts[0].Host != "beta" || got.Totals.Failed != 1 || got.Totals.OK != 2 {
			t.Errorf("hosts = %+v, totals %+v; want beta first, 1 failed, 2 ok", got.Hosts, got.Totals)
		}
		if got.Message != "playbook failing.yml failed on 1 of 2 hosts" {
			t.Errorf("message = %q", got.Message)
		}
		if !bytes.Contains(raw, []byte("<full> &")) {
			t.Errorf("the summary escapes HTML characters: %s", raw)
		}
	})

	t.Run("a syntax error fails with ansible's error in the message", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, commit)
		s.Playbook = "broken.yml"
		got, _ := p.run(t, s)
		if got.Result != ResultFailed || got.Reason != ReasonPlaybookFailed || got.ExitCode == 0 || !strings.Contains(got.Message, "ERROR!") {
			t.Errorf("summary = %+v, want PlaybookFailed with ansible's ERROR! line", got)
		}
	})

	t.Run("a missing playbook is PathNotFound naming it", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, commit)
		s.Playbook = "playbooks/missing.yml"
		got, _ := p.run(t, s)
		wantSummary(t, got, ResultFailed, ReasonPathNotFound, 1)
		if !strings.Contains(got.Message, `"playbooks/missing.yml"`) || got.Commit != commit {
			t.Errorf("summary = %+v, want the path and the commit", got)
		}
	})

	t.Run("a missing inventory is PathNotFound naming it", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, commit)
		s.Inventories = []string{"hosts", "inventory/prod"}
		got, _ := p.run(t, s)
		wantSummary(t, got, ResultFailed, ReasonPathNotFound, 1)
		if !strings.Contains(got.Message, `inventory "inventory/prod"`) {
			t.Errorf("message = %q, want the inventory path", got.Message)
		}
	})

	t.Run("a path leaving the repository is InvalidSpec", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, commit)
		s.Playbook = "../site.yml"
		got, _ := p.run(t, s)
		wantSummary(t, got, ResultFailed, ReasonInvalidSpec, 1)
	})

	t.Run("a short commit is InvalidSpec", func(t *testing.T) {
		p := newPod(t)
		got, _ := p.run(t, spec(url, commit[:8]))
		wantSummary(t, got, ResultFailed, ReasonInvalidSpec, 1)
	})
}

func TestRun_inventoryDirAndRolesDir(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{
		"inventory/hosts":                     localInventory("gamma"),
		"ansible/roles/inrepo/tasks/main.yml": "- copy:\n    content: inrepo\n    dest: \"{{ lookup('env', 'TMPDIR') }}/inrepo\"\n",
		"site.yml":                            "- hosts: all\n  gather_facts: false\n  roles: [inrepo]\n",
	})
	url := gittest.StartDaemon(t, repo.Bare(t))
	p := newPod(t)
	s := spec(url, repo.Head(t, "main"))
	s.Inventories = nil
	s.InventoryDir = "inventory"
	s.RolesDir = "ansible/roles"
	got, _ := p.run(t, s)
	wantSummary(t, got, ResultSucceeded, ReasonSucceeded, 0)
	if len(got.Hosts) != 1 || got.Hosts[0].Host != "gamma" {
		t.Errorf("hosts = %+v, want gamma from the inventory directory", got.Hosts)
	}
	if p.file(t, "inrepo") != "inrepo" {
		t.Errorf("the role from rolesDir did not run")
	}
}

func TestRun_extraVars(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{
		"hosts": localInventory("localhost"),
		"site.yml": `- hosts: all
  gather_facts: false
  tasks:
    - name: Dump the variables
      copy:
        content: "{{ {'plain': plain, 'quoted': quoted, 'nested': nested, 'num': num, 'templated': templated,
                      'overridden': overridden, 'multiline': multiline, 'json_text': json_text, 'curly': curly,
                      'only_first': only_first} | to_json }}"
        dest: "{{ lookup('env', 'TMPDIR') }}/vars.json"
`,
	})
	url := gittest.StartDaemon(t, repo.Bare(t))
	p := newPod(t)

	secrets := t.TempDir()
	first := filepath.Join(secrets, "first")
	second := filepath.Join(secrets, "second")
	writeFile(t, filepath.Join(first, "multiline"), "line one\n  line 2 with \"double\" and 'single' quotes\n\ttab\n")
	writeFile(t, filepath.Join(first, "overridden"), "from the first Secret")
	writeFile(t, filepath.Join(first, "json_text"), `{"a": [1, 2], "b": "c"}`)
	writeFile(t, filepath.Join(first, "only_first"), "kept")
	writeFile(t, filepath.Join(second, "overridden"), "from the second Secret")
	writeFile(t, filepath.Join(second, "curly"), "{{ lookup('env', 'HOME') }} stays literal")
	// The kubelet's bookkeeping entries are not variables.
	if err := os.Mkdir(filepath.Join(second, "..2026_01_01"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..2026_01_01", filepath.Join(second, "..data")); err != nil {
		t.Fatal(err)
	}

	s := spec(url, repo.Head(t, "main"))
	s.ExtraVars = json.RawMessage(`{"plain":"two words","quoted":"it's \"quoted\"; $HOME ` + "`x`" + `","nested":{"list":[1,"two",{"k":null}],"flag":true},"num":12345678901234567890,"templated":"{{ plain }}!","overridden":"from the spec"}`)
	s.ExtraVarsSecretDirs = []string{first, second}
	got, _ := p.run(t, s)
	wantSummary(t, got, ResultSucceeded, ReasonSucceeded, 0)

	var vars map[string]any
	dec := json.NewDecoder(strings.NewReader(p.file(t, "vars.json")))
	dec.UseNumber()
	if err := dec.Decode(&vars); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"plain":      "two words",
		"quoted":     "it's \"quoted\"; $HOME `x`",
		"nested":     map[string]any{"list": []any{json.Number("1"), "two", map[string]any{"k": nil}}, "flag": true},
		"num":        json.Number("12345678901234567890"),
		"templated":  "two words!",
		"overridden": "from the second Secret",
		"multiline":  "line one\n  line 2 with \"double\" and 'single' quotes\n\ttab\n",
		"json_text":  `{"a": [1, 2], "b": "c"}`,
		"curly":      "{{ lookup('env', 'HOME') }} stays literal",
		"only_first": "kept",
	}
	if diff := cmp.Diff(want, vars); diff != "" {
		t.Errorf("variables the playbook received mismatch (-want +got):\n%s", diff)
	}

	out := p.out.String()
	if !strings.Contains(out, "--extra-vars @"+p.tmp+"/extra-vars-") {
		t.Errorf("ansible-playbook did not get --extra-vars @file in TMPDIR:\n%s", out)
	}
	for _, secret := range []string{"line 2 with", "from the second Secret", "stays literal"} {
		if strings.Contains(out, secret) {
			t.Errorf("the output shows the Secret value %q", secret)
		}
	}
	left, _ := filepath.Glob(filepath.Join(p.tmp, "extra-vars-*"))
	if len(left) != 0 {
		t.Errorf("the extra vars file was left behind: %v", left)
	}
}

func TestRun_vault(t *testing.T) {
	t.Parallel()
	requireAnsible(t)
	dir := t.TempDir()
	password := writeFile(t, filepath.Join(dir, "vault", "password"), "correct horse battery staple\n")
	plain := writeFile(t, filepath.Join(dir, "plain.yml"), "vault_secret: hunter2-from-the-vault\n")
	cmd := exec.Command("ansible-vault", "encrypt", "--vault-password-file", password, "--output", "-", plain)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LANG=C.UTF-8"}
	encrypted, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-vault encrypt: %v", err)
	}
	if !bytes.HasPrefix(encrypted, []byte("$ANSIBLE_VAULT;")) {
		t.Fatalf("ansible-vault wrote %q", encrypted)
	}
	repo := gittest.NewRepo(t, map[string]string{
		"hosts":                    localInventory("localhost"),
		"group_vars/all/vault.yml": string(encrypted),
		"site.yml":                 markerPlaybook("{{ vault_secret }}"),
	})
	url := gittest.StartDaemon(t, repo.Bare(t))

	t.Run("the vault password file decrypts the repository's vars", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, repo.Head(t, "main"))
		s.VaultPasswordFile = password
		got, _ := p.run(t, s)
		wantSummary(t, got, ResultSucceeded, ReasonSucceeded, 0)
		if c := p.file(t, "marker-localhost"); c != "hunter2-from-the-vault" {
			t.Errorf("the playbook saw vault_secret = %q", c)
		}
	})
	t.Run("without the password ansible fails", func(t *testing.T) {
		p := newPod(t)
		got, _ := p.run(t, spec(url, repo.Head(t, "main")))
		if got.Result != ResultFailed || got.ExitCode == 0 || !strings.Contains(got.Message, "vault") {
			t.Errorf("summary = %+v, want a failure about the vault", got)
		}
	})
	t.Run("a missing vault password file is PathNotFound", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, repo.Head(t, "main"))
		s.VaultPasswordFile = filepath.Join(dir, "vault", "nope")
		got, _ := p.run(t, s)
		wantSummary(t, got, ResultFailed, ReasonPathNotFound, 1)
	})
}

func TestRun_tagsCheckAndOptions(t *testing.T) {
	t.Parallel()
	task := func(name, tag string) string {
		s := "    - name: " + name + "\n      copy:\n        content: x\n        dest: \"{{ lookup('env', 'TMPDIR') }}/{{ inventory_hostname }}-" + name + "\"\n"
		if tag != "" {
			s += "      tags: [" + tag + "]\n"
		}
		return s
	}
	repo := gittest.NewRepo(t, map[string]string{
		"hosts":    localInventory("alpha", "beta"),
		"site.yml": "- hosts: all\n  gather_facts: false\n  tasks:\n" + task("deploy", "deploy") + task("config", "config") + task("untagged", ""),
	})
	url := gittest.StartDaemon(t, repo.Bare(t))
	commit := repo.Head(t, "main")

	tests := map[string]struct {
		exec        runspec.Execution
		wantFiles   []string
		wantChanged int
	}{
		"tags run only the tagged tasks": {
			exec: runspec.Execution{Tags: []string{"deploy"}}, wantFiles: []string{"deploy"}, wantChanged: 2,
		},
		"skip tags leave tasks out": {
			exec: runspec.Execution{SkipTags: []string{"deploy", "config"}}, wantFiles: []string{"untagged"}, wantChanged: 2,
		},
		"check mode reports changes and makes none": {
			exec: runspec.Execution{Check: true, Diff: true}, wantFiles: nil, wantChanged: 6,
		},
		"start at task, limit, forks, timeout, strategy and the rest are accepted": {
			exec: runspec.Execution{
				StartAtTask: "config", Limit: "alpha", Forks: 3, ConnectionTimeout: 5, Strategy: "free",
				FlushCache: true, ForceHandlers: true, Verbosity: 1,
			},
			wantFiles: []string{"config", "untagged"}, wantChanged: 2,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := newPod(t)
			s := spec(url, commit)
			s.Execution = tc.exec
			got, _ := p.run(t, s)
			wantSummary(t, got, ResultSucceeded, ReasonSucceeded, 0)
			var files []string
			for _, f := range []string{"deploy", "config", "untagged"} {
				if p.exists("alpha-" + f) {
					files = append(files, f)
				}
			}
			if diff := cmp.Diff(tc.wantFiles, files); diff != "" {
				t.Errorf("files the playbook wrote mismatch (-want +got):\n%s", diff)
			}
			if got.Totals.Changed != tc.wantChanged {
				t.Errorf("changed = %d, want %d", got.Totals.Changed, tc.wantChanged)
			}
		})
	}
}

// tarGz packs files (path → content) as a .tar.gz.
func tarGz(t *testing.T, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestRun_requirements(t *testing.T) {
	t.Parallel()
	requireAnsible(t)
	marker := func(name string) string {
		return "- copy:\n    content: " + name + "\n    dest: \"{{ lookup('env', 'TMPDIR') }}/" + name + "\"\n"
	}
	repo := gittest.NewRepo(t, map[string]string{
		"hosts": localInventory("localhost"),
		// ansible-galaxy 2.14 installs both kinds from local sources, offline:
		// a collection directory (type: dir) and a role tarball (a path src).
		"requirements.yml": `collections:
  - name: ./collections/acme/tools
    type: dir
roles:
  - name: tarrole
    src: ./vendor/tarrole.tar.gz
`,
		"collections/acme/tools/galaxy.yml":                 "namespace: acme\nname: tools\nversion: 1.0.0\nreadme: README.md\nauthors: [test]\n",
		"collections/acme/tools/README.md":                  "test collection\n",
		"collections/acme/tools/roles/hello/tasks/main.yml": marker("from-collection"),
		"vendor/tarrole.tar.gz": tarGz(t, map[string]string{
			"tarrole/tasks/main.yml": marker("from-role"),
			"tarrole/meta/main.yml":  "galaxy_info: {author: test, description: test, license: MIT, min_ansible_version: '2.14', platforms: []}\n",
		}),
		"ansible/roles/inrepo/tasks/main.yml": marker("from-repo"),
		"site.yml":                            "- hosts: all\n  gather_facts: false\n  roles: [tarrole, acme.tools.hello, inrepo]\n",
		"broken-requirements.yml":             "collections:\n  - name: ./collections/missing\n    type: dir\n",
	})
	url := gittest.StartDaemon(t, repo.Bare(t))
	commit := repo.Head(t, "main")

	t.Run("roles and collections are installed into HOME and found next to rolesDir", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, commit)
		s.RequirementsFile = "requirements.yml"
		s.RolesDir = "ansible/roles"
		got, _ := p.run(t, s)
		wantSummary(t, got, ResultSucceeded, ReasonSucceeded, 0)
		for _, f := range []string{"from-collection", "from-role", "from-repo"} {
			if !p.exists(f) {
				t.Errorf("the role writing %s did not run", f)
			}
		}
		for _, d := range []string{".ansible/collections/ansible_collections/acme/tools", ".ansible/roles/tarrole"} {
			if _, err := os.Stat(filepath.Join(p.home, d)); err != nil {
				t.Errorf("not installed into HOME: %v", err)
			}
		}
	})
	t.Run("a missing requirements file is skipped", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, commit)
		s.RequirementsFile = "nope.yml"
		s.Playbook = "hosts" // any existing file: the run fails in ansible, not before
		got, _ := p.run(t, s)
		if got.Reason == ReasonRequirementsFailed || got.Reason == ReasonPathNotFound {
			t.Errorf("summary = %+v, want the requirements skipped", got)
		}
	})
	t.Run("a failing install is RequirementsFailed with galaxy's error", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, commit)
		s.RequirementsFile = "broken-requirements.yml"
		got, _ := p.run(t, s)
		wantSummary(t, got, ResultFailed, ReasonRequirementsFailed, 1)
		if !strings.Contains(got.Message, "ERROR!") {
			t.Errorf("message = %q, want galaxy's error", got.Message)
		}
	})
}

func TestRun_ansibleCfg(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{
		"hosts": localInventory("localhost"),
		// The repository's own callback_plugins setting must keep working
		// next to the runner's plugin.
		"config/ansible.cfg": "[defaults]\ncallback_plugins = ../plugins/callback\nroles_path = ../cfgroles\nstdout_callback = oneline\n",
		// roles_path of the ansible.cfg and rolesDir both count.
		"cfgroles/cfgrole/tasks/main.yml":      "- copy:\n    content: x\n    dest: \"{{ lookup('env', 'TMPDIR') }}/cfgrole\"\n",
		"ansible/roles/dirrole/tasks/main.yml": "- copy:\n    content: x\n    dest: \"{{ lookup('env', 'TMPDIR') }}/dirrole\"\n",
		"roles.yml":                            "- hosts: all\n  gather_facts: false\n  roles: [cfgrole, dirrole]\n",
		"plugins/callback/repo_marker.py": `from ansible.plugins.callback import CallbackBase
import os

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'repo_marker'

    def v2_playbook_on_stats(self, stats):
        open(os.path.join(os.environ['TMPDIR'], 'repo-callback-ran'), 'w').close()
`,
		"site.yml": markerPlaybook("x"),
	})
	url := gittest.StartDaemon(t, repo.Bare(t))
	p := newPod(t)
	s := spec(url, repo.Head(t, "main"))
	s.AnsibleCfg = "config/ansible.cfg"
	got, _ := p.run(t, s)
	wantSummary(t, got, ResultSucceeded, ReasonSucceeded, 0)
	if len(got.Hosts) != 1 || got.Totals.Changed != 1 {
		t.Errorf("summary = %+v, want the runner's callback to have counted localhost", got)
	}
	if !p.exists("repo-callback-ran") {
		t.Errorf("the repository's callback plugin did not run")
	}
	// stdout_callback = oneline from ANSIBLE_CONFIG took effect.
	if !strings.Contains(p.out.String(), "localhost | CHANGED") {
		t.Errorf("the ansible.cfg's stdout callback is not in effect:\n%s", p.out.String())
	}

	t.Run("roles come from rolesDir and from the ansible.cfg's roles_path", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, repo.Head(t, "main"))
		s.AnsibleCfg = "config/ansible.cfg"
		s.RolesDir = "ansible/roles"
		s.Playbook = "roles.yml"
		got, _ := p.run(t, s)
		wantSummary(t, got, ResultSucceeded, ReasonSucceeded, 0)
		if !p.exists("cfgrole") || !p.exists("dirrole") {
			t.Errorf("a role did not run")
		}
	})
	t.Run("a missing ansible.cfg is PathNotFound", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, repo.Head(t, "main"))
		s.AnsibleCfg = "ansible.cfg"
		got, _ := p.run(t, s)
		wantSummary(t, got, ResultFailed, ReasonPathNotFound, 1)
		if !strings.Contains(got.Message, `"ansible.cfg"`) {
			t.Errorf("message = %q", got.Message)
		}
	})
}

// TestRun_summaryOf50Hosts runs 50 hosts of which 10 fail and checks the
// termination message stays within 4 KiB with every failure in it.
func TestRun_summaryOf50Hosts(t *testing.T) {
	t.Parallel()
	var hosts, failing []string
	for i := 1; i <= 50; i++ {
		hosts = append(hosts, fmt.Sprintf("web-%02d.prod.example.internal", i))
		if i%5 == 0 {
			failing = append(failing, hosts[i-1])
		}
	}
	list, _ := json.Marshal(failing)
	repo := gittest.NewRepo(t, map[string]string{
		"hosts": localInventory(hosts...),
		"site.yml": `- hosts: all
  gather_facts: false
  vars:
    failing: ` + string(list) + `
  tasks:
    - name: Check the host
      debug:
        msg: checked
      changed_when: true
    - name: Install nginx from the internal mirror
      fail:
        msg: "Package nginx-1.24.0-1~bookworm could not be installed: dependency libssl3 (>= 3.0.11) is not satisfiable on {{ inventory_hostname }}"
      when: inventory_hostname in failing
    - name: Done
      debug:
        msg: done
`,
	})
	url := gittest.StartDaemon(t, repo.Bare(t))
	p := newPod(t)
	s := spec(url, repo.Head(t, "main"))
	s.Execution.Forks = 25
	got, raw := p.run(t, s)
	t.Logf("summary of 50 hosts with 10 failures: %d bytes, %d hosts, %d failures, truncated %v", len(raw), len(got.Hosts), len(got.Failures), got.Truncated)
	wantSummary(t, got, ResultFailed, ReasonPlaybookFailed, 2)
	if len(raw) > runspec.MaxSummaryBytes {
		t.Fatalf("summary is %d bytes, over %d", len(raw), runspec.MaxSummaryBytes)
	}
	if diff := cmp.Diff(runspec.Counts{OK: 90, Changed: 50, Failed: 10, Skipped: 40}, got.Totals); diff != "" {
		t.Errorf("totals mismatch (-want +got):\n%s", diff)
	}
	if len(got.Failures) != 10 {
		t.Errorf("summary has %d failures, want all 10", len(got.Failures))
	}
	for i, f := range got.Failures {
		if f.Task != "Install nginx from the internal mirror" || !strings.Contains(f.Message, f.Host) {
			t.Errorf("failure %d = %+v", i, f)
		}
	}
	for i, h := range got.Hosts {
		if i < 10 && h.Failed != 1 || i >= 10 && h.Failed != 0 {
			t.Errorf("host %d = %+v: failed hosts do not come first", i, h)
		}
	}
	if len(got.Hosts) < 50 && !got.Truncated {
		t.Errorf("hosts were cut without truncated: true")
	}
}

// assertNoSecretIn checks that no file the run left in dirs holds secret:
// go-git gets credentials in memory, ansible gets none.
func assertNoSecretIn(t *testing.T, secret string, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds the credential", path)
			}
			return nil
		})
	}
}

// TestRun_failureRecords checks what the callback records: rescued and
// ignored failures are not failures, loop failures name the item, no_log
// hides the message, and unreachable hosts are listed with ssh's reason.
func TestRun_failureRecords(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{
		"hosts": localInventory("alpha", "beta") + "[all]\ngamma ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1\n",
		"site.yml": `- hosts: all
  gather_facts: false
  tasks:
    - name: Reach the host
      command: "true"
    - block:
        - name: Fail and be rescued
          fail:
            msg: rescued
      rescue:
        - name: Rescue
          debug:
            msg: rescued
    - name: Fail and be ignored
      fail:
        msg: ignored
      ignore_errors: true
    - name: Run commands
      command: "{{ item }}"
      loop: ["true", "false"]
      when: inventory_hostname == 'alpha'
    - name: Hidden
      fail:
        msg: secret-in-no-log
      no_log: true
      when: inventory_hostname == 'beta'
`,
	})
	url := gittest.StartDaemon(t, repo.Bare(t))
	p := newPod(t)
	got, raw := p.run(t, spec(url, repo.Head(t, "main")))
	// ansible exits 4 when a host was unreachable, even if others failed;
	// the reason says failed hosts.
	wantSummary(t, got, ResultFailed, ReasonPlaybookFailed, 4)
	if got.Message != "playbook site.yml failed on 2 of 3 hosts; 1 unreachable" {
		t.Errorf("message = %q", got.Message)
	}
	if len(got.Failures) != 3 {
		t.Fatalf("failures = %+v, want 3", got.Failures)
	}
	want := []runspec.Failure{
		{Host: "gamma", Task: "Reach the host"},
		{Host: "alpha", Task: "Run commands", Message: "item false: non-zero return code"},
		{Host: "beta", Task: "Hidden", Message: "the output has been hidden due to the fact that 'no_log: true' was specified for this result"},
	}
	if !strings.Contains(got.Failures[0].Message, "Connection refused") {
		t.Errorf("the unreachable host's message = %q, want ssh's reason", got.Failures[0].Message)
	}
	got.Failures[0].Message = ""
	if diff := cmp.Diff(want, got.Failures); diff != "" {
		t.Errorf("failures mismatch (-want +got):\n%s", diff)
	}
	wantHosts := []runspec.HostCounts{
		{Host: "alpha", Counts: runspec.Counts{OK: 3, Changed: 1, Failed: 1}},
		{Host: "beta", Counts: runspec.Counts{OK: 3, Changed: 1, Failed: 1, Skipped: 1}},
		{Host: "gamma", Counts: runspec.Counts{Unreachable: 1}},
		// alpha and beta: ok counts the command, the rescue and the ignored
		// failure; the rescued failure counts nowhere.
	}
	if diff := cmp.Diff(wantHosts, got.Hosts); diff != "" {
		t.Errorf("hosts mismatch (-want +got):\n%s", diff)
	}
	if bytes.Contains(raw, []byte("secret-in-no-log")) {
		t.Errorf("the summary shows a no_log message: %s", raw)
	}
}

// TestRun_pathsOutsideTheRepository: the paths the operator's path check
// leaves to the runner (runspec.InventoryKind and FileKind) work: a host
// list, an absolute inventory and an absolute ansible.cfg from a volume
// mounted into the pod; a missing absolute path is PathNotFound naming it.
func TestRun_pathsOutsideTheRepository(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"site.yml": markerPlaybook("{{ inventory_hostname }}")})
	url := gittest.StartDaemon(t, repo.Bare(t))
	commit := repo.Head(t, "main")
	mounted := t.TempDir() // a fileMount
	inventory := writeFile(t, filepath.Join(mounted, "hosts.ini"), localInventory("mounted"))
	cfg := writeFile(t, filepath.Join(mounted, "ansible.cfg"), "[defaults]\nstdout_callback = oneline\n")
	local := json.RawMessage(`{"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}`)

	t.Run("a host list and an absolute inventory run their hosts", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, commit)
		s.Inventories = []string{"inline-a,inline-b", inventory}
		s.ExtraVars = local
		got, _ := p.run(t, s)
		wantSummary(t, got, ResultSucceeded, ReasonSucceeded, 0)
		for _, h := range []string{"inline-a", "inline-b", "mounted"} {
			if p.file(t, "marker-"+h) != h {
				t.Errorf("host %s did not run", h)
			}
		}
	})
	t.Run("an absolute ansible.cfg is in effect", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, commit)
		s.Inventories = []string{inventory}
		s.AnsibleCfg = cfg
		got, _ := p.run(t, s)
		wantSummary(t, got, ResultSucceeded, ReasonSucceeded, 0)
		if !strings.Contains(p.out.String(), "mounted | CHANGED") {
			t.Errorf("the mounted ansible.cfg's stdout callback is not in effect:\n%s", p.out.String())
		}
	})
	t.Run("a missing absolute inventory is PathNotFound", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, commit)
		s.Inventories = []string{filepath.Join(mounted, "missing.ini")}
		got, _ := p.run(t, s)
		wantSummary(t, got, ResultFailed, ReasonPathNotFound, 1)
		if !strings.Contains(got.Message, filepath.Join(mounted, "missing.ini")+" not found in the executor pod") {
			t.Errorf("message = %q", got.Message)
		}
	})
}
