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
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

// pathSetting is one of ansible's colon-separated search path settings.
type pathSetting struct {
	// env is its environment variable, iniKey its key in [defaults].
	env, iniKey string
	// defaultUnderHome is its default below ANSIBLE_HOME, followed by the
	// system directories.
	defaultUnderHome string
}

var (
	// callbackPlugins is DEFAULT_CALLBACK_PLUGIN_PATH.
	callbackPlugins = pathSetting{"ANSIBLE_CALLBACK_PLUGINS", "callback_plugins", "/plugins/callback:/usr/share/ansible/plugins/callback"}
	// rolesPath is DEFAULT_ROLES_PATH.
	rolesPath = pathSetting{"ANSIBLE_ROLES_PATH", "roles_path", "/roles:/usr/share/ansible/roles:/etc/ansible/roles"}
)

// prependPath returns the value of setting's environment variable that puts
// first in front of the path ansible would use otherwise: the variable
// replaces the setting of the repository's ansible.cfg, which must keep
// working. That path is, as ansible resolves it: the environment's
// variable, else the key in [defaults] of the ansible.cfg in effect
// (relative entries taken from the file's directory), else the default
// under ANSIBLE_HOME. getenv reads the environment ansible will get, cwd is
// its working directory.
func prependPath(first string, setting pathSetting, getenv func(string) string, cwd, home string) string {
	if v := getenv(setting.env); v != "" {
		return first + ":" + v
	}
	cfgFile := findAnsibleCfg(getenv("ANSIBLE_CONFIG"), cwd, home)
	var cfg []byte
	if cfgFile != "" {
		cfg, _ = os.ReadFile(cfgFile)
	}
	if v, ok := iniValue(cfg, "defaults", setting.iniKey); ok && v != "" {
		entries := strings.Split(v, ":")
		for i, e := range entries {
			e = strings.TrimSpace(e)
			// ~ and $VAR are ansible's to expand; relative entries are
			// relative to the file, which they would not be in the
			// environment (there they are relative to the working directory).
			if e != "" && !filepath.IsAbs(e) && !strings.HasPrefix(e, "~") && !strings.HasPrefix(e, "$") {
				e = filepath.Join(filepath.Dir(cfgFile), e)
			}
			entries[i] = e
		}
		return first + ":" + strings.Join(entries, ":")
	}
	ansibleHome := getenv("ANSIBLE_HOME")
	if ansibleHome == "" {
		if v, ok := iniValue(cfg, "defaults", "home"); ok && v != "" {
			ansibleHome = v
		} else {
			ansibleHome = "~/.ansible"
		}
	}
	return first + ":" + ansibleHome + setting.defaultUnderHome
}

// findAnsibleCfg returns the ansible.cfg ansible reads, in its order:
// ANSIBLE_CONFIG (a file, or a directory holding ansible.cfg), the working
// directory's unless it is world-writable, ~/.ansible.cfg,
// /etc/ansible/ansible.cfg; empty when there is none.
func findAnsibleCfg(fromEnv, cwd, home string) string {
	var candidates []string
	if fromEnv != "" {
		if info, err := os.Stat(fromEnv); err == nil && info.IsDir() {
			fromEnv = filepath.Join(fromEnv, "ansible.cfg")
		}
		candidates = append(candidates, fromEnv)
	}
	if info, err := os.Stat(cwd); err == nil && info.Mode().Perm()&0o002 == 0 {
		candidates = append(candidates, filepath.Join(cwd, "ansible.cfg"))
	}
	candidates = append(candidates, filepath.Join(home, ".ansible.cfg"), "/etc/ansible/ansible.cfg")
	for _, c := range candidates {
		if f, err := os.Open(c); err == nil {
			_ = f.Close()
			return c
		}
	}
	return ""
}

// iniValue reads key from section of an INI file as Python's configparser
// reads ansible.cfg: case-insensitive keys, "=" or ":" delimiters, # and ;
// comment lines, inline comments after " ;", indented continuation lines.
func iniValue(data []byte, section, key string) (string, bool) {
	var (
		current        string
		value          []string
		found, inValue bool
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			inValue = inValue && line == ""
			continue
		}
		if inValue && (raw[0] == ' ' || raw[0] == '\t') {
			value = append(value, stripInlineComment(line))
			continue
		}
		inValue = false
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			current = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		if current != section {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			continue
		}
		if strings.ToLower(strings.TrimSpace(line[:i])) == key {
			// A later occurrence wins, as configparser's strict=False would;
			// ansible's parser is strict and refuses duplicates anyway.
			value = []string{stripInlineComment(strings.TrimSpace(line[i+1:]))}
			found, inValue = true, true
		}
	}
	return strings.TrimSpace(strings.Join(value, "\n")), found
}

func stripInlineComment(s string) string {
	for _, sep := range []string{" ;", "\t;"} {
		if i := strings.Index(s, sep); i >= 0 {
			s = s[:i]
		}
	}
	return strings.TrimSpace(s)
}
