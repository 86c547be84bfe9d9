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

package pinimages

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
)

// Golden cases live in testdata/<case>/:
//
//	_fnconfig.yaml   the functionConfig (optional)
//	resources.yaml   the input items
//	_registry.yaml   what the fake registry serves (optional)
//	_expected.yaml   the ResourceList the function writes (items and results)
//	_expected.stderr what it prints on stderr, and its exit status on the last line
//
// WRITE_GOLDEN=1 go test ./internal/pinimages/ regenerates the expected files;
// review the diff. Every case runs twice: the second run, fed the first
// run's items, must change nothing.

// fakeRegistry serves digests derived from the reference, unless
// _registry.yaml says otherwise. Unit tests only.
type fakeRegistry struct {
	// Tags overrides "name:tag" (or "name:tag|platform") with a digest, or
	// with "unknown" / "unauthorized" to fail.
	Tags map[string]string `yaml:"tags"`
	// Exists lists "name@digest" that exist besides the digests tags serve.
	Present []string `yaml:"exists"`

	mu      sync.Mutex
	lookups int
}

// goldenNow stamps lock entries in golden cases.
var goldenNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func derived(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (f *fakeRegistry) digestFor(key string) (string, error) {
	switch d := f.Tags[key]; d {
	case "":
		return derived(key), nil
	case "unknown":
		return "", registry.NewError(registry.ManifestUnknown, "", "MANIFEST_UNKNOWN: manifest unknown")
	case "unauthorized":
		return "", registry.NewError(registry.Unauthorized, "", "UNAUTHORIZED: authentication required")
	default:
		return d, nil
	}
}

func (f *fakeRegistry) Resolve(_ context.Context, ref imageref.Ref, platform string) (string, error) {
	f.mu.Lock()
	f.lookups++
	f.mu.Unlock()
	key := ref.Key()
	if platform != "" {
		key += "|" + platform
	}
	return f.digestFor(key)
}

func (f *fakeRegistry) Exists(_ context.Context, ref imageref.Ref, digest string) error {
	f.mu.Lock()
	f.lookups++
	f.mu.Unlock()
	for _, e := range f.Present {
		if e == ref.Name+"@"+digest {
			return nil
		}
	}
	for k, d := range f.Tags {
		if strings.HasPrefix(k, ref.Name+":") && d == digest {
			return nil
		}
	}
	if derived(ref.Key()) == digest {
		return nil
	}
	return registry.NewError(registry.ManifestUnknown, "", "MANIFEST_UNKNOWN: manifest unknown")
}

// runFunction runs the processor on a ResourceList and returns stdout, stderr
// and the exit status main would give.
func runFunction(t *testing.T, rl []byte, fake *fakeRegistry) (stdout, stderr string, status int) {
	t.Helper()
	var out, errOut bytes.Buffer
	p := &Processor{
		Ctx:         context.Background(),
		Stderr:      &errOut,
		NewResolver: func(registry.Options) (registry.Resolver, error) { return fake, nil },
		Now:         func() time.Time { return goldenNow },
	}
	if err := RunFunction(p, rl, &out); err != nil {
		status = 1
		if !IsReported(err) && !strings.Contains(errOut.String(), err.Error()) {
			errOut.WriteString("pin-images: " + err.Error() + "\n")
		}
	}
	return out.String(), errOut.String(), status
}

func resourceList(t *testing.T, items, fnConfig []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n")
	nodes, err := (&kioReader{data: items}).read()
	if err != nil {
		t.Fatalf("resources.yaml: %v", err)
	}
	for _, n := range nodes {
		s, err := n.String()
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(indentItem(s))
	}
	if len(fnConfig) > 0 {
		b.WriteString("functionConfig:\n")
		for _, line := range strings.Split(strings.TrimRight(string(fnConfig), "\n"), "\n") {
			b.WriteString("  " + line + "\n")
		}
	}
	return b.Bytes()
}

type kioReader struct{ data []byte }

func (r *kioReader) read() ([]*yaml.RNode, error) {
	var out []*yaml.RNode
	for _, doc := range strings.Split(string(r.data), "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		n, err := yaml.Parse(doc)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func indentItem(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		switch {
		case i == 0:
			lines[i] = "- " + l
		case l != "":
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

func readOptional(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/fn/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no golden cases found in testdata/fn")
	}
	write := os.Getenv("WRITE_GOLDEN") == "1"
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			fake := &fakeRegistry{}
			if b := readOptional(t, filepath.Join(dir, "_registry.yaml")); b != nil {
				if err := yaml.Unmarshal(b, fake); err != nil {
					t.Fatalf("_registry.yaml: %v", err)
				}
			}
			rl := resourceList(t, readOptional(t, filepath.Join(dir, "resources.yaml")), readOptional(t, filepath.Join(dir, "_fnconfig.yaml")))
			stdout, stderr, status := runFunction(t, rl, fake)
			stderr += "exit status " + string(rune('0'+status)) + "\n"

			expOut, expErr := filepath.Join(dir, "_expected.yaml"), filepath.Join(dir, "_expected.stderr")
			if write {
				if err := os.WriteFile(expOut, []byte(stdout), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(expErr, []byte(stderr), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(string(readOptional(t, expOut)), stdout); diff != "" {
				t.Errorf("stdout differs from %s (-want +got):\n%s", expOut, diff)
			}
			if diff := cmp.Diff(string(readOptional(t, expErr)), stderr); diff != "" {
				t.Errorf("stderr differs from %s (-want +got):\n%s", expErr, diff)
			}
			if status != 0 {
				return
			}
			// Idempotence: the output's items, run again with the same
			// functionConfig (the output does not carry it), come back unchanged.
			out, err := yaml.Parse(stdout)
			if err != nil {
				t.Fatal(err)
			}
			_ = out.PipeE(yaml.Clear("results"))
			if fc := readOptional(t, filepath.Join(dir, "_fnconfig.yaml")); fc != nil {
				cfg, err := yaml.Parse(string(fc))
				if err != nil {
					t.Fatal(err)
				}
				if err := out.PipeE(yaml.SetField("functionConfig", cfg)); err != nil {
					t.Fatal(err)
				}
			}
			again, err := out.String()
			if err != nil {
				t.Fatal(err)
			}
			stdout2, stderr2, status2 := runFunction(t, []byte(again), fake)
			if status2 != 0 {
				t.Fatalf("second run failed: %s", stderr2)
			}
			if diff := cmp.Diff(itemsOf(t, stdout), itemsOf(t, stdout2)); diff != "" {
				t.Errorf("second run changed items (-first +second):\n%s", diff)
			}
		})
	}
}

func itemsOf(t *testing.T, rl string) string {
	t.Helper()
	n, err := yaml.Parse(rl)
	if err != nil {
		t.Fatal(err)
	}
	items, err := n.Pipe(yaml.Lookup("items"))
	if err != nil || items == nil {
		t.Fatalf("no items in output: %v", err)
	}
	s, err := items.String()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
