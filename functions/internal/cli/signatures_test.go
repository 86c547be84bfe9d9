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

package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

// signaturesConfig is a PinImages config trusting keys (name -> PEM) for
// the registry's team/ repositories.
func signaturesConfig(host string, required bool, keys map[string]string) string {
	var b strings.Builder
	b.WriteString("apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: PinImages\nmetadata:\n  name: pin\nspec:\n  policy:\n    signatures:\n")
	b.WriteString("    - prefixes: [" + host + "/team]\n")
	if !required {
		b.WriteString("      required: false\n")
	}
	b.WriteString("      keys:\n")
	for name, pem := range keys {
		b.WriteString("      - name: " + name + "\n        publicKey: |\n")
		for _, l := range strings.Split(strings.TrimSpace(pem), "\n") {
			b.WriteString("          " + l + "\n")
		}
	}
	return b.String()
}

func podWith(images ...string) string {
	s := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
	for i, img := range images {
		s += "  - name: c" + string(rune('0'+i)) + "\n    image: " + img + "\n"
	}
	return s
}

// TestSignatures_realCosign: images signed with the real cosign CLI in a
// real registry, through the command line as users run it (the function
// shares the engine: see the e2e tests under kustomize and kpt).
func TestSignatures_realCosign(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	trusted, other := registrytest.NewCosignKey(t), registrytest.NewCosignKey(t)
	ref := func(repo, digest string) string { return reg.Host + "/" + repo + "@" + digest }

	signed := reg.PushRandom(t, "team/signed:1")
	registrytest.Sign(t, trusted, ref("team/signed", signed))
	reg.PushRandom(t, "team/unsigned:1")
	byOther := reg.PushRandom(t, "team/other:1")
	registrytest.Sign(t, other, ref("team/other", byOther))
	// A trusted signature naming another digest: signed's classic
	// signature copied under copied's signature tag.
	tagged := reg.PushRandom(t, "team/tagged:1")
	registrytest.Sign(t, trusted, ref("team/tagged", tagged), registrytest.TagLayout)
	copied := reg.PushRandom(t, "team/copied:1")
	reg.Copy(t, reg.Host+"/team/tagged:"+sigTag(tagged), reg.Host+"/team/copied:"+sigTag(copied))
	index, children := reg.PushIndex(t, "team/multi:1", "linux/amd64", "linux/arm64")
	registrytest.Sign(t, trusted, ref("team/multi", index), registrytest.Recursive)
	flat, _ := reg.PushIndex(t, "team/flat:1", "linux/amd64", "linux/arm64")
	registrytest.Sign(t, trusted, ref("team/flat", flat)) // the index only

	cfgDir := t.TempDir()
	trustedCfg := filepath.Join(cfgDir, "trusted.yaml")
	writeFile(t, trustedCfg, signaturesConfig(reg.Host, true, map[string]string{"release": trusted.PublicKey}))

	// pin -w of one image with the trusted config: the file and the lock
	// after, stderr, and the error.
	pin := func(t *testing.T, image string, extra ...string) (string, string, string, error) {
		t.Helper()
		dir := t.TempDir()
		manifest, lockFile := filepath.Join(dir, "pod.yaml"), filepath.Join(dir, "images.lock.yaml")
		writeFile(t, manifest, podWith(image))
		args := append([]string{"pin", "-w", "--config", trustedCfg, "--lock", lockFile}, extra...)
		out, stderr, err := run(t, "", append(args, dir)...)
		lk := ""
		if fileExists(lockFile) {
			lk = read(t, lockFile)
		}
		return read(t, manifest), lk, out + stderr, err
	}

	t.Run("a digest signed by a trusted key is pinned, and the lock records the key", func(t *testing.T) {
		got, lk, out, err := pin(t, reg.Host+"/team/signed:1")
		if err != nil {
			t.Fatalf("pin: %v\n%s", err, out)
		}
		if !strings.Contains(got, "team/signed:1@"+signed) {
			t.Errorf("not pinned:\n%s\n%s", got, out)
		}
		if !strings.Contains(lk, "verifiedBy: release\n") || !strings.Contains(lk, "keyFingerprint: sha256:") {
			t.Errorf("the lock does not record the key:\n%s", lk)
		}
	})
	refused := []struct {
		name, image, platform string
		says                  []string
	}{
		{name: "an unsigned digest is refused", image: "team/unsigned:1", says: []string{"the registry has no signature for it"}},
		{name: "a digest signed by another key is refused", image: "team/other:1", says: []string{"a signature by none of the trusted keys"}},
		{name: "a trusted signature for another digest is refused", image: "team/copied:1", says: []string{"signed by release, but it names " + tagged + ", not " + copied}},
		{name: "a platform child of an index signed without --recursive is refused", image: "team/flat:1", platform: "linux/arm64", says: []string{"cosign sign --recursive"}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			var extra []string
			if tc.platform != "" {
				extra = []string{"--platform", tc.platform}
			}
			got, lk, out, err := pin(t, reg.Host+"/"+tc.image, extra...)
			if !errors.Is(err, ErrFailed) {
				t.Fatalf("err = %v, want errors reported\n%s", err, out)
			}
			says := append([]string{"error: signature not verified: " + reg.Host + "/" + tc.image + "@sha256:", "tried release (sha256:"}, tc.says...)
			for _, s := range says {
				if !strings.Contains(out, s) {
					t.Errorf("output does not say %q:\n%s", s, out)
				}
			}
			if strings.Contains(got, "@sha256:") || strings.Contains(lk, "sha256:") {
				t.Errorf("pinned or locked an unverified digest:\n%s\n%s", got, lk)
			}
		})
	}
	t.Run("a multi-arch index signed recursively pins as the index and as a child", func(t *testing.T) {
		got, _, out, err := pin(t, reg.Host+"/team/multi:1")
		if err != nil || !strings.Contains(got, "@"+index) {
			t.Fatalf("index: %v\n%s\n%s", err, got, out)
		}
		got, lk, out, err := pin(t, reg.Host+"/team/multi:1", "--platform", "linux/arm64")
		if err != nil || !strings.Contains(got, "@"+children["linux/arm64"]) || !strings.Contains(lk, "verifiedBy: release") {
			t.Fatalf("child: %v\n%s\n%s\n%s", err, got, lk, out)
		}
	})
	t.Run("required false pins an unsigned digest with a warning", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "optional.yaml")
		writeFile(t, cfg, signaturesConfig(reg.Host, false, map[string]string{"release": trusted.PublicKey}))
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "pod.yaml"), podWith(reg.Host+"/team/unsigned:1"))
		_, stderr, err := run(t, "", "pin", "-w", "--config", cfg, dir)
		if err != nil || !strings.Contains(stderr, "warning: pinned") || !strings.Contains(stderr, "required is false: pinned all the same") {
			t.Fatalf("err %v\n%s", err, stderr)
		}
	})
	t.Run("--signature-key PREFIX=FILE is the same policy", func(t *testing.T) {
		keyFile := filepath.Join(t.TempDir(), "release.pub")
		writeFile(t, keyFile, trusted.PublicKey)
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "pod.yaml"), podWith(reg.Host+"/team/signed:1", reg.Host+"/team/unsigned:1"))
		_, stderr, err := run(t, "", "pin", "--signature-key", reg.Host+"/team="+keyFile, dir)
		if !errors.Is(err, ErrFailed) || !strings.Contains(stderr, "team/unsigned:1@sha256:") || !strings.Contains(stderr, "tried release (sha256:") {
			t.Fatalf("err %v\n%s", err, stderr)
		}
		out, stderr, err := run(t, "", "resolve", "--signature-key", reg.Host+"/team="+keyFile, reg.Host+"/team/signed:1")
		if err != nil || out != reg.Host+"/team/signed:1@"+signed+"\n" || !strings.Contains(stderr, "signed by release") {
			t.Fatalf("resolve: %v\n%s%s", err, out, stderr)
		}
	})
}

// TestSignatures_refreshAndLocked: a tag moved to an unsigned image fails
// refresh and leaves the old pin; verify reports the signatures of pins;
// a locked render verifies offline from the lock's verifiedBy and fails
// for entries whose key was revoked or replaced.
func TestSignatures_refreshAndLocked(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	// Through a proxy closed before the locked runs: they provably need
	// no network.
	proxy := registrytest.NewProxy(t, reg.Host)
	trusted, other := registrytest.NewCosignKey(t), registrytest.NewCosignKey(t)
	first := reg.PushRandom(t, "team/app:1")
	registrytest.Sign(t, trusted, reg.Host+"/team/app@"+first)

	dir := t.TempDir()
	manifest, lockFile := filepath.Join(dir, "pod.yaml"), filepath.Join(dir, "images.lock.yaml")
	writeFile(t, manifest, podWith(proxy.Host+"/team/app:1"))
	cfg := func(keys map[string]string) string {
		p := filepath.Join(t.TempDir(), "pin.yaml")
		writeFile(t, p, signaturesConfig(proxy.Host, true, keys))
		return p
	}
	trustedCfg := cfg(map[string]string{"release": trusted.PublicKey})
	if _, stderr, err := run(t, "", "pin", "-w", "--config", trustedCfg, "--lock", lockFile, dir); err != nil {
		t.Fatalf("pin: %v\n%s", err, stderr)
	}
	pinned, locked := read(t, manifest), read(t, lockFile)
	if !strings.Contains(pinned, "@"+first) {
		t.Fatalf("not pinned:\n%s", pinned)
	}

	t.Run("verify reports the signature of each pin", func(t *testing.T) {
		out, stderr, err := run(t, "", "verify", "--config", trustedCfg, "--lock", lockFile, dir)
		if err != nil || !strings.Contains(out+stderr, "signed by release") {
			t.Fatalf("verify: %v\n%s%s", err, out, stderr)
		}
	})
	moved := reg.PushRandom(t, "team/app:1") // unsigned
	t.Run("refresh of a tag moved to an unsigned image fails and keeps the old pin", func(t *testing.T) {
		_, stderr, err := run(t, "", "pin", "-w", "--mode", "refresh", "--config", trustedCfg, "--lock", lockFile, dir)
		if !errors.Is(err, ErrFailed) || !strings.Contains(stderr, "error: signature not verified: "+proxy.Host+"/team/app:1@"+moved+": no signature") {
			t.Fatalf("err %v\n%s", err, stderr)
		}
		if read(t, manifest) != pinned || read(t, lockFile) != locked {
			t.Errorf("a refused refresh changed the files:\n%s\n%s", read(t, manifest), read(t, lockFile))
		}
	})
	t.Run("verify sees the moved tag's unsigned digest", func(t *testing.T) {
		unpinned := t.TempDir()
		writeFile(t, filepath.Join(unpinned, "pod.yaml"), podWith(proxy.Host+"/team/app:1"))
		_, stderr, err := run(t, "", "verify", "--config", trustedCfg, unpinned)
		if !errors.Is(err, ErrFailed) || !strings.Contains(stderr, moved+": no signature by a key") {
			t.Fatalf("err %v\n%s", err, stderr)
		}
	})

	proxy.Close()
	unpinnedDir := t.TempDir()
	writeFile(t, filepath.Join(unpinnedDir, "pod.yaml"), podWith(proxy.Host+"/team/app:1"))
	locked3 := func(cfgPath string) (string, error) {
		out, stderr, err := run(t, "", "pin", "--mode", "locked", "--config", cfgPath, "--lock", lockFile, unpinnedDir)
		return out + stderr, err
	}
	t.Run("locked verifies offline from the lock's verifiedBy", func(t *testing.T) {
		out, err := locked3(trustedCfg)
		if err != nil || !strings.Contains(out, "-> "+proxy.Host+"/team/app:1@"+first) {
			t.Fatalf("locked: %v\n%s", err, out)
		}
	})
	t.Run("locked fails once the recorded key is revoked", func(t *testing.T) {
		out, err := locked3(cfg(map[string]string{"successor": other.PublicKey}))
		if !errors.Is(err, ErrFailed) || !strings.Contains(out, "the lock records it verified by key release (sha256:") || !strings.Contains(out, "no longer trusts (revoked or replaced)") {
			t.Fatalf("err %v\n%s", err, out)
		}
	})
	t.Run("locked fails when the key's name stays but its key was replaced", func(t *testing.T) {
		out, err := locked3(cfg(map[string]string{"release": other.PublicKey}))
		if !errors.Is(err, ErrFailed) || !strings.Contains(out, "no longer trusts (revoked or replaced)") {
			t.Fatalf("err %v\n%s", err, out)
		}
	})
	t.Run("locked fails for an entry without verifiedBy under a required rule", func(t *testing.T) {
		lk, err := lock.Parse([]byte(locked))
		if err != nil {
			t.Fatal(err)
		}
		bare := lock.New()
		for _, e := range lk.Entries() {
			bare.Set(e.Key(), e.Digest, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
		}
		b, _ := bare.Marshal()
		writeFile(t, lockFile, string(b))
		out, err := locked3(trustedCfg)
		if !errors.Is(err, ErrFailed) || !strings.Contains(out, "the lock entry has no verifiedBy") || !strings.Contains(out, "re-resolve with network") {
			t.Fatalf("err %v\n%s", err, out)
		}
	})
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func sigTag(digest string) string { return strings.Replace(digest, ":", "-", 1) + ".sig" }
