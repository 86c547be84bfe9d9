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
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/yamlsrc"
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
	// Secrets collects the run's credentials; no result, stderr line or
	// error shows them (nil: the run keeps its own).
	Secrets *redact.Secrets
	// ReadFile reads the configurations files a kustomization names that
	// are not among the items (nil: none is read). An exec function run
	// from the package directory finds them there.
	ReadFile func(path string) ([]byte, error)

	// prefetch is RunFunction's first reading of the input, whose lookups
	// this run shares (nil: none).
	prefetch *prefetch
}

var _ framework.ResourceListProcessor = (*Processor)(nil)

// errResults is returned when error results exist, so the process exits 1.
var errResults = errors.New("pin-images reported errors")

// reportedError is an error already written to stderr and the results.
type reportedError struct{ error }

func (e reportedError) Unwrap() error { return e.error }

// ErrNotResourceList is returned when the input is YAML but not a
// ResourceList: pin-images was not run as a KRM function.
var ErrNotResourceList = errors.New("the input is not a ResourceList (kind: ResourceList)")

// Process implements framework.ResourceListProcessor: the changes are
// written into the items' nodes.
func (p *Processor) Process(rl *framework.ResourceList) error {
	rep, lockItem, err := p.run(rl)
	if err != nil || rep.HasErrors() {
		return err
	}
	return p.applyToNodes(rl, rep, lockItem)
}

// run decides every image; it changes nothing.
func (p *Processor) run(rl *framework.ResourceList) (*Report, *yaml.RNode, error) {
	if p.Secrets == nil {
		p.Secrets = &redact.Secrets{}
	}
	fail := func(err error) (*Report, *yaml.RNode, error) {
		return nil, nil, p.fail(rl, err)
	}
	s, err := ParseConfig(rl.FunctionConfig)
	if err != nil {
		return fail(err)
	}
	s.Registry.Secrets = p.Secrets
	lockItem, lk, err := FindLock(rl.Items)
	if err != nil {
		return fail(err)
	}
	var resolver registry.Resolver
	if p.NewResolver != nil && s.Mode != "locked" {
		if resolver = p.prefetch.resolver(s); resolver == nil {
			if resolver, err = p.NewResolver(s.Registry); err != nil {
				return fail(err)
			}
		}
	}
	resources := make([]*Resource, len(rl.Items))
	for i, it := range rl.Items {
		resources[i] = &Resource{Node: it}
	}
	in := Input{Resources: resources, Lock: lk, ReadFile: p.ReadFile}
	if lockItem != nil {
		in.LockResource = &Resource{Node: lockItem}
	}
	rep, err := Transform(p.Ctx, in, s, resolver, p.Now)
	if err != nil {
		return fail(err)
	}
	if errors.Is(p.Ctx.Err(), context.Canceled) {
		return fail(errInterrupted)
	}
	rl.Results = append(rl.Results, rep.Results...)
	for _, line := range StderrLines(rep.Results) {
		fmt.Fprintln(p.Stderr, line)
	}
	if rep.HasErrors() {
		return rep, lockItem, errResults // all-or-nothing: no item is changed
	}
	return rep, lockItem, nil
}

// fail reports an error that ends the run, once: as an error result and on
// stderr, without secrets.
func (p *Processor) fail(rl *framework.ResourceList, err error) error {
	msg := p.Secrets.Text(err.Error())
	rl.Results = append(rl.Results, &framework.Result{Message: msg, Severity: framework.Error})
	fmt.Fprintf(p.Stderr, "pin-images: %s\n", msg)
	return reportedError{err}
}

// errInterrupted ends a run stopped by SIGINT or SIGTERM.
var errInterrupted = errors.New("interrupted: nothing was changed")

func (p *Processor) applyToNodes(rl *framework.ResourceList, rep *Report, lockItem *yaml.RNode) error {
	if err := ApplyToNodes(rep.Changes); err != nil {
		return p.fail(rl, err)
	}
	if lockItem != nil && rep.LockChanged {
		if err := replaceLockSpec(lockItem, rep.Lock); err != nil {
			return p.fail(rl, err)
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
	s, err := withoutAnnotations(found).String()
	if err != nil {
		return nil, nil, err
	}
	lk, err := lock.Parse([]byte(s))
	if err != nil {
		return nil, nil, err
	}
	return found, lk, nil
}

// withoutAnnotations is n without its annotations (kpt and kustomize add
// path, index and id annotations), for strict decoding; n stays as it is.
// Only the mappings on the way to them are copied.
func withoutAnnotations(n *yaml.RNode) *yaml.RNode {
	root := *n.YNode()
	root.Content = slices.Clone(root.Content)
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "metadata" || root.Content[i+1].Kind != yaml.MappingNode {
			continue
		}
		meta := *root.Content[i+1]
		meta.Content = nil
		for j := 0; j+1 < len(root.Content[i+1].Content); j += 2 {
			if k := root.Content[i+1].Content[j]; k.Value != "annotations" {
				meta.Content = append(meta.Content, k, root.Content[i+1].Content[j+1])
			}
		}
		root.Content[i+1] = &meta
	}
	return yaml.NewRNode(&root)
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

// RunFunction reads a ResourceList from in, runs the processor and writes the
// ResourceList with its results to out.
//
// The usual way (kyaml's framework.Execute) re-encodes every item; yaml.v3
// needs seconds for 10,000 resources. Since pinning only changes scalars,
// the output is the input with the new values spliced in and the results
// appended, which also keeps the input's formatting. Results already in the
// input (a function before this one) are kept, before this run's. Where
// splicing cannot be used (flow-style or JSON input, a lock to rewrite, a
// value that cannot be edited in place) the items are re-encoded one by one
// instead.
//
// While the input is parsed, a first reading of its items starts their
// lookups (see prefetch).
func RunFunction(p *Processor, in []byte, out io.Writer) error {
	if p.Secrets == nil {
		p.Secrets = &redact.Secrets{}
	}
	if p.Ctx != nil {
		p.prefetch = startPrefetch(p, in)
		defer p.prefetch.close()
		p.prefetch.waitBegun()
	}
	root, rl, err := readResourceList(in)
	if err != nil {
		return err
	}
	rep, lockItem, procErr := p.run(rl)
	if procErr != nil && !errors.Is(procErr, errResults) {
		return writeResourceList(out, root, rl, procErr)
	}
	var changes []Change
	if procErr == nil {
		changes = rep.Changes
	}
	canSplice := root.Style&yaml.FlowStyle == 0 && (procErr != nil || lockItem == nil || !rep.LockChanged)
	if canSplice {
		// The functionConfig is not written back, and the results are
		// written after the items, the input's first.
		drop := func(s *source) []span { return entrySpans(s, root, "functionConfig", "results") }
		// The results are rendered on the other core while the items are
		// spliced: both only read the input and the report, and this is
		// all that is left between the registry's last answer and the
		// output.
		var results bytes.Buffer
		rendered := make(chan error, 1)
		go func() { rendered <- writeResults(&results, inputResults(root), rl.Results) }()
		spliced, err := splice(in, changes, drop)
		if rerr := <-rendered; err == nil {
			if rerr != nil {
				return rerr
			}
			if _, err := out.Write(spliced); err != nil {
				return err
			}
			if len(spliced) > 0 && spliced[len(spliced)-1] != '\n' {
				if _, err := io.WriteString(out, "\n"); err != nil {
					return err
				}
			}
			if _, err := out.Write(results.Bytes()); err != nil {
				return err
			}
			return procErr
		}
	}
	if procErr == nil {
		if err := p.applyToNodes(rl, rep, lockItem); err != nil {
			procErr = err
		}
	}
	return writeResourceList(out, root, rl, procErr)
}

// readResourceList decodes the input keeping node positions, so changes can
// be spliced into the input bytes. The input is exactly one ResourceList:
// anything after it would be dropped by a reader that takes the first.
func readResourceList(in []byte) (*yaml.Node, *framework.ResourceList, error) {
	docs, err := yamlsrc.Decode(in)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to read the ResourceList: %w", err)
	}
	var content []*yaml.Node
	for _, d := range docs {
		if len(d.Content) > 0 && d.Content[0].ShortTag() != "!!null" {
			content = append(content, d.Content[0])
		}
	}
	if len(content) == 0 || content[0].Kind != yaml.MappingNode || scalar(content[0], "kind") != "ResourceList" {
		return nil, nil, ErrNotResourceList
	}
	if len(content) > 1 {
		return nil, nil, fmt.Errorf("failed to read the ResourceList: a YAML document at line %d after the ResourceList: a KRM function reads exactly one ResourceList", content[1].Line)
	}
	root := content[0]
	rl := &framework.ResourceList{}
	if items := lookupKey(root, "items"); items != nil && items.ShortTag() != "!!null" {
		if items.Kind != yaml.SequenceNode {
			return nil, nil, fmt.Errorf("failed to read the ResourceList: items (line %d) is not a list", items.Line)
		}
		for i, it := range items.Content {
			if it.Kind != yaml.MappingNode {
				return nil, nil, fmt.Errorf("failed to read the ResourceList: items[%d] (line %d) is not an object", i, it.Line)
			}
			rl.Items = append(rl.Items, yaml.NewRNode(it))
		}
	}
	if fc := lookupKey(root, "functionConfig"); fc != nil && fc.ShortTag() != "!!null" {
		if fc.Kind != yaml.MappingNode {
			return nil, nil, fmt.Errorf("failed to read the ResourceList: functionConfig (line %d) is %s, not a %s or ConfigMap object", fc.Line, describeKind(fc), ConfigKind)
		}
		rl.FunctionConfig = yaml.NewRNode(fc)
	}
	return root, rl, nil
}

func lookupKey(m *yaml.Node, key string) *yaml.Node {
	_, v := field(m, key)
	return v
}

// entrySpans are the entries of keys in a block-style ResourceList, as
// spans that remove them. Orchestrators ignore a function's functionConfig
// output, and echoing it would repeat what it may hold (a mirror written
// with credentials) on stdout; results are written at the end.
func entrySpans(s *source, root *yaml.Node, keys ...string) []span {
	var out []span
	for i := 0; i+1 < len(root.Content); i += 2 {
		for _, k := range keys {
			if root.Content[i].Value != k {
				continue
			}
			start, end := s.LineStart(root.Content[i].Line), len(s.src)
			if i+2 < len(root.Content) {
				end = s.LineStart(root.Content[i+2].Line)
			}
			out = append(out, span{off: start, end: end})
		}
	}
	return out
}

// inputResults are the results the input carries (from a function before
// this one).
func inputResults(root *yaml.Node) []*yaml.Node {
	if r := deref(lookupKey(root, "results")); r != nil && r.Kind == yaml.SequenceNode {
		return r.Content
	}
	return nil
}

// writeResourceList re-encodes the items one by one (linear, unlike one
// large yaml.v3 document), then the results; the functionConfig is not
// written back (see functionConfigSpan).
func writeResourceList(out io.Writer, root *yaml.Node, rl *framework.ResourceList, procErr error) error {
	var b bytes.Buffer
	apiVersion, kind := "config.kubernetes.io/v1", "ResourceList"
	if v := lookupKey(root, "apiVersion"); v != nil && v.Value != "" {
		apiVersion = v.Value
	}
	if k := lookupKey(root, "kind"); k != nil && k.Value != "" {
		kind = k.Value
	}
	fmt.Fprintf(&b, "apiVersion: %s\nkind: %s\nitems:", apiVersion, kind)
	if len(rl.Items) == 0 {
		b.WriteString(" []")
	}
	b.WriteString("\n")
	for _, it := range rl.Items {
		if err := yaml.ClearEmptyAnnotations(it); err != nil {
			return err
		}
		wide := it.GetAnnotations()[kioutil.SeqIndentAnnotation] == string(yaml.WideSequenceStyle)
		if err := writeIndented(&b, it.YNode(), "- ", "  ", wide); err != nil {
			return err
		}
	}
	if err := writeResults(&b, inputResults(root), rl.Results); err != nil {
		return err
	}
	if _, err := out.Write(b.Bytes()); err != nil {
		return err
	}
	return procErr
}

// writeIndented encodes n as its own document and writes it with first
// before its first line and rest before the others. Block scalars keep their
// content, since every line moves by the same amount.
func writeIndented(b *bytes.Buffer, n *yaml.Node, first, rest string, wide bool) error {
	var doc bytes.Buffer
	enc := yaml.NewEncoderWithOptions(&doc, &yaml.EncoderOptions{SeqIndent: seqIndent(wide)})
	if err := enc.Encode(n); err != nil {
		return fmt.Errorf("failed to encode output: %w", err)
	}
	if err := enc.Close(); err != nil {
		return err
	}
	text := strings.TrimSuffix(doc.String(), "\n")
	for i, line := range strings.Split(text, "\n") {
		switch {
		case i == 0:
			b.WriteString(first)
		case line == "":
			// keep blank lines of block scalars blank
		default:
			b.WriteString(rest)
		}
		b.WriteString(line)
		b.WriteString("\n")
	}
	return nil
}

func seqIndent(wide bool) yaml.SequenceIndentStyle {
	if wide {
		return yaml.WideSequenceStyle
	}
	return yaml.CompactSequenceStyle
}

// IsReported reports whether err was already printed to stderr and the results.
func IsReported(err error) bool {
	var r reportedError
	return errors.Is(err, errResults) || errors.As(err, &r)
}
