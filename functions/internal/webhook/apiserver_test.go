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

package webhook_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/kube"
)

// The envtest tier of the webhook: a real kube-apiserver and etcd (the
// binaries hack/envtest.sh builds; KUBEBUILDER_ASSETS wins when set) that
// calls the webhook over TLS as a cluster does. No controller runs: what
// is checked is what the API server alone decides (admission, patches,
// refusals, dry runs, namespace selectors).

func assetsDir(t testing.TB) string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	d := filepath.Join(filepath.Dir(file), "..", "..", "..", "bin", "envtest")
	if _, err := os.Stat(filepath.Join(d, "kube-apiserver")); err != nil {
		t.Fatalf("no kube-apiserver in %s and KUBEBUILDER_ASSETS is unset: run hack/envtest.sh (make test does), or go test -short", d)
	}
	return d
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAPIServer starts etcd and kube-apiserver on loopback and returns an
// administrator's client configuration.
func startAPIServer(t testing.TB) kube.Config {
	t.Helper()
	if testing.Short() {
		t.Skip("starts kube-apiserver: skipped with -short")
	}
	assets, dir := assetsDir(t), t.TempDir()
	caKey, caCert, caPEM := newCA(t)
	adminCert, adminKey := clientCert(t, caCert, caKey, "admin", "system:masters")
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	saDER, _ := x509.MarshalECPrivateKey(saKey)
	saPub, _ := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("ca.crt", caPEM)
	saKeyFile := write("sa.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: saDER}))
	saPubFile := write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}))

	etcdPort, peerPort, port := freePort(t), freePort(t), freePort(t)
	start := func(name string, args ...string) {
		var out bytes.Buffer
		cmd := exec.Command(filepath.Join(assets, name), args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
			if t.Failed() {
				t.Logf("%s output (tail):\n%s", name, tail(out.String(), 30))
			}
		})
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	start("etcd", "--data-dir", filepath.Join(dir, "etcd"), "--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort), "--unsafe-no-fsync", "--log-level", "error")
	start("kube-apiserver", "--etcd-servers="+etcdURL, "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(port),
		"--cert-dir="+filepath.Join(dir, "apiserver"), "--client-ca-file="+caFile, "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file="+saPubFile,
		"--service-account-signing-key-file="+saKeyFile, "--service-cluster-ip-range=10.0.0.0/24",
		// No controller creates default ServiceAccounts here.
		"--disable-admission-plugins=ServiceAccount", "--profiling=false")
	cfg := kube.Config{Host: fmt.Sprintf("https://127.0.0.1:%d", port), CertPEM: adminCert, KeyPEM: adminKey}
	deadline := time.Now().Add(90 * time.Second)
	for {
		// The API server makes its own serving certificate in --cert-dir.
		if ca, err := os.ReadFile(filepath.Join(dir, "apiserver", "apiserver.crt")); err == nil {
			cfg.CA = ca
			if c, err := kube.New(cfg); err == nil && c.Get(t.Context(), "/readyz", nil) == nil {
				return cfg
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("kube-apiserver did not become ready")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	lines := bytes.Split([]byte(s), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func newCA(t testing.TB) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func clientCert(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn, org string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn, Organization: []string{org}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
