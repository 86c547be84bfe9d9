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
	"errors"
	"fmt"
	"io"
	"time"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
)

// Processor is the KRM function. It uses kyaml's fn/framework rather than the
// kpt SDK's automatic config binding, which accepts only fn.kpt.dev and
// decodes leniently; the same kyaml nodes also serve the file-editing CLI.
type Processor struct {
	Ctx context.Context
	// NewResolver builds the run's resolver from the validated settings.
	NewResolver func(registry.Options) (registry.Resolver, error)
	// Stderr receives one line per warning and error (kustomize hides results).
	Stderr io.Writer
	// Now stamps new lock entries (nil: time.Now).
	Now func() time.Time
}

var _ framework.ResourceListProcessor = (*Processor)(nil)

// errResults is returned when error results exist, so the process exits 1.
var errResults = errors.New("pin-images reported errors")

// Process implements framework.ResourceListProcessor.
func (p *Processor) Process(rl *framework.ResourceList) error {
	fail := func(err error) error {
		rl.Results = append(rl.Results, &framework.Result{Message: err.Error(), Severity: framework.Error})
		fmt.Fprintf(p.Stderr, "pin-images: %v\n", err)
		return err
	}
	s, err := ParseConfig(rl.FunctionConfig)
	if err != nil {
		return fail(err)
	}
	lockItem, lk, err := FindLock(rl.Items)
	if err != nil {
		return fail(err)
	}
	var resolver registry.Resolver
	if p.NewResolver != nil {
		if resolver, err = p.NewResolver(s.Registry); err != nil {
			return fail(err)
		}
	}
	resources := make([]*Resource, len(rl.Items))
	for i, it := range rl.Items {
		resources[i] = &Resource{Node: it}
	}
	rep, err := Transform(p.Ctx, resources, s, resolver, lk, p.Now)
	if err != nil {
		return fail(err)
	}
	rl.Results = append(rl.Results, rep.Results...)
	for _, line := range StderrLines(rep.Results) {
		fmt.Fprintln(p.Stderr, line)
	}
	if rep.HasErrors() {
		return errResults // all-or-nothing: no item is changed
	}
	if err := ApplyToNodes(rep.Changes); err != nil {
		return fail(err)
	}
	if lockItem != nil && rep.LockChanged {
		if err := replaceLockSpec(lockItem, rep.Lock); err != nil {
			return fail(err)
		}
	}
	return nil
}

// FindLock returns the ImageLock among items, if any (at most one).
func FindLock(items []*yaml.RNode) (*yaml.RNode, *lock.Lock, error) {
	var found *yaml.RNode
	for _, it := range items {
		if it.GetApiVersion() != lock.APIVersion || it.GetKind() != lock.Kind {
			continue
		}
		if found != nil {
			return nil, nil, fmt.Errorf("two ImageLocks in the input (%s and %s): keep one", found.GetName(), it.GetName())
		}
		found = it
	}
	if found == nil {
		return nil, nil, nil
	}
	s, err := found.String()
	if err != nil {
		return nil, nil, err
	}
	lk, err := lock.Parse(stripInternalAnnotations(s))
	if err != nil {
		return nil, nil, err
	}
	return found, lk, nil
}

// stripInternalAnnotations drops the orchestrators' annotations (kpt and
// kustomize add path, index and id annotations) before strict decoding.
func stripInternalAnnotations(s string) []byte {
	n, err := yaml.Parse(s)
	if err != nil {
		return []byte(s)
	}
	_ = n.PipeE(yaml.Lookup("metadata"), yaml.Clear("annotations"))
	out, err := n.String()
	if err != nil {
		return []byte(s)
	}
	return []byte(out)
}

// replaceLockSpec swaps the lock item's spec for the new lock's, keeping its
// metadata (and with it the orchestrator's path annotations).
func replaceLockSpec(item *yaml.RNode, lk *lock.Lock) error {
	b, err := lk.Marshal()
	if err != nil {
		return err
	}
	n, err := yaml.Parse(string(b))
	if err != nil {
		return err
	}
	spec, err := n.Pipe(yaml.Lookup("spec"))
	if err != nil {
		return err
	}
	return item.PipeE(yaml.SetField("spec", spec))
}

// IsResourceList reports whether data is a ResourceList document.
func IsResourceList(data []byte) bool {
	var head struct {
		Kind string `yaml:"kind"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&head); err != nil {
		return false
	}
	return head.Kind == "ResourceList"
}

// RunFunction reads a ResourceList from in and writes the result to out.
func RunFunction(p *Processor, in []byte, out io.Writer) error {
	rw := &kio.ByteReadWriter{Reader: bytes.NewReader(in), Writer: out, KeepReaderAnnotations: true}
	return framework.Execute(p, rw)
}

// IsReported reports whether err was already printed to stderr as results.
func IsReported(err error) bool { return errors.Is(err, errResults) }
