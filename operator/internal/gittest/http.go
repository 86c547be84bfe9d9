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

package gittest

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// StartHTTP serves the parent directory of bareDir over smart HTTP with git
// http-backend run as CGI on loopback (or On's host), and returns
// http://HOST:PORT/<base name of bareDir>. With a non-empty user every request needs HTTP basic auth with
// user and pass; others get 401 with a WWW-Authenticate challenge. An empty
// user serves anonymously.
func StartHTTP(t testing.TB, bareDir, user, pass string, opts ...Option) string {
	t.Helper()
	requireGit(t)
	bareDir = mustAbs(t, bareDir)
	backend := filepath.Join(runGit(t, "", "--exec-path"), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("git-http-backend is missing: install the Debian package git (make test does, through hack/install-deps.sh): %v", err)
	}
	logs := &logBuffer{}
	cgiHandler := &cgi.Handler{
		Path: backend,
		Dir:  filepath.Dir(bareDir),
		Env: []string{
			"GIT_PROJECT_ROOT=" + filepath.Dir(bareDir),
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=" + os.DevNull,
		},
		// cgi passes only a few variables on; git needs PATH to find
		// git-upload-pack.
		InheritEnv: []string{"PATH"},
		Stderr:     logs,
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if user != "" {
			u, p, ok := req.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 ||
				subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
			// cgi would hand the header to the backend as
			// HTTP_AUTHORIZATION; it needs no credentials.
			req.Header.Del("Authorization")
		}
		cgiHandler.ServeHTTP(w, req)
	})
	srv := httptest.NewUnstartedServer(handler)
	l, err := net.Listen("tcp", net.JoinHostPort(settingsOf(opts).host, "0"))
	if err != nil {
		t.Fatalf("failed to listen for git http-backend: %v", err)
	}
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() {
			if out := strings.TrimSpace(logs.String()); out != "" {
				t.Logf("git http-backend output:\n%s", out)
			}
		}
	})
	return fmt.Sprintf("%s/%s", srv.URL, filepath.Base(bareDir))
}
