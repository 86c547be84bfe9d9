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

// Package testenv configures the envtest API server every test tier of the
// operator starts: the repository's CRDs, the kube-apiserver and etcd that
// hack/envtest.sh built (KUBEBUILDER_ASSETS wins when set), and a scheme
// with the operator's types.
package testenv

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
)

// RepoRoot is the repository's root directory, found from this file, so
// that tests at any depth agree on it.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// New returns an Environment with the operator's CRDs and crdDirs, not
// started. Without KUBEBUILDER_ASSETS and bin/envtest it says what to run.
func New(crdDirs ...string) (*envtest.Environment, error) {
	env := &envtest.Environment{
		CRDDirectoryPaths:     append([]string{filepath.Join(RepoRoot(), "kustomize", "operator", "crd", "bases")}, crdDirs...),
		ErrorIfCRDPathMissing: true,
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		assets := filepath.Join(RepoRoot(), "bin", "envtest")
		if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
			return nil, errors.New("envtest binaries not found: KUBEBUILDER_ASSETS is unset and bin/envtest has no kube-apiserver; run hack/envtest.sh (or make test), or go test -short to skip the API server tests")
		}
		env.BinaryAssetsDirectory = assets
	}
	return env, nil
}

// Scheme has the built-in kinds, CRDs and the operator's kinds.
func Scheme() (*apiruntime.Scheme, error) {
	s := apiruntime.NewScheme()
	for _, add := range []func(*apiruntime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, ansiblev1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Main is a test package's TestMain around an API server: under -short the
// tests run without one; otherwise start runs first (its error ends the run
// with exit code 1) and stop after the tests.
func Main(m *testing.M, start func() error, stop func() error) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	if err := start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintf(os.Stderr, "failed to stop envtest: %v\n", err)
	}
	os.Exit(code)
}

// Kubeconfig adds user to the running env and writes a kubeconfig for it
// into dir, for processes the tests start (the manager binary, kubectl);
// it also returns the user's rest.Config.
func Kubeconfig(env *envtest.Environment, user envtest.User, dir string) (path string, cfg *rest.Config, err error) {
	u, err := env.AddUser(user, nil)
	if err != nil {
		return "", nil, err
	}
	kc, err := u.KubeConfig()
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "kubeconfig")
	return path, u.Config(), os.WriteFile(path, kc, 0o600)
}

// Eventually polls cond every 100ms until it holds, and fails the test with
// what and cond's last detail when timeout has passed.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() (ok bool, detail string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
