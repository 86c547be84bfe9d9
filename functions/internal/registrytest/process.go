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
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"text/template"
	"time"
)

const (
	registryBinary = "/usr/bin/docker-registry"
	installHint    = "run `apt-get install docker-registry apache2-utils` (or `make test`, which installs them)"
	startTimeout   = 15 * time.Second
	// startAttempts covers the window between freePort closing its listener
	// and docker-registry binding the port, where another process may win.
	startAttempts = 3
)

// registryConfig feeds configTemplate; empty fields leave sections out.
type registryConfig struct {
	Dir        string
	Addr       string
	TLS        bool
	Htpasswd   string
	TokenRealm string
}

var configTemplate = template.Must(template.New("config.yml").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(`version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {{q (print .Dir "/data")}}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: {{q .Addr}}
  secret: registrytest
{{- if .TLS}}
  tls:
    certificate: {{q (print .Dir "/server.crt")}}
    key: {{q (print .Dir "/server.key")}}
{{- end}}
{{- if .Htpasswd}}
auth:
  htpasswd:
    realm: test-realm
    path: {{q .Htpasswd}}
{{- else if .TokenRealm}}
auth:
  token:
    realm: {{q .TokenRealm}}
    service: {{q "` + tokenService + `"}}
    issuer: {{q "` + tokenIssuer + `"}}
    rootcertbundle: {{q (print .Dir "/issuer.crt")}}
{{- end}}
`))

// errExited reports that docker-registry died before answering, typically
// because another process took its port.
var errExited = errors.New("docker-registry exited before becoming ready")

// Start launches /usr/bin/docker-registry as a child process on a free
// loopback port with a generated config.yml in t.TempDir(), waits until
// /v2/ answers, and registers t.Cleanup to kill it. A missing binary is a
// test failure, never a skip, so CI cannot silently lose coverage.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	if _, err := os.Stat(registryBinary); err != nil {
		t.Fatalf("registrytest: %s not found (%v); %s", registryBinary, err, installHint)
	}
	cfg := registryConfig{Dir: t.TempDir(), TLS: opts.TLS, Addr: opts.Addr}
	r := &Registry{}
	if opts.Auth != AuthNone {
		r.Username, r.Password = "testuser", randomHex(t, 16)
	}
	var cert *serverCert
	if opts.TLS {
		cert = r.setupTLS(t, cfg.Dir)
	}
	r.transport = newTransport(t, r.CAPEM)
	switch opts.Auth {
	case AuthBasic:
		cfg.Htpasswd = writeHtpasswd(t, cfg.Dir, r.Username, r.Password)
	case AuthToken:
		r.tokens = startTokenServer(t, r.Username, r.Password, cert, opts.EchoCredentials)
		writeFile(t, cfg.Dir, "issuer.crt", r.tokens.certPEM())
		cfg.TokenRealm = r.tokens.realm
	}
	r.launch(t, cfg)
	return r
}

// setupTLS creates the CA and server certificate files and records CAPEM.
func (r *Registry) setupTLS(t testing.TB, dir string) *serverCert {
	t.Helper()
	ca := newTestCA(t)
	cert := ca.issue(t)
	writeFile(t, dir, "server.crt", cert.certPEM)
	writeFile(t, dir, "server.key", cert.keyPEM)
	r.CAPEM = ca.pem
	return &cert
}

// writeHtpasswd uses the real htpasswd tool so the bcrypt format is exactly
// what docker-registry expects in production setups.
func writeHtpasswd(t testing.TB, dir, user, pass string) string {
	t.Helper()
	bin, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Fatalf("registrytest: htpasswd not found (%v); %s", err, installHint)
	}
	out, err := exec.Command(bin, "-Bbn", user, pass).Output()
	mustOK(t, err, "running htpasswd")
	return writeFile(t, dir, "htpasswd", bytes.TrimSpace(out))
}

// launch starts docker-registry, retrying with a new port if it exits early.
func (r *Registry) launch(t testing.TB, cfg registryConfig) {
	t.Helper()
	scheme := "http"
	if cfg.TLS {
		scheme = "https"
	}
	var err error
	fixed := cfg.Addr != ""
	for range startAttempts {
		if !fixed {
			cfg.Addr = "127.0.0.1:" + freePort(t)
		}
		p := startProcess(t, cfg)
		if err = p.waitReady(scheme+"://"+cfg.Addr+"/v2/", r.transport); err == nil {
			r.Host = cfg.Addr
			return
		}
		p.stop(t)
		if fixed {
			t.Fatalf("registrytest: docker-registry could not listen on %s (is something else using it?): %v", cfg.Addr, err)
		}
		if !errors.Is(err, errExited) {
			break
		}
	}
	t.Fatalf("registrytest: starting docker-registry: %v", err)
}

// process is a running docker-registry child.
type process struct {
	cmd      *exec.Cmd
	logPath  string
	exited   chan struct{}
	waitErr  error
	stopOnce sync.Once
}

func startProcess(t testing.TB, cfg registryConfig) *process {
	t.Helper()
	var buf bytes.Buffer
	mustOK(t, configTemplate.Execute(&buf, cfg), "rendering config")
	cfgPath := writeFile(t, cfg.Dir, "config.yml", buf.Bytes())
	p := &process{logPath: filepath.Join(cfg.Dir, "registry.log"), exited: make(chan struct{})}
	logFile, err := os.Create(p.logPath)
	mustOK(t, err, "creating registry log")
	defer logFile.Close() // the child keeps its own descriptor
	p.cmd = exec.Command(registryBinary, "serve", cfgPath)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	mustOK(t, p.cmd.Start(), "starting docker-registry")
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// waitReady polls url until it answers with any HTTP status: 401 from an
// authenticating registry also proves it is serving.
func (p *process) waitReady(url string, rt http.RoundTripper) error {
	client := &http.Client{Transport: rt, Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("%w (%v): %s", errExited, p.waitErr, p.logTail())
		default:
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("no answer from %s within %v: %s", url, startTimeout, p.logTail())
}

// stop kills the child once and, for failed tests, shows its log, which
// is usually the only explanation of a registry-side rejection.
func (p *process) stop(t testing.TB) {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Kill() // fails harmlessly if the child already exited
		<-p.exited
		if t.Failed() {
			t.Logf("registrytest: docker-registry log tail:\n%s", p.logTail())
		}
	})
}

func (p *process) logTail() string {
	const max = 4096
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(reading log: %v)", err)
	}
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// freePort asks the kernel for an unused loopback port.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	mustOK(t, err, "finding a free port")
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	mustOK(t, err, "reading free port")
	return port
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	mustOK(t, os.WriteFile(path, data, 0o600), "writing "+name)
	return path
}
