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

// Package e2e tests the deployment as users run it: the real kustomize
// binary renders every overlay and component combination, the real
// kube-apiserver (envtest) takes each rendered object in a server-side
// dry-run apply, the images built by `make images` are pushed as multi-arch
// indexes to a real registry and pinned with the real pin-images binary, and
// the manager binary is scraped for the metrics its alerts use.
// `make test` builds the binaries, images and tools first.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// The envtest API server with the operator's CRDs and the Prometheus
// Operator's ServiceMonitor and PrometheusRule CRDs, started once.
var (
	testEnv    *envtest.Environment
	restConfig *rest.Config
	k8sClient  client.Client
	kubeconfig string
	shared     *apiServer
)

func TestMain(m *testing.M) {
	testenv.Main(m, startEnv, func() error { return errors.Join(closeCluster(), shared.stop()) })
}

func repoRoot() string { return testenv.RepoRoot() }

// apiServer is a started envtest API server with a client and a kubeconfig
// file (for kubectl and the manager binary).
type apiServer struct {
	env        *envtest.Environment
	config     *rest.Config
	client     client.Client
	kubeconfig string
}

// startAPIServer starts kube-apiserver and etcd with the operator's CRDs and
// the Prometheus Operator's ServiceMonitor and PrometheusRule CRDs.
func startAPIServer() (*apiServer, error) {
	prom := filepath.Join(repoRoot(), "bin", "promcrds")
	if _, err := os.Stat(filepath.Join(prom, "monitoring.coreos.com_servicemonitors.yaml")); err != nil {
		return nil, errors.New("bin/promcrds has no ServiceMonitor CRD: run hack/promcrds.sh (make test does), or go test -short")
	}
	env, err := testenv.New(prom)
	if err != nil {
		return nil, err
	}
	s := &apiServer{env: env}
	if s.config, err = env.Start(); err != nil {
		return nil, fmt.Errorf("failed to start envtest: %w", err)
	}
	scheme, err := testenv.Scheme()
	if err != nil {
		return nil, err
	}
	if s.client, err = client.New(s.config, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "e2e-kubeconfig-")
	if err != nil {
		return nil, err
	}
	s.kubeconfig, _, err = testenv.Kubeconfig(env, envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, dir)
	return s, err
}

func (s *apiServer) stop() error {
	_ = os.RemoveAll(filepath.Dir(s.kubeconfig))
	return s.env.Stop()
}

func startEnv() error {
	s, err := startAPIServer()
	if err != nil {
		return err
	}
	shared = s
	testEnv, restConfig, k8sClient, kubeconfig = s.env, s.config, s.client, s.kubeconfig
	return nil
}

// requireEnv skips API-server tests under -short.
func requireEnv(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("envtest: skipped with -short")
	}
}

// tool finds bin/<name> (make links the tools there), else PATH; a missing
// tool fails the test with what to run.
func tool(t testing.TB, name string) string {
	t.Helper()
	if p := filepath.Join(repoRoot(), "bin", name); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s not found in bin/ or on PATH: run `make test` (it builds and installs the tools)", name)
	return ""
}

// imageContext is the build context `make images` assembled for arch.
func imageContext(t testing.TB, arch string) string {
	t.Helper()
	dir := filepath.Join(repoRoot(), "_out", "image-operator", "linux-"+arch)
	if !fileExists(filepath.Join(dir, "manager")) {
		t.Fatalf("%s has no build context: run `make images` (make test does)", dir)
	}
	return dir
}

// managerBinary is the host's manager of the operator image's context.
func managerBinary(t testing.TB) string {
	return filepath.Join(imageContext(t, goruntime.GOARCH), "manager")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

type result struct {
	stdout, stderr string
	err            error
}

func (r result) String() string { return "stdout:\n" + r.stdout + "\nstderr:\n" + r.stderr }

// sh runs name args in dir with extra env and stdin.
func sh(dir string, env []string, stdin string, name string, args ...string) result {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return result{stdout: out.String(), stderr: errb.String(), err: err}
}

// mustSh is sh that fails the test on a non-zero exit.
func mustSh(t testing.TB, dir string, env []string, stdin string, name string, args ...string) result {
	t.Helper()
	r := sh(dir, env, stdin, name, args...)
	if r.err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), r.err, r)
	}
	return r
}

// freePort returns a loopback port nothing listens on.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// registry is Debian's docker-registry (distribution) on a free loopback
// port, plain HTTP (go-containerregistry and pin-images talk HTTP to
// localhost), with its storage in a temporary directory.
type registry struct{ Host string }

func startRegistry(t testing.TB) registry {
	t.Helper()
	return startRegistryAt(t, fmt.Sprintf("127.0.0.1:%d", freePort(t)))
}

// startRegistryAt starts the registry on addr (the README's commands name
// localhost:5000).
func startRegistryAt(t testing.TB, addr string) registry {
	t.Helper()
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("%s is busy: this test needs it free for a registry (the README's commands name it)", addr)
	}
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatal("docker-registry is not installed: run `make deps` (Debian package docker-registry)")
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf("version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not listen on %s: %s", addr, logs.String())
		}
	}
	_, port, _ := net.SplitHostPort(addr)
	return registry{Host: "localhost:" + port}
}

// operatorKubeconfig writes a kubeconfig that authenticates as the
// operator's ServiceAccount, so that only the RBAC the kustomization applied
// lets the manager work.
func (s *apiServer) operatorKubeconfig(t *testing.T) (file string, c client.Client) {
	t.Helper()
	file, cfg, err := testenv.Kubeconfig(s.env, envtest.User{
		Name:   "system:serviceaccount:" + operatorNamespace + ":ansible-playbook-operator",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNamespace, "system:authenticated"},
	}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c, err = client.New(cfg, client.Options{Scheme: s.client.Scheme()}); err != nil {
		t.Fatal(err)
	}
	return file, c
}

// startManager runs the manager binary the way the Deployment's pod would:
// as its ServiceAccount, with the rendered container's arguments
// ($(POD_NAMESPACE) expanded as the kubelet does; the listen addresses moved
// to free loopback ports) and POD_NAME naming a Pod made from the
// Deployment's template, from which the manager reads its own image. It
// returns the metrics address and the process's output.
func (s *apiServer) startManager(t *testing.T, dep *appsv1.Deployment) (metricsAddr string, output func() string) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: dep.Name + "-e2e", Namespace: operatorNamespace, Labels: dep.Spec.Template.Labels},
		Spec: dep.Spec.Template.Spec}
	if err := s.client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	metricsAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	probeAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var args []string
	for _, a := range dep.Spec.Template.Spec.Containers[0].Args {
		switch {
		case strings.HasPrefix(a, "--metrics-bind-address="):
			a = "--metrics-bind-address=" + metricsAddr
		case strings.HasPrefix(a, "--health-probe-bind-address="):
			a = "--health-probe-bind-address=" + probeAddr
		}
		args = append(args, strings.ReplaceAll(a, "$(POD_NAMESPACE)", operatorNamespace))
	}
	kubeconfig, saClient := s.operatorKubeconfig(t)
	// The control: the API server enforces RBAC for this user.
	if err := saClient.List(ctx, &corev1.SecretList{}, client.InNamespace("kube-system")); !apierrors.IsForbidden(err) {
		t.Fatalf("the operator's ServiceAccount listing Secrets in kube-system: %v, want forbidden", err)
	}
	output = startProcess(t, managerBinary(t), []string{"KUBECONFIG=" + kubeconfig, "POD_NAMESPACE=" + operatorNamespace, "POD_NAME=" + pod.Name}, args...)
	waitHTTP(t, "http://"+probeAddr+"/readyz")
	return metricsAddr, output
}
