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
	"io"
	"reflect"
	"regexp"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pin"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
)

// prefetch is a first reading of a ResourceList that starts the registry
// lookups while the input is still being parsed. yaml.v3 reads a
// document whole, and the ResourceList is one document: its first item is
// known only when its last is read. So, beside that reading, the items of
// a block-style ResourceList are cut apart at their "- " lines and read
// one by one, with the functionConfig and the lock read first, through
// the same transform, whose lookups go to a Memo. The run itself then
// decides on the complete reading, exactly as without this one, with the
// same Memo as its resolver: its lookups find their answers made or in
// flight. The first reading only asks questions, never decides, so an
// input it cannot cut (flow style, CR line ends, anything unusual) only
// means no head start; what it asks is what the run asks: the same
// functionConfig, lock, skips and fields.
type prefetch struct {
	// ready is closed once settings and memo are set, or the first
	// reading gave up (memo nil).
	ready    chan struct{}
	settings Settings
	memo     *pin.Memo
	session  *pin.Session
	// begun is closed once the first item's lookups are on their way (or
	// the first reading gave up); fed when every item it could read is
	// added.
	begun chan struct{}
	fed   chan struct{}
	stop  context.CancelFunc
	done  chan struct{}
}

// startPrefetch begins the first reading of in; nil when the processor has
// no resolver to share.
func startPrefetch(p *Processor, in []byte) *prefetch {
	if p.NewResolver == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(p.Ctx)
	f := &prefetch{ready: make(chan struct{}), begun: make(chan struct{}), fed: make(chan struct{}), stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.read(ctx, p, in)
	}()
	return f
}

// waitBegun returns once the first lookups are on their way: the run's own
// reading of the input then competes with them for the CPU only after the
// registry's first round trip has begun.
func (f *prefetch) waitBegun() {
	if f != nil {
		<-f.begun
	}
}

// resolver is the shared Memo when the run's settings are the first
// reading's, else nil.
func (f *prefetch) resolver(s Settings) registry.Resolver {
	if f == nil {
		return nil
	}
	<-f.ready
	if f.memo == nil || !reflect.DeepEqual(f.settings, s) {
		return nil
	}
	return f.memo
}

// close cancels what is still in flight and waits for the reading to end.
func (f *prefetch) close() {
	if f == nil {
		return
	}
	f.stop()
	<-f.done
}

func (f *prefetch) read(ctx context.Context, p *Processor, in []byte) {
	var readyOnce, begunOnce, fedOnce sync.Once
	ready := func() { readyOnce.Do(func() { close(f.ready) }) }
	begun := func() { begunOnce.Do(func() { close(f.begun) }) }
	fed := func() { fedOnce.Do(func() { close(f.fed) }) }
	defer ready()
	defer begun()
	defer fed()
	fc, items, ok := splitResourceList(in)
	if !ok || fc == nil {
		return
	}
	s, lk, rest, ok := firstSettings(fc, items)
	if !ok || s.Mode == pin.Locked {
		return
	}
	s.Registry.Secrets = p.Secrets
	inner, err := p.NewResolver(s.Registry)
	if err != nil {
		return
	}
	memo := pin.NewMemo(inner, s.Concurrency)
	t, err := startTransform(ctx, Input{Lock: lk}, s, memo, p.Now)
	if err != nil {
		return
	}
	f.session = t.session
	defer f.session.Stop()
	f.settings, f.memo = s, memo
	ready()
	feed(ctx, t, rest, begun)
	fed()
	<-ctx.Done() // the lookups run until the run is over
}

// feed reads the items and adds each to the transform, whose session
// starts its lookups. The first items are read one at a time, so that the
// first lookup starts at once; then in batches that double up to 64, since
// each decoder costs as much to make as a few items to read.
func feed(ctx context.Context, t *transformRun, items [][]byte, begun func()) {
	for i, n := 0, 1; i < len(items); i, n = i+n, min(2*n, 64) {
		if ctx.Err() != nil {
			return
		}
		nodes, ok := decodeItems(bytes.Join(items[i:min(i+n, len(items))], nil))
		if !ok {
			return
		}
		for _, n := range nodes {
			t.add(&Resource{Node: yaml.NewRNode(n)})
		}
		begun()
	}
}

// firstSettings reads the functionConfig and the lock (the items that name
// ImageLock) before the other items, which it returns.
func firstSettings(fc []byte, items [][]byte) (Settings, *lock.Lock, [][]byte, bool) {
	docs, err := decodeDocs(fc)
	if err != nil || len(docs) != 1 || len(docs[0].Content) != 1 {
		return Settings{}, nil, nil, false
	}
	root := docs[0].Content[0]
	if root.Kind != yaml.MappingNode || len(root.Content) != 2 || root.Content[1].Kind != yaml.MappingNode {
		return Settings{}, nil, nil, false
	}
	s, err := ParseConfig(yaml.NewRNode(root.Content[1]))
	if err != nil {
		return Settings{}, nil, nil, false
	}
	var locks []*yaml.RNode
	var rest [][]byte
	for _, chunk := range items {
		if !bytes.Contains(chunk, []byte(lock.Kind)) {
			rest = append(rest, chunk)
			continue
		}
		nodes, ok := decodeItems(chunk)
		if !ok {
			return Settings{}, nil, nil, false
		}
		for _, n := range nodes {
			locks = append(locks, yaml.NewRNode(n))
		}
	}
	_, lk, err := FindLock(locks)
	if err != nil {
		return Settings{}, nil, nil, false
	}
	return s, lk, rest, true
}

// decodeItems reads cut-out "- item" texts as the list of their items.
func decodeItems(chunk []byte) ([]*yaml.Node, bool) {
	docs, err := decodeDocs(chunk)
	if err != nil || len(docs) != 1 || len(docs[0].Content) != 1 {
		return nil, false
	}
	seq := docs[0].Content[0]
	if seq.Kind != yaml.SequenceNode {
		return nil, false
	}
	for _, n := range seq.Content {
		if n.Kind != yaml.MappingNode {
			return nil, false
		}
	}
	return seq.Content, true
}

func decodeDocs(src []byte) ([]*yaml.Node, error) {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &doc)
	}
}

// topKey is a key of the ResourceList mapping written at column 0.
var topKey = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]*):(?:[ \t]+(.*))?$`)

// splitResourceList cuts a block-style ResourceList, as kustomize and kpt
// write it, into its functionConfig entry ("functionConfig:" and its
// lines) and the text of each item (its "- " line and those below it). It
// gives up (ok false) on whatever else: another kind, flow style, a key
// written twice, CR line ends, tabs, document markers, an item list that is
// not written one "- " per item at one indentation.
func splitResourceList(in []byte) (fc []byte, items [][]byte, ok bool) {
	if bytes.IndexByte(in, '\r') >= 0 || bytes.HasPrefix(in, []byte("\xef\xbb\xbf")) {
		return nil, nil, false
	}
	seen := map[string]bool{}
	key, fcStart, itemIndent := "", -1, -1
	var starts []int
	itemsEnd := -1
	end := func(off int) {
		switch key {
		case "functionConfig":
			fc = in[fcStart:off]
		case "items":
			itemsEnd = off
		}
	}
	for off := 0; off < len(in); {
		n := bytes.IndexByte(in[off:], '\n')
		next := off + n + 1
		if n < 0 {
			next = len(in)
		}
		line := in[off:next]
		body := bytes.TrimLeft(line, " ")
		indent := len(line) - len(body)
		switch {
		case len(bytes.TrimSpace(body)) == 0 || body[0] == '#':
		case bytes.IndexByte(line[:indent+1], '\t') >= 0, indent == 0 && (bytes.HasPrefix(body, []byte("---")) || bytes.HasPrefix(body, []byte("..."))):
			return nil, nil, false
		case indent == 0 && body[0] != '-':
			m := topKey.FindSubmatch(bytes.TrimRight(line, "\n"))
			if m == nil || seen[string(m[1])] {
				return nil, nil, false // a scalar or flow value, a document marker, a repeated key
			}
			end(off)
			key = string(m[1])
			seen[key] = true
			value := bytes.TrimSpace(m[2])
			if (key == "items" || key == "functionConfig") && len(value) > 0 && value[0] != '#' {
				return nil, nil, false // written in flow style, or an alias
			}
			if key == "kind" && string(value) != "ResourceList" {
				return nil, nil, false
			}
			if key == "functionConfig" {
				fcStart = off
			}
		case key == "items":
			if itemIndent < 0 {
				itemIndent = indent
			}
			isItem := body[0] == '-' && (len(body) == 1 || body[1] == ' ' || body[1] == '\n')
			switch {
			case indent < itemIndent || indent == itemIndent && !isItem:
				return nil, nil, false
			case indent == itemIndent:
				starts = append(starts, off)
			}
		}
		off = next
	}
	end(len(in))
	if !seen["kind"] {
		return nil, nil, false
	}
	for i, s := range starts {
		e := itemsEnd
		if i+1 < len(starts) {
			e = starts[i+1]
		}
		items = append(items, in[s:e])
	}
	return fc, items, true
}
