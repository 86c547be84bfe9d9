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
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

func TestPlaybookArgs(t *testing.T) {
	tests := map[string]struct {
		exec        runspec.Execution
		inventories []string
		extraVars   string
		vault       string
		want        []string
	}{
		"no options pass only the playbook": {
			want: []string{"site.yml"},
		},
		"every execution option in ansible's spelling": {
			exec: runspec.Execution{
				Tags: []string{"deploy", "config"}, SkipTags: []string{"slow"},
				Check: true, Diff: true, Verbosity: 2, Limit: "web_servers:&production",
				ConnectionTimeout: 30, Forks: 7, Strategy: "free",
				FlushCache: true, ForceHandlers: true, StartAtTask: "Install packages",
			},
			want: []string{
				"--tags", "deploy,config", "--skip-tags", "slow", "--check", "--diff", "-vv",
				"--limit", "web_servers:&production", "--timeout", "30", "--forks", "7",
				"--flush-cache", "--force-handlers", "--start-at-task", "Install packages", "site.yml",
			},
		},
		"inventories, extra vars file and vault come first, each inventory with its own -i": {
			inventories: []string{"inventory/hosts", "inventory/prod"},
			extraVars:   "/tmp/extra-vars-1.json",
			vault:       "/etc/vault/password",
			want: []string{
				"-i", "inventory/hosts", "-i", "inventory/prod",
				"--extra-vars", "@/tmp/extra-vars-1.json",
				"--vault-password-file", "/etc/vault/password", "site.yml",
			},
		},
		"verbosity is capped at 4": {
			exec: runspec.Execution{Verbosity: 9},
			want: []string{"-vvvv", "site.yml"},
		},
		"zero and negative numbers are left out": {
			exec: runspec.Execution{Verbosity: -1, Forks: 0, ConnectionTimeout: 0},
			want: []string{"site.yml"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := runspec.Spec{Playbook: "site.yml", Execution: tc.exec}
			got := PlaybookArgs(spec, tc.inventories, tc.extraVars, tc.vault, "site.yml")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("PlaybookArgs() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlaybookEnv(t *testing.T) {
	tests := map[string]struct {
		strategy string
		want     map[string]string
	}{
		"free goes to ANSIBLE_STRATEGY":                 {strategy: "free", want: map[string]string{"ANSIBLE_STRATEGY": "free"}},
		"linear, the default, leaves ansible.cfg alone": {strategy: "linear", want: map[string]string{}},
		"unset sets nothing":                            {want: map[string]string{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := PlaybookEnv(runspec.Spec{Execution: runspec.Execution{Strategy: tc.strategy}})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("PlaybookEnv() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// summaryWith builds a failed summary with n hosts, of which the first
// failed ones failed, and a failure message of msgLen bytes each.
func summaryWith(n, failed, msgLen int) runspec.Summary {
	s := runspec.Summary{
		Result: ResultFailed, Reason: ReasonPlaybookFailed, ExitCode: 2,
		Message: fmt.Sprintf("playbook site.yml failed on %d of %d hosts", failed, n),
		Commit:  strings.Repeat("a", 40),
	}
	for i := range n {
		h := runspec.HostCounts{Host: fmt.Sprintf("host-%02d.example.internal", i), Counts: runspec.Counts{OK: 3, Changed: 1}}
		if i < failed {
			h.Failed = 1
			s.Failures = append(s.Failures, runspec.Failure{Host: h.Host, Task: "Install packages", Message: strings.Repeat("m", msgLen)})
		}
		s.Totals.OK += h.OK
		s.Totals.Changed += h.Changed
		s.Totals.Failed += h.Failed
		s.Hosts = append(s.Hosts, h)
	}
	return s
}

func TestFitSummary(t *testing.T) {
	tests := map[string]struct {
		in    runspec.Summary
		limit int
		// wantHosts and wantFailures are how many entries are kept.
		wantHosts, wantFailures int
		wantTruncated           bool
		// wantCutMessage: the message was shortened, ending in "...".
		wantCutMessage bool
	}{
		"a small summary is kept whole": {
			in: summaryWith(3, 1, 50), limit: 4096, wantHosts: 3, wantFailures: 1,
		},
		"50 hosts with 10 failures keep every failure and then as many hosts as fit": {
			in: summaryWith(50, 10, 200), limit: 4096, wantHosts: 11, wantFailures: 10, wantTruncated: true,
		},
		"failures come before hosts when even they do not all fit": {
			in: summaryWith(50, 40, 200), limit: 4096, wantHosts: 0, wantFailures: 13, wantTruncated: true,
		},
		"a huge message is cut so that the totals fit": {
			in: func() runspec.Summary {
				s := summaryWith(1, 0, 0)
				s.Message = strings.Repeat("é", 3000)
				return s
			}(),
			limit: 1024, wantHosts: 0, wantFailures: 0, wantTruncated: true, wantCutMessage: true,
		},
		"an empty summary stays empty": {
			in: runspec.Summary{Result: ResultSucceeded, Reason: ReasonSucceeded}, limit: 4096,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := FitSummary(tc.in, tc.limit)
			if len(b) > tc.limit {
				t.Fatalf("FitSummary() = %d bytes, over the limit %d", len(b), tc.limit)
			}
			var got runspec.Summary
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("FitSummary() is not valid JSON: %v\n%s", err, b)
			}
			if len(got.Hosts) != tc.wantHosts || len(got.Failures) != tc.wantFailures || got.Truncated != tc.wantTruncated {
				t.Errorf("FitSummary() kept %d hosts, %d failures, truncated %v; want %d, %d, %v (%d bytes)",
					len(got.Hosts), len(got.Failures), got.Truncated, tc.wantHosts, tc.wantFailures, tc.wantTruncated, len(b))
			}
			if diff := cmp.Diff(tc.in.Totals, got.Totals); diff != "" {
				t.Errorf("totals changed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.in.Hosts[:min(len(tc.in.Hosts), len(got.Hosts))], got.Hosts); len(got.Hosts) > 0 && diff != "" {
				t.Errorf("hosts are not the first ones in order (-want +got):\n%s", diff)
			}
			if cut := got.Message != tc.in.Message; cut != tc.wantCutMessage || cut && !strings.HasSuffix(got.Message, "...") {
				t.Errorf("message = %q (%d bytes), want it cut: %v", got.Message, len(got.Message), tc.wantCutMessage)
			}
			if !strings.HasPrefix(string(b), `{"result":`) || !strings.Contains(string(b), `"totals":`) {
				t.Errorf("FitSummary() does not start with the result and totals: %s", b)
			}
			if tc.wantTruncated && !strings.HasSuffix(string(b), `"truncated":true}`) {
				t.Errorf("truncated is not last: %s", b)
			}
		})
	}
}

func TestSummaryOfStats(t *testing.T) {
	stats := func(js string) callbackStats {
		var st callbackStats
		if err := json.Unmarshal([]byte(js), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	tests := map[string]struct {
		stats                string
		code                 int
		wantResult, wantReas string
		wantMessage          string
		wantFirstHost        string
	}{
		"exit 0 succeeded": {
			stats: `{"hosts":[{"host":"a","ok":2,"changed":1}]}`, code: 0,
			wantResult: ResultSucceeded, wantReas: ReasonSucceeded, wantMessage: "playbook site.yml succeeded on 1 hosts", wantFirstHost: "a",
		},
		"failed hosts come first and make PlaybookFailed": {
			stats: `{"hosts":[{"host":"a","ok":2},{"host":"b","failed":1},{"host":"c","unreachable":1}],"failures":[{"host":"b","task":"t","message":"m"}]}`, code: 2,
			wantResult: ResultFailed, wantReas: ReasonPlaybookFailed, wantMessage: "playbook site.yml failed on 1 of 3 hosts; 1 unreachable", wantFirstHost: "b",
		},
		"only unreachable hosts make HostsUnreachable": {
			stats: `{"hosts":[{"host":"a","ok":2},{"host":"c","unreachable":1}]}`, code: 4,
			wantResult: ResultFailed, wantReas: ReasonHostsUnreachable, wantMessage: "playbook site.yml: 1 of 2 hosts unreachable", wantFirstHost: "c",
		},
		"no stats with an error exit is PlaybookFailed": {
			stats: `{}`, code: 1,
			wantResult: ResultFailed, wantReas: ReasonPlaybookFailed, wantMessage: "ansible-playbook exited with code 1",
		},
		"no hosts matched": {
			stats: `{}`, code: 0,
			wantResult: ResultSucceeded, wantReas: ReasonSucceeded, wantMessage: "playbook site.yml succeeded; no hosts matched",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := stats(tc.stats).summary(tc.code, "site.yml")
			if s.Result != tc.wantResult || s.Reason != tc.wantReas || s.Message != tc.wantMessage || s.ExitCode != tc.code {
				t.Errorf("summary = %s/%s %q exit %d, want %s/%s %q exit %d", s.Result, s.Reason, s.Message, s.ExitCode, tc.wantResult, tc.wantReas, tc.wantMessage, tc.code)
			}
			if tc.wantFirstHost != "" && (len(s.Hosts) == 0 || s.Hosts[0].Host != tc.wantFirstHost) {
				t.Errorf("hosts = %+v, want %s first", s.Hosts, tc.wantFirstHost)
			}
		})
	}
}

func TestIniValue(t *testing.T) {
	cfg := `# comment
[defaults]
inventory = hosts.ini
Callback_Plugins = ./plugins/callback:~/cb ; inline comment
callbacks_enabled = profile_tasks,
    timer
[other]
callback_plugins = /elsewhere
`
	tests := map[string]struct {
		section, key string
		want         string
		wantOK       bool
	}{
		"keys are case-insensitive and inline comments go": {section: "defaults", key: "callback_plugins", want: "./plugins/callback:~/cb", wantOK: true},
		"continuation lines join the value":                {section: "defaults", key: "callbacks_enabled", want: "profile_tasks,\ntimer", wantOK: true},
		"another section's key is not taken":               {section: "defaults", key: "home", wantOK: false},
		"the key is found in the section asked for":        {section: "other", key: "callback_plugins", want: "/elsewhere", wantOK: true},
		"a missing section has nothing":                    {section: "missing", key: "inventory", wantOK: false},
		"a simple value":                                   {section: "defaults", key: "inventory", want: "hosts.ini", wantOK: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := iniValue([]byte(cfg), tc.section, tc.key)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("iniValue(%s, %s) = %q, %v; want %q, %v", tc.section, tc.key, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestPrependPath(t *testing.T) {
	withCfg := t.TempDir()
	if err := os.WriteFile(filepath.Join(withCfg, "ansible.cfg"), []byte("[defaults]\ncallback_plugins = cb:/abs/cb\nroles_path = r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	withHome := t.TempDir()
	if err := os.WriteFile(filepath.Join(withHome, "ansible.cfg"), []byte("[defaults]\nhome = /opt/ansible-home\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	home := t.TempDir()
	tests := map[string]struct {
		env  map[string]string
		cwd  string
		want string
	}{
		"the environment's path is kept behind the plugin": {
			env: map[string]string{"ANSIBLE_CALLBACK_PLUGINS": "/x:/y"}, cwd: withCfg, want: "/p:/x:/y",
		},
		"the working directory's ansible.cfg path is kept, relative to its directory": {
			cwd: withCfg, want: "/p:" + filepath.Join(withCfg, "cb") + ":/abs/cb",
		},
		"ANSIBLE_CONFIG wins over the working directory": {
			env: map[string]string{"ANSIBLE_CONFIG": filepath.Join(withHome, "ansible.cfg")}, cwd: withCfg,
			want: "/p:/opt/ansible-home/plugins/callback:/usr/share/ansible/plugins/callback",
		},
		"without configuration the default path follows": {
			cwd: empty, want: "/p:~/.ansible/plugins/callback:/usr/share/ansible/plugins/callback",
		},
		"ANSIBLE_HOME moves the default": {
			env: map[string]string{"ANSIBLE_HOME": "/h"}, cwd: empty, want: "/p:/h/plugins/callback:/usr/share/ansible/plugins/callback",
		},
	}
	t.Run("roles_path of ansible.cfg is kept behind rolesDir", func(t *testing.T) {
		got := prependPath("/p", rolesPath, func(string) string { return "" }, withCfg, home)
		if want := "/p:" + filepath.Join(withCfg, "r"); got != want {
			t.Errorf("prependPath() = %q, want %q", got, want)
		}
	})
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := prependPath("/p", callbackPlugins, func(k string) string { return tc.env[k] }, tc.cwd, home)
			if got != tc.want {
				t.Errorf("prependPath() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMergeExtraVars(t *testing.T) {
	// secretDir mimics the kubelet's atomic writer: keys are symlinks into
	// ..data, which links to a timestamped directory.
	secretDir := func(t *testing.T, kv map[string]string) string {
		t.Helper()
		dir := t.TempDir()
		ts := filepath.Join(dir, "..2026_01_01_00_00_00.000000001")
		if err := os.Mkdir(ts, 0o755); err != nil {
			t.Fatal(err)
		}
		for k, v := range kv {
			if err := os.WriteFile(filepath.Join(ts, k), []byte(v), 0o400); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join("..data", k), filepath.Join(dir, k)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	first := secretDir(t, map[string]string{"password": "first", "only_first": "1"})
	second := secretDir(t, map[string]string{"password": "second {{ x }}\n"})

	vars, secrets, err := mergeExtraVars(json.RawMessage(`{"password":"spec","big":12345678901234567890,"nested":{"a":[1,"b"]}}`), []string{first, second})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(vars)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"big":12345678901234567890,"nested":{"a":[1,"b"]},"only_first":{"__ansible_unsafe":"1"},"password":{"__ansible_unsafe":"second {{ x }}\n"}}`
	if string(b) != want {
		t.Errorf("merged = %s\nwant      %s", b, want)
	}
	if diff := cmp.Diff([]string{"1", "first", "second {{ x }}\n"}, sorted(secrets)); diff != "" {
		t.Errorf("secrets mismatch (-want +got):\n%s", diff)
	}

	t.Run("no variables mean no file", func(t *testing.T) {
		vars, _, err := mergeExtraVars(json.RawMessage(`null`), nil)
		if err != nil || vars != nil {
			t.Errorf("mergeExtraVars(null) = %v, %v; want nil, nil", vars, err)
		}
	})
	t.Run("a missing directory is PathNotFound", func(t *testing.T) {
		_, _, err := mergeExtraVars(nil, []string{filepath.Join(first, "nope")})
		if se, ok := err.(*stepError); !ok || se.reason != ReasonPathNotFound {
			t.Errorf("err = %v, want PathNotFound", err)
		}
	})
	t.Run("the file is 0600 JSON in TMPDIR", func(t *testing.T) {
		tmp := t.TempDir()
		file, err := writeExtraVars(tmp, vars)
		if err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(file) != tmp || info.Mode().Perm() != 0o600 {
			t.Errorf("file %s has mode %v, want 0600 in %s", file, info.Mode().Perm(), tmp)
		}
	})
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestDecodeSpec(t *testing.T) {
	base := `{"repository":{"url":"ssh://git@example.com/r.git","commit":"` + strings.Repeat("a", 40) + `"%s},"playbook":"site.yml"}`
	tests := map[string]struct {
		extra string
		want  bool
	}{
		"an absent strictHostKeyChecking stays strict": {extra: "", want: true},
		"an explicit false is kept":                    {extra: `,"strictHostKeyChecking":false`, want: false},
		"an explicit true is kept":                     {extra: `,"strictHostKeyChecking":true`, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec, err := DecodeSpec(fmt.Sprintf(base, tc.extra))
			if err != nil {
				t.Fatal(err)
			}
			if spec.Repository.StrictHostKeyChecking != tc.want {
				t.Errorf("StrictHostKeyChecking = %v, want %v", spec.Repository.StrictHostKeyChecking, tc.want)
			}
		})
	}
}

func TestResolveSubmoduleURL(t *testing.T) {
	tests := map[string]struct{ parent, sub, want string }{
		"absolute URLs are kept":       {"https://h/org/main.git", "ssh://git@o/x.git", "ssh://git@o/x.git"},
		"../ is a sibling repository":  {"https://h/org/main.git", "../lib.git", "https://h/org/lib.git"},
		"./ is below the superproject": {"git://h:9418/main.git", "./sub.git", "git://h/main.git/sub.git"},
		"ssh keeps its user and port":  {"ssh://git@h:2222/org/main.git", "../lib.git", "ssh://git@h:2222/org/lib.git"},
		"scp-like parents resolve too": {"git@h:org/main.git", "../lib.git", "ssh://git@h/org/lib.git"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := resolveSubmoduleURL(tc.parent, tc.sub); got != tc.want {
				t.Errorf("resolveSubmoduleURL(%q, %q) = %q, want %q", tc.parent, tc.sub, got, tc.want)
			}
		})
	}
}

func TestAttempts(t *testing.T) {
	what := func(as []fetchAttempt) []string {
		var out []string
		for _, a := range as {
			out = append(out, fmt.Sprintf("%s fresh=%v", a.what, a.fresh))
		}
		return out
	}
	tests := map[string]struct {
		repo runspec.Repository
		want []string
	}{
		"a branch: the branch, then everything": {
			repo: runspec.Repository{Branch: "main"},
			want: []string{`branch "main" fresh=true`, "all branches and tags fresh=false"},
		},
		"a shallow branch: depth 1, deeper, whole, everything": {
			repo: runspec.Repository{Branch: "refs/heads/main", Shallow: true},
			want: []string{`branch "main" (depth 1) fresh=true`, `branch "main" (depth 50) fresh=false`, `branch "main" fresh=true`, "all branches and tags fresh=false"},
		},
		"no branch: all branches": {
			repo: runspec.Repository{},
			want: []string{"all branches and tags fresh=true"},
		},
		"no branch, shallow": {
			repo: runspec.Repository{Shallow: true},
			want: []string{"all branches (depth 1) fresh=true", "all branches (depth 50) fresh=false", "all branches and tags fresh=true"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, what(attempts(tc.repo))); diff != "" {
				t.Errorf("attempts() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRedactor(t *testing.T) {
	r := &git.Redactor{}
	r.Add(git.MinSecretLen, "tok3n-value", "abc")
	r.Add(minVarSecretLen, "short", "line one is long\nsecond-line-long")
	got := r.Apply("tok3n-value abc short line one is long second-line-long https://user:pw@host/x")
	want := "[redacted] abc short [redacted] [redacted] https://host/x"
	if got != want {
		t.Errorf("apply() = %q, want %q", got, want)
	}
}

func TestInstall(t *testing.T) {
	src := filepath.Join(t.TempDir(), "self")
	if err := os.WriteFile(src, []byte("#!binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dst, err := Install(src, dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(dst)
	if dst != filepath.Join(dir, "playbook-runner") || info.Mode().Perm() != 0o755 || string(b) != "#!binary" {
		t.Errorf("installed %s mode %v content %q", dst, info.Mode().Perm(), b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("install left %d files, want 1", len(entries))
	}
}
