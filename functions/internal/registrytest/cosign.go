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
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The signature tests sign with the real cosign CLI (v3.1.3, built from
// the module proxy by hack/tools.sh cosign into bin/), key-based and
// without any transparency log or certificate authority.

// CosignKey is a cosign key pair on disk.
type CosignKey struct {
	// PrivateKey is cosign's encrypted private key file (empty password).
	PrivateKey string
	// PublicKey is the PEM public key, as users paste it into the config.
	PublicKey string
}

// Cosign is the cosign binary: bin/cosign of the repository, else PATH.
func Cosign(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	if p := filepath.Join(filepath.Dir(file), "..", "..", "..", "bin", "cosign"); isExec(p) {
		return p
	}
	if p, err := exec.LookPath("cosign"); err == nil {
		return p
	}
	t.Fatal("cosign not found in bin/ or on PATH: run `hack/tools.sh cosign` (make test does)")
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

func cosign(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(Cosign(t), args...)
	cmd.Dir = dir
	// An empty password for the key files; no update checks, no TUF
	// fetches of the public good instance.
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=", "COSIGN_EXPERIMENTAL=0", "TUF_ROOT="+filepath.Join(dir, "tuf"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// NewCosignKey has cosign generate an ECDSA P-256 key pair.
func NewCosignKey(t testing.TB) CosignKey {
	t.Helper()
	dir := t.TempDir()
	cosign(t, dir, "generate-key-pair")
	return readKey(t, dir, "cosign")
}

// ImportCosignKey has cosign import a private key of the given kind
// ("ed25519", "rsa", "p384") generated here, as users bring their own.
func ImportCosignKey(t testing.TB, kind string) CosignKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch kind {
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "rsa":
		priv, err = rsa.GenerateKey(rand.Reader, 3072)
	case "p384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "own.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cosign(t, dir, "import-key-pair", "--key", "own.pem", "--output-key-prefix", "imported", "--yes")
	return readKey(t, dir, "imported")
}

func readKey(t testing.TB, dir, prefix string) CosignKey {
	t.Helper()
	pub, err := os.ReadFile(filepath.Join(dir, prefix+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	return CosignKey{PrivateKey: filepath.Join(dir, prefix+".key"), PublicKey: string(pub)}
}

// SignOption changes how Sign signs.
type SignOption string

// Sign options.
const (
	// TagLayout writes cosign's classic `sha256-<hex>.sig` tag instead of
	// a sigstore bundle referrer.
	TagLayout SignOption = "--new-bundle-format=false"
	// Recursive signs an index and each of its platforms' images.
	Recursive SignOption = "--recursive"
)

// Sign signs imageRef (repo@sha256:...) with the key, pushing the
// signature to the registry: no transparency log upload, no signing
// config, plain HTTP allowed.
func Sign(t testing.TB, key CosignKey, imageRef string, opts ...SignOption) {
	t.Helper()
	args := []string{"sign", "--key", key.PrivateKey, "--tlog-upload=false", "--use-signing-config=false",
		"--allow-insecure-registry", "--yes"}
	for _, o := range opts {
		args = append(args, string(o))
	}
	cosign(t, t.TempDir(), append(args, imageRef)...)
}

// CosignVerifies reports whether `cosign verify` accepts imageRef with
// the public key (offline: no transparency log), the reference verdict
// pin-images must agree with.
func CosignVerifies(t testing.TB, publicKey, imageRef string, opts ...SignOption) bool {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key.pub"), []byte(publicKey), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"verify", "--key", "key.pub", "--insecure-ignore-tlog", "--allow-insecure-registry"}
	for _, o := range opts {
		if o == TagLayout {
			args = append(args, string(o))
		}
	}
	cmd := exec.Command(Cosign(t), append(args, imageRef)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TUF_ROOT="+filepath.Join(dir, "tuf"))
	return cmd.Run() == nil
}
