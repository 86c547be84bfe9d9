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

package v1alpha1_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
)

// The messages of the CEL rules, as users see them.
const (
	msgURL                = "url must be a git URL without whitespace: https://host/path, http://host/path, ssh://[user@]host[:port]/path, git://host/path or user@host:path (file URLs and local paths are not supported)"
	msgRevision           = "revision must be a commit SHA: 7 to 40 hex digits (64 for SHA-256 repositories); to follow a branch set branch instead"
	msgBranch             = `branch must be a valid git branch name such as main or release/1.2: no spaces, ~ ^ : ? * [ \, '..', '@{' or '//', and it must not start with '-', '/' or '.' nor end with '/', '.' or '.lock'`
	msgAuthSecretRef      = "auth.secretRef must be set when auth.method is provided: name the Secret in this namespace that holds the credentials (ssh: key ssh-privatekey; https: keys username and password; token: key token)"
	msgAuthMethod         = "auth.method must be set when auth.secretRef is provided: one of ssh, https or token"
	msgSSHNeedsSSHURL     = "auth.method ssh needs an ssh url (ssh://[user@]host/path or user@host:path): for an http(s) url use auth.method https or token"
	msgHTTPNeedsHTTPURL   = "auth.method https and token send credentials over HTTP(S), so url must start with https:// (or http://): for an ssh url use auth.method ssh"
	msgKnownHosts         = "auth.method ssh with strict host key checking (ssh.strictHostKeyChecking, default true) needs ssh.knownHostsConfigMapRef: create a ConfigMap with the key known_hosts (from ssh-keyscan) and name it there, or set ssh.strictHostKeyChecking: false"
	msgPVCNameRequired    = "cache.pvcName is required when cache.strategy is pvc: name an existing PersistentVolumeClaim in this namespace (the operator does not create it)"
	msgPVCNameOnlyWithPVC = "cache.pvcName is only used with cache.strategy pvc: set strategy: pvc to mount the claim, or remove pvcName"
	msgLFS                = "git.lfs: true is not supported: runs do not fetch Git LFS objects (neither the operator's go-git nor the executor image implement LFS), so LFS files would be pointer files; commit the files to git or download them in a playbook task, and remove git.lfs"
	msgPlaybookDir        = "paths.playbookDir is not supported: a Playbook's playbookPath is always relative to the repository root; remove paths.playbookDir (the Python operator ignored it)"
	msgInterval           = "interval must be at least 10s: every interval the operator asks the git server for the branch tip"

	msgInventories   = "set either inventoryPath or inventoryPaths, not both: list every inventory in inventoryPaths"
	msgEnvVarName    = "envVarName must be a non-empty environment variable name of printable ASCII characters without '=', for example DB_PASSWORD"
	msgPlaybookPath  = "playbookPath must be relative to the repository root and stay inside it: no leading '/' and no '..' segments, for example playbooks/site.yml"
	msgStep          = "execution.step is not supported: ansible-playbook --step asks for confirmation on a terminal before every task and a Job has none; use startAtTask, tags or checkMode instead, and remove step"
	msgFlatFileMount = "a fileMounts item has the shape {secretRef: {name}, mountPath, items: [{key, path}]}: move key and path into items (path relative to mountPath) and set mountPath to the directory the Secret is mounted at"
	msgNoMountPath   = "mountPath is required: the absolute directory the Secret's files appear in, for example /etc/ansible/secrets"
	msgMountPath     = "mountPath must be an absolute directory path, for example /etc/ansible/secrets"
	msgItemPath      = "items[].path must be a relative file path without '..' segments, for example ssl/ca.crt; the file appears under mountPath"

	msgSchedule = "schedule must be a cron expression with five fields (minute hour day-of-month month day-of-week, for example '0 3 * * *' or '*/15 * * * MON-FRI'), a macro (@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually, '@every 2h') or a random macro (@hourly-random, @daily-random, @weekly-random, @monthly-random, @yearly-random)"
	msgTZ       = "schedule must not contain a time zone (TZ= or CRON_TZ=), Kubernetes CronJobs reject it: set spec.timeZone instead"
	msgTimeZone = "timeZone must be an IANA time zone name such as Europe/Berlin, America/New_York or UTC (Local is not allowed)"
)

func validRepository() *ansiblev1alpha1.Repository {
	return &ansiblev1alpha1.Repository{Spec: ansiblev1alpha1.RepositorySpec{URL: "https://git.example.com/infra/site.git"}}
}

// sshAuth makes r an ssh Repository with a key and known hosts.
func sshAuth(r *ansiblev1alpha1.Repository, url string) {
	r.Spec.URL = url
	r.Spec.Auth = &ansiblev1alpha1.RepositoryAuth{Method: ansiblev1alpha1.AuthMethodSSH, SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "deploy-key"}}
	r.Spec.SSH = &ansiblev1alpha1.RepositorySSH{KnownHostsConfigMapRef: &ansiblev1alpha1.LocalObjectReference{Name: "known-hosts"}}
}

func tokenAuth(r *ansiblev1alpha1.Repository, method ansiblev1alpha1.AuthMethod, url string) {
	r.Spec.URL = url
	r.Spec.Auth = &ansiblev1alpha1.RepositoryAuth{Method: method, SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "git-token"}}
}

func interval(s string) *metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return &metav1.Duration{Duration: d}
}

func TestRepositoryValidation(t *testing.T) {
	type R = *ansiblev1alpha1.Repository
	tests := map[string]validationCase[R]{
		"minimal https repository is accepted": {},
		"url with two characters is rejected by minLength": {
			mutate: func(r R) { r.Spec.URL = "a:" },
			want:   []string{"spec.url: " + msgURL, "spec.url: spec.url in body should be at least 3 chars long"},
		},
		"http url is accepted":                    {mutate: func(r R) { r.Spec.URL = "http://127.0.0.1:8080/repo.git" }},
		"git protocol url is accepted":            {mutate: func(r R) { r.Spec.URL = "git://git.example.com/repo.git" }},
		"https url without a path is accepted":    {mutate: func(r R) { r.Spec.URL = "https://git.example.com" }},
		"scp-like url without a user is accepted": {mutate: func(r R) { r.Spec.URL = "git.example.com:infra/site.git" }},
		"file url is rejected": {
			mutate: func(r R) { r.Spec.URL = "file:///srv/git/site.git" },
			want:   []string{"spec.url: " + msgURL},
		},
		"local path is rejected": {
			mutate: func(r R) { r.Spec.URL = "/srv/git/site.git" },
			want:   []string{"spec.url: " + msgURL},
		},
		"url with whitespace is rejected": {
			mutate: func(r R) { r.Spec.URL = "https://git.example.com/my repo.git" },
			want:   []string{"spec.url: " + msgURL},
		},
		"https url without a host is rejected": {
			mutate: func(r R) { r.Spec.URL = "https:///site.git" },
			want:   []string{"spec.url: " + msgURL},
		},
		"ssh auth with scp-like url and known hosts is accepted": {
			mutate: func(r R) { sshAuth(r, "git@git.example.com:infra/site.git") },
		},
		"ssh auth with ssh url and port is accepted": {
			mutate: func(r R) { sshAuth(r, "ssh://git@git.example.com:2222/infra/site.git") },
		},
		"ssh auth without known hosts is accepted when strict checking is off": {
			mutate: func(r R) {
				sshAuth(r, "git@git.example.com:infra/site.git")
				r.Spec.SSH = &ansiblev1alpha1.RepositorySSH{StrictHostKeyChecking: ptr.To(false)}
			},
		},
		"ssh auth without known hosts is rejected under strict checking": {
			mutate: func(r R) {
				sshAuth(r, "git@git.example.com:infra/site.git")
				r.Spec.SSH = &ansiblev1alpha1.RepositorySSH{StrictHostKeyChecking: ptr.To(true)}
			},
			want: []string{"spec: " + msgKnownHosts},
		},
		"ssh auth without an ssh section is rejected because strict checking is the default": {
			mutate: func(r R) {
				sshAuth(r, "git@git.example.com:infra/site.git")
				r.Spec.SSH = nil
			},
			want: []string{"spec: " + msgKnownHosts},
		},
		"ssh auth with an https url is rejected": {
			mutate: func(r R) { sshAuth(r, "https://git.example.com/infra/site.git") },
			want:   []string{"spec: " + msgSSHNeedsSSHURL},
		},
		"ssh auth with a git protocol url is rejected": {
			mutate: func(r R) { sshAuth(r, "git://git.example.com/infra/site.git") },
			want:   []string{"spec: " + msgSSHNeedsSSHURL},
		},
		"token auth with an https url is accepted": {
			mutate: func(r R) { tokenAuth(r, ansiblev1alpha1.AuthMethodToken, "https://gitea.example.com/infra/site.git") },
		},
		"https auth with an http url is accepted": {
			mutate: func(r R) { tokenAuth(r, ansiblev1alpha1.AuthMethodHTTPS, "http://127.0.0.1:3000/infra/site.git") },
		},
		"token auth with an ssh url is rejected": {
			mutate: func(r R) { tokenAuth(r, ansiblev1alpha1.AuthMethodToken, "git@git.example.com:infra/site.git") },
			want:   []string{"spec: " + msgHTTPNeedsHTTPURL},
		},
		"https auth with an ssh url is rejected": {
			mutate: func(r R) { tokenAuth(r, ansiblev1alpha1.AuthMethodHTTPS, "ssh://git.example.com/infra/site.git") },
			want:   []string{"spec: " + msgHTTPNeedsHTTPURL},
		},
		"auth method without secretRef is rejected": {
			mutate: func(r R) { r.Spec.Auth = &ansiblev1alpha1.RepositoryAuth{Method: ansiblev1alpha1.AuthMethodToken} },
			want:   []string{"spec.auth: " + msgAuthSecretRef},
		},
		"auth secretRef without method is rejected": {
			mutate: func(r R) {
				r.Spec.Auth = &ansiblev1alpha1.RepositoryAuth{SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "git-token"}}
			},
			want: []string{"spec.auth: " + msgAuthMethod},
		},
		"empty auth is accepted": {
			mutate: func(r R) { r.Spec.Auth = &ansiblev1alpha1.RepositoryAuth{} },
		},
		"revision of 7 hex digits is accepted":  {mutate: func(r R) { r.Spec.Revision = "abc1234" }},
		"revision of 40 hex digits is accepted": {mutate: func(r R) { r.Spec.Revision = strings.Repeat("aB", 20) }},
		"revision of 64 hex digits is accepted": {mutate: func(r R) { r.Spec.Revision = strings.Repeat("0f", 32) }},
		"revision of 6 hex digits is rejected": {
			mutate: func(r R) { r.Spec.Revision = "abc123" },
			want:   []string{"spec.revision: " + msgRevision},
		},
		"revision of 41 hex digits is rejected": {
			mutate: func(r R) { r.Spec.Revision = strings.Repeat("a", 41) },
			want:   []string{"spec.revision: " + msgRevision},
		},
		"revision that is a tag name is rejected": {
			mutate: func(r R) { r.Spec.Revision = "v1.2.3" },
			want:   []string{"spec.revision: " + msgRevision},
		},
		"branch with slashes and dots is accepted": {mutate: func(r R) { r.Spec.Branch = "release/1.2.x" }},
		"branch starting with a dash is rejected": {
			mutate: func(r R) { r.Spec.Branch = "-c" },
			want:   []string{"spec.branch: " + msgBranch},
		},
		"branch with a space is rejected": {
			mutate: func(r R) { r.Spec.Branch = "my branch" },
			want:   []string{"spec.branch: " + msgBranch},
		},
		"branch with two dots is rejected": {
			mutate: func(r R) { r.Spec.Branch = "main..dev" },
			want:   []string{"spec.branch: " + msgBranch},
		},
		"branch with a backslash is rejected": {
			mutate: func(r R) { r.Spec.Branch = `feature\x` },
			want:   []string{"spec.branch: " + msgBranch},
		},
		"branch ending in .lock is rejected": {
			mutate: func(r R) { r.Spec.Branch = "main.lock" },
			want:   []string{"spec.branch: " + msgBranch},
		},
		"branch with an empty component is rejected": {
			mutate: func(r R) { r.Spec.Branch = "feature//x" },
			want:   []string{"spec.branch: " + msgBranch},
		},
		"pvc cache with pvcName is accepted": {
			mutate: func(r R) {
				r.Spec.Cache = &ansiblev1alpha1.RepositoryCache{Strategy: ansiblev1alpha1.CacheStrategyPVC, PVCName: "ansible-cache"}
			},
		},
		"pvc cache without pvcName is rejected": {
			mutate: func(r R) { r.Spec.Cache = &ansiblev1alpha1.RepositoryCache{Strategy: ansiblev1alpha1.CacheStrategyPVC} },
			want:   []string{"spec.cache: " + msgPVCNameRequired},
		},
		"pvcName with the default strategy none is rejected": {
			mutate: func(r R) { r.Spec.Cache = &ansiblev1alpha1.RepositoryCache{PVCName: "ansible-cache"} },
			want:   []string{"spec.cache: " + msgPVCNameOnlyWithPVC},
		},
		"git submodules and shallow are accepted": {
			mutate: func(r R) { r.Spec.Git = &ansiblev1alpha1.RepositoryGit{Submodules: true, Shallow: true} },
		},
		"git lfs is rejected": {
			mutate: func(r R) { r.Spec.Git = &ansiblev1alpha1.RepositoryGit{LFS: true} },
			want:   []string{"spec.git: " + msgLFS},
		},
		"paths with the default playbookDir are accepted": {
			mutate: func(r R) {
				r.Spec.Paths = &ansiblev1alpha1.RepositoryPaths{PlaybookDir: "playbooks", InventoryDir: "inventory", RolesDir: "roles"}
			},
		},
		"paths with another playbookDir are rejected": {
			mutate: func(r R) { r.Spec.Paths = &ansiblev1alpha1.RepositoryPaths{PlaybookDir: "ansible/playbooks"} },
			want:   []string{"spec.paths: " + msgPlaybookDir},
		},
		"interval of 10s is accepted":   {mutate: func(r R) { r.Spec.Interval = interval("10s") }},
		"interval of 1h30m is accepted": {mutate: func(r R) { r.Spec.Interval = interval("1h30m") }},
		"interval of 9s is rejected": {
			mutate: func(r R) { r.Spec.Interval = interval("9s") },
			want:   []string{"spec.interval: " + msgInterval},
		},
		"interval of 9999ms is rejected": {
			mutate: func(r R) { r.Spec.Interval = interval("9999ms") },
			want:   []string{"spec.interval: " + msgInterval},
		},
	}
	runValidation(t, validRepository, tests)
}

func validPlaybook() *ansiblev1alpha1.Playbook {
	return &ansiblev1alpha1.Playbook{Spec: ansiblev1alpha1.PlaybookSpec{
		RepositoryRef: ansiblev1alpha1.ObjectReference{Name: "site"},
		PlaybookPath:  "playbooks/site.yml",
	}}
}

func secrets(p *ansiblev1alpha1.Playbook) *ansiblev1alpha1.PlaybookSecrets {
	if p.Spec.Secrets == nil {
		p.Spec.Secrets = &ansiblev1alpha1.PlaybookSecrets{}
	}
	return p.Spec.Secrets
}

func envVar(name string) ansiblev1alpha1.SecretEnvVar {
	return ansiblev1alpha1.SecretEnvVar{EnvVarName: name, SecretRef: ansiblev1alpha1.SecretKeyReference{Name: "s", Key: "k"}}
}

func fileMount(mountPath string, items ...ansiblev1alpha1.KeyToPath) ansiblev1alpha1.SecretFileMount {
	return ansiblev1alpha1.SecretFileMount{SecretRef: ansiblev1alpha1.FileMountSecretReference{Name: "tls"}, MountPath: mountPath, Items: items}
}

func TestPlaybookValidation(t *testing.T) {
	type P = *ansiblev1alpha1.Playbook
	tests := map[string]validationCase[P]{
		"minimal playbook is accepted":        {},
		"repositoryRef.namespace is accepted": {mutate: func(p P) { p.Spec.RepositoryRef.Namespace = "default" }},
		"inventoryPath alone is accepted":     {mutate: func(p P) { p.Spec.InventoryPath = "localhost," }},
		"inventoryPaths alone are accepted":   {mutate: func(p P) { p.Spec.InventoryPaths = []string{"inventory/a", "inventory/b"} }},
		"inventoryPath and inventoryPaths together are rejected": {
			mutate: func(p P) {
				p.Spec.InventoryPath = "inventory/a"
				p.Spec.InventoryPaths = []string{"inventory/b"}
			},
			want: []string{"spec: " + msgInventories},
		},
		"playbookPath with a dot-dot file name is accepted": {mutate: func(p P) { p.Spec.PlaybookPath = "playbooks/..site.yml" }},
		"absolute playbookPath is rejected": {
			mutate: func(p P) { p.Spec.PlaybookPath = "/etc/site.yml" },
			want:   []string{"spec.playbookPath: " + msgPlaybookPath},
		},
		"playbookPath leaving the repository is rejected": {
			mutate: func(p P) { p.Spec.PlaybookPath = "playbooks/../../site.yml" },
			want:   []string{"spec.playbookPath: " + msgPlaybookPath},
		},
		"playbookPath of only dot-dot is rejected": {
			mutate: func(p P) { p.Spec.PlaybookPath = ".." },
			want:   []string{"spec.playbookPath: " + msgPlaybookPath},
		},
		"envVarName with dots and dashes is accepted": {
			mutate: func(p P) { secrets(p).Env = []ansiblev1alpha1.SecretEnvVar{envVar("my.app-token")} },
		},
		"empty envVarName is rejected": {
			mutate: func(p P) { secrets(p).Env = []ansiblev1alpha1.SecretEnvVar{envVar("A"), envVar("")} },
			want:   []string{"spec.secrets.env[1].envVarName: " + msgEnvVarName},
		},
		"envVarName with an equals sign is rejected": {
			mutate: func(p P) { secrets(p).Env = []ansiblev1alpha1.SecretEnvVar{envVar("A=B")} },
			want:   []string{"spec.secrets.env[0].envVarName: " + msgEnvVarName},
		},
		"envVarName with a newline is rejected": {
			mutate: func(p P) { secrets(p).Env = []ansiblev1alpha1.SecretEnvVar{envVar("A\nB")} },
			want:   []string{"spec.secrets.env[0].envVarName: " + msgEnvVarName},
		},
		"fileMount with items is accepted": {
			mutate: func(p P) {
				secrets(p).FileMounts = []ansiblev1alpha1.SecretFileMount{fileMount("/etc/tls", ansiblev1alpha1.KeyToPath{Key: "ca.crt", Path: "ssl/ca.crt"})}
			},
		},
		"fileMount with a relative mountPath is rejected": {
			mutate: func(p P) { secrets(p).FileMounts = []ansiblev1alpha1.SecretFileMount{fileMount("etc/tls")} },
			want:   []string{"spec.secrets.fileMounts[0].mountPath: " + msgMountPath},
		},
		"fileMount item with an absolute path is rejected": {
			mutate: func(p P) {
				secrets(p).FileMounts = []ansiblev1alpha1.SecretFileMount{fileMount("/etc/tls", ansiblev1alpha1.KeyToPath{Key: "ca.crt", Path: "/ca.crt"})}
			},
			want: []string{"spec.secrets.fileMounts[0].items[0].path: " + msgItemPath},
		},
		"fileMount item path leaving mountPath is rejected": {
			mutate: func(p P) {
				secrets(p).FileMounts = []ansiblev1alpha1.SecretFileMount{fileMount("/etc/tls", ansiblev1alpha1.KeyToPath{Key: "ca.crt", Path: "../ca.crt"})}
			},
			want: []string{"spec.secrets.fileMounts[0].items[0].path: " + msgItemPath},
		},
		"fileMount without mountPath is rejected": {
			mutate: func(p P) { secrets(p).FileMounts = []ansiblev1alpha1.SecretFileMount{fileMount("")} },
			want:   []string{"spec.secrets.fileMounts[0]: " + msgNoMountPath},
		},
		"fileMount with a key in secretRef is rejected as the flat shape": {
			mutate: func(p P) {
				m := fileMount("/etc/app")
				m.SecretRef.Key = "config"
				secrets(p).FileMounts = []ansiblev1alpha1.SecretFileMount{m}
			},
			want: []string{"spec.secrets.fileMounts[0]: " + msgFlatFileMount},
		},
		"fileMount with the flat key and path of the Python operator example is rejected": {
			mutate: func(p P) {
				m := fileMount("/etc/app")
				m.Key, m.Path = "config", "/etc/app/config.yml"
				secrets(p).FileMounts = []ansiblev1alpha1.SecretFileMount{m}
			},
			want: []string{"spec.secrets.fileMounts[0]: " + msgFlatFileMount},
		},
		"execution step false is accepted": {
			mutate: func(p P) { p.Spec.Execution = &ansiblev1alpha1.ExecutionOptions{Step: false, Verbosity: 4} },
		},
		"execution step true is rejected": {
			mutate: func(p P) { p.Spec.Execution = &ansiblev1alpha1.ExecutionOptions{Step: true} },
			want:   []string{"spec.execution: " + msgStep},
		},
	}
	runValidation(t, validPlaybook, tests)
}

func validSchedule() *ansiblev1alpha1.Schedule {
	return &ansiblev1alpha1.Schedule{Spec: ansiblev1alpha1.ScheduleSpec{
		PlaybookRef: ansiblev1alpha1.ObjectReference{Name: "site"},
		Schedule:    "0 3 * * *",
	}}
}

func TestScheduleValidation(t *testing.T) {
	type S = *ansiblev1alpha1.Schedule
	tests := map[string]validationCase[S]{
		"playbookRef.namespace is accepted":  {mutate: func(s S) { s.Spec.PlaybookRef.Namespace = "default" }},
		"timeZone Europe/Berlin is accepted": {mutate: func(s S) { s.Spec.TimeZone = "Europe/Berlin" }},
		"timeZone Etc/GMT+5 is accepted":     {mutate: func(s S) { s.Spec.TimeZone = "Etc/GMT+5" }},
		"timeZone UTC is accepted":           {mutate: func(s S) { s.Spec.TimeZone = "UTC" }},
		"timeZone Local is rejected": {
			mutate: func(s S) { s.Spec.TimeZone = "Local" },
			want:   []string{"spec.timeZone: " + msgTimeZone},
		},
		"timeZone local in lower case is rejected": {
			mutate: func(s S) { s.Spec.TimeZone = "local" },
			want:   []string{"spec.timeZone: " + msgTimeZone},
		},
		"timeZone with a space is rejected": {
			mutate: func(s S) { s.Spec.TimeZone = "Europe/ Berlin" },
			want:   []string{"spec.timeZone: " + msgTimeZone},
		},
		"timeZone that is a relative path is rejected": {
			mutate: func(s S) { s.Spec.TimeZone = "../../etc/passwd" },
			want:   []string{"spec.timeZone: " + msgTimeZone},
		},
		"schedule with a TZ prefix is rejected": {
			mutate: func(s S) { s.Spec.Schedule = "TZ=Europe/Berlin 0 3 * * *" },
			want:   []string{"spec.schedule: " + msgTZ},
		},
		"schedule with a CRON_TZ prefix is rejected": {
			mutate: func(s S) { s.Spec.Schedule = "CRON_TZ=UTC 0 3 * * *" },
			want:   []string{"spec.schedule: " + msgTZ},
		},
	}
	// Every form the Python operator passed to a CronJob that Kubernetes
	// accepts, and its random macros (reference §1.3, §4).
	for _, schedule := range []string{
		"0 3 * * *", "*/5 * * * *", "0 2 * * *", "0 6 * * MON-FRI", "0 0 1 jan *", "0 0 1 JAN-mar *",
		"59 23 31 12 6", "0 0 1 1 0", "00 07 * * *", "0,15,30,45 * * * *", "1-5,10-15/2 * * * *",
		"5/15 * * * *", "0 0 ? * *", "0 0 * * ?", "0 0 * * 0-6/2", "0 */2 * * sun,sat", "0\t3  *\t* *",
		"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually",
		"@every 5m", "@every 1h30m", "@every 1.5h",
		"@hourly-random", "@daily-random", "@weekly-random", "@monthly-random", "@yearly-random",
		"  @daily-random  ", " 0 3 * * * ",
	} {
		tests["schedule "+strconv.Quote(schedule)+" is accepted"] = validationCase[S]{mutate: func(s S) { s.Spec.Schedule = schedule }}
	}
	for _, schedule := range []string{
		"", " ", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *", "* * * 13 *", "* * * 0 *", "* * * * 7",
		"*/0 * * * *", "* * * *", "0 0 0 * * *", "0 0 L * *", "0 0 * * 1#2", "H * * * *", "a * * * *",
		"1-2-3 * * * *", "* * * * MONDAY",
		"@DAILY", "@reboot", "@every", "@every 5", "@every  5m", "@hourly-Random", "@daily-random-x", "@hourly random",
	} {
		tests["schedule "+strconv.Quote(schedule)+" is rejected"] = validationCase[S]{
			mutate: func(s S) { s.Spec.Schedule = schedule },
			want:   []string{"spec.schedule: " + msgSchedule},
		}
	}
	runValidation(t, validSchedule, tests)
}
