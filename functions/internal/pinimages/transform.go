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

// Package pinimages is the pin-images transform: it finds every image field
// of a set of resources, decides each digest with the pin engine (lock,
// registry or existing pin, by mode), checks the policy, and reports one
// result per changed or problematic field, one per group of fields that stay
// as they are or are pinned from the lock, and a summary. It changes nothing
// itself: callers apply
// the returned changes to nodes (KRM function) or splice them into files (CLI).
package pinimages

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pin"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/yamlsrc"
)

// Resource is one input object and where it came from.
type Resource struct {
	Node *yaml.RNode
	// File is the path the object was read from ("" when unknown).
	File string
	// Index is the object's position in its file.
	Index int
}

// Change is one value to write.
type Change struct {
	Resource *Resource
	Field    *Field
	// Old and New are the image string (StringField) or the digest (ObjectField).
	Old, New string
}

// Report is the outcome of a run.
type Report struct {
	Results framework.Results
	Changes []Change
	// Lock is the lock after the run; LockChanged says whether it differs.
	Lock        *lock.Lock
	LockChanged bool
	Stats       pin.Stats
}

// HasErrors reports whether any result is an error.
func (r *Report) HasErrors() bool {
	for _, res := range r.Results {
		if res.Severity == framework.Error {
			return true
		}
	}
	return false
}

// parsedRefs remembers parses: 20,000 fields often name 500 references.
type parsedRefs map[string]parsedRef

type parsedRef struct {
	ref imageref.Ref
	err error
}

func (p parsedRefs) parse(s string) (imageref.Ref, error) {
	if r, ok := p[s]; ok {
		return r.ref, r.err
	}
	ref, err := imageref.Parse(s)
	p[s] = parsedRef{ref: ref, err: err}
	return ref, err
}

// occurrence is a field with its resource and parsed reference.
type occurrence struct {
	res   *Resource
	field *Field
	ref   imageref.Ref
	obj   *objectRef
	req   pin.Request
	skip  string
	err   *registry.Error
	// errField names the sub-field an error is about (e.g. ".tag").
	errField string
	// lockEntry marks an entry of the lock checked in verify mode.
	lockEntry bool
}

// Input is what a run looks at.
type Input struct {
	Resources []*Resource
	// Lock is the run's lock (nil: none); the engine updates it in place.
	Lock *lock.Lock
	// LockResource is the ImageLock object the lock was read from, for the
	// results of its entries (verify mode checks them too).
	LockResource *Resource
	// ReadFile reads a file a kustomization names in configurations: that
	// is not among the resources (nil: only the resources are looked at).
	ReadFile func(path string) ([]byte, error)
}

// Transform runs the pin engine over the image fields of the resources (and,
// in verify mode, the lock's entries). now stamps new lock entries (nil:
// time.Now). Results hold no credential: they pass through the run's
// secrets (Settings.Registry.Secrets).
func Transform(ctx context.Context, in Input, s Settings, resolver registry.Resolver, now func() time.Time) (*Report, error) {
	t, err := startTransform(ctx, in, s, resolver, now)
	if err != nil {
		return nil, err
	}
	for _, r := range in.Resources {
		t.add(r)
	}
	return t.finish()
}

// transformRun is a Transform whose resources are added one at a time: the
// registry lookups of a resource start when it is added, while the caller
// may still be reading the next ones.
type transformRun struct {
	s          Settings
	in         Input
	before     []byte // the lock as read
	rep        *Report
	occs       []*occurrence
	refs       parsedRefs
	finder     *fieldFinder
	session    *pin.Session
	fieldCount int
}

// startTransform reads the settings, the lock and the kustomizations'
// configurations files among in.Resources, and starts the engine.
func startTransform(ctx context.Context, in Input, s Settings, resolver registry.Resolver, now func() time.Time) (*transformRun, error) {
	t := &transformRun{s: s, in: in, rep: &Report{}, refs: parsedRefs{}}
	// Only resolve and refresh change the lock (the engine's lock
	// maintenance): the others need no copy to compare with.
	if in.Lock != nil && (s.Mode == pin.Resolve || s.Mode == pin.Refresh) {
		b, err := in.Lock.Marshal()
		if err != nil {
			return nil, err
		}
		t.before = b
	}
	// fieldSpecs declared in the kustomizations' configurations: files
	// count as if written in the config.
	specs, cfgResults := configurationSpecs(in.Resources, in.ReadFile)
	t.rep.Results = append(t.rep.Results, cfgResults...)
	specs = append(append([]FieldSpec(nil), s.FieldSpecs...), specs...)
	if r := createIgnored(specs); r != nil {
		t.rep.Results = append(t.rep.Results, r)
	}
	t.finder = newFieldFinder(specs)
	eng := pin.Engine{Resolver: resolver, Mode: s.Mode, Lock: in.Lock, Concurrency: s.Concurrency, Timeout: s.Timeout, Now: now,
		Signatures: s.Signatures, SignatureSource: signatureSource(resolver)}
	if s.Mode == pin.Locked {
		eng.Resolver = nil
	}
	session, err := eng.Start(ctx)
	if err != nil {
		return nil, err
	}
	t.session = session
	return t, nil
}

// add finds the image fields of r and starts the lookups they need.
func (t *transformRun) add(r *Resource) {
	if skipResource(r.Node) {
		return
	}
	// A duplicated key makes the object mean different things to
	// different readers: nothing of it is decided.
	if dups := yamlsrc.DuplicateKeys(r.Node.YNode()); len(dups) > 0 {
		for _, d := range dups {
			t.rep.Results = append(t.rep.Results, result(r, nil, framework.Error, d.Error(), nil, nil))
		}
		return
	}
	fields, err := t.finder.find(r)
	if err != nil {
		t.rep.Results = append(t.rep.Results, result(r, nil, framework.Error, err.Error(), nil, nil))
		return
	}
	for _, f := range fields {
		o := t.s.prepare(r, f, t.refs)
		t.occs = append(t.occs, o)
		if !f.Undeclared {
			t.fieldCount++
			if o.skip == "" && o.err == nil {
				t.session.Add(o.req)
			}
		}
	}
}

// finish waits for the lookups and decides every field.
func (t *transformRun) finish() (*Report, error) {
	s, rep, occs := t.s, t.rep, t.occs
	lockStart := len(occs)
	if s.Mode == pin.Verify && t.in.Lock != nil {
		for _, o := range lockOccurrences(t.in.Lock, t.in.LockResource, s.Platform) {
			occs = append(occs, o)
			if o.err == nil {
				t.session.Add(o.req)
			}
		}
	}
	outcomes, newLock, stats, err := t.session.Finish()
	if err != nil {
		return nil, err
	}
	rep.Lock, rep.Stats = newLock, stats

	verdicts := make([]verdict, len(occs))
	texts := pinTexts{}
	for i, o := range occs {
		verdicts[i] = withSignature(s.verdict(o, outcomes, texts), o, outcomes)
	}
	refuseSharedConflicts(occs, verdicts)
	counts, changed := map[string]int{}, map[*yaml.Node]bool{}
	var groups *resultGroups
	if s.Results != ResultsFields {
		groups = &resultGroups{}
	}
	for i, o := range occs {
		rep.record(o, verdicts[i], counts, changed, groups)
	}
	if groups != nil {
		groups.finish()
	}
	// Without a lock in the input there is nothing to update.
	if t.before != nil {
		after, err := newLock.Marshal()
		if err != nil {
			return nil, err
		}
		rep.LockChanged = string(after) != string(t.before)
	}
	rep.Results = append(rep.Results, summary(s, t.fieldCount, len(occs)-lockStart, counts, stats, rep))
	redactResults(rep.Results, s.Registry.Secrets)
	return rep, nil
}

// lockOccurrences makes each lock entry an occurrence of its own, pinned to
// the entry's digest, so verify checks it like any pin: its tag must still
// serve that digest (drift otherwise) and the digest must exist.
func lockOccurrences(lk *lock.Lock, res *Resource, platform string) []*occurrence {
	if res == nil {
		res = &Resource{Node: yaml.NewMapRNode(&map[string]string{})}
		res.Node.SetKind(lock.Kind)
		res.Node.SetApiVersion(lock.APIVersion)
		_ = res.Node.SetName(lk.Name)
	}
	var out []*occurrence
	for _, e := range lk.Entries() {
		i, ok := lk.Index(e.Key())
		path := fmt.Sprintf("spec.images[image=%s].digest", e.Image)
		if ok {
			path = fmt.Sprintf("spec.images[%d].digest", i)
		}
		o := &occurrence{res: res, lockEntry: true,
			field: &Field{Path: path, Kind: StringField, Node: &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: e.Digest}}}
		ref, err := imageref.Parse(e.Image)
		if err != nil { // the lock decoder refused such entries already
			o.err = classifyParse(e.Image, err)
			out = append(out, o)
			continue
		}
		o.ref = ref.WithDigest(e.Digest, false)
		o.req = pin.Request{Ref: o.ref, Platform: e.Platform}
		out = append(out, o)
	}
	return out
}

// redactResults removes the run's secrets from every result.
func redactResults(results framework.Results, secrets *redact.Secrets) {
	for _, r := range results {
		r.Message = secrets.Text(r.Message)
		if f := r.Field; f != nil {
			if v, ok := f.CurrentValue.(string); ok {
				f.CurrentValue = secrets.Text(v)
			}
			if v, ok := f.ProposedValue.(string); ok {
				f.ProposedValue = secrets.Text(v)
			}
		}
	}
}

// skipResource leaves out local-config objects (ImageLock, function configs)
// except Kustomization files, whose images[] are pinned in file modes. A
// Kptfile is local config with or without the annotation, as kpt has it: its
// pipeline images are kpt's functions, never deployed.
func skipResource(n *yaml.RNode) bool {
	switch {
	case n.GetKind() == "Kustomization":
		return false
	case n.GetKind() == "Kptfile" && strings.HasPrefix(n.GetApiVersion(), "kpt.dev/"):
		return true
	}
	return n.GetAnnotations()[lock.LocalConfigAnnotation] == "true"
}

// prepare parses a field and decides whether it is skipped.
func (s Settings) prepare(r *Resource, f *Field, refs parsedRefs) *occurrence {
	o := &occurrence{res: r, field: f}
	o.skip = s.skipReason(r.Node, f)
	if f.Undeclared { // the scan parsed it; it is reported, never resolved
		o.ref, _ = refs.parse(f.Node.Value)
		o.skip = s.prefixSkip(o.ref, o.skip)
		return o
	}
	if f.Problem != "" {
		o.err = &registry.Error{Code: "not an image reference", Detail: f.Problem}
		if f.Kind == ObjectField {
			o.err.Code = "not an image object"
		}
		return o
	}
	if f.Kind == StringField {
		ref, err := refs.parse(f.Node.Value)
		if err != nil {
			o.err = classifyParse(f.Node.Value, err)
			return o
		}
		o.ref = ref
	} else {
		obj, ref, sub, err := readObject(f)
		o.obj = obj
		if err != nil {
			o.err, o.errField = err, sub
			return o
		}
		if obj.noTag {
			o.skip = "no newTag: the tag comes from the manifests, nothing to pin here"
		}
		o.ref = ref
	}
	o.skip = s.prefixSkip(o.ref, o.skip)
	o.req = pin.Request{Ref: o.ref, Platform: s.Platform}
	return o
}

// prefixSkip is the skip reason of ref: skip, or a skip prefix it is under.
func (s Settings) prefixSkip(ref imageref.Ref, skip string) string {
	if skip != "" {
		return skip
	}
	for _, p := range s.SkipPrefixes {
		if p.Matches(ref.Name) {
			return fmt.Sprintf("prefix %q is in skip.prefixes", string(p))
		}
	}
	return ""
}

func classifyParse(value string, err error) *registry.Error {
	var de *imageref.DigestError
	if errors.As(err, &de) {
		return digestError(value, de)
	}
	var pe *imageref.PlaceholderError
	if errors.As(err, &pe) {
		return placeholderError(pe)
	}
	detail := strings.TrimPrefix(err.Error(), fmt.Sprintf("invalid image reference %q: ", value))
	return &registry.Error{Code: "invalid image reference", Ref: value, Detail: fmt.Sprintf("%q: %s", value, detail),
		Hint: "write the image as [registry[:port]/]repository[:tag][@sha256:digest], the repository in lower case"}
}

func digestError(ref string, de *imageref.DigestError) *registry.Error {
	if de.Short() {
		e := registry.NewError(registry.InvalidDigest, ref, fmt.Sprintf("%q is not a full digest: %d of the 64 hex digits of a sha256 digest (kustomize takes it, a registry does not)",
			de.Digest, len(de.Digest)-len("sha256:")))
		e.Hint = "write the full digest, or remove it and let pin-images resolve the tag"
		return e
	}
	return registry.NewError(registry.InvalidDigest, ref, fmt.Sprintf("%q is not sha256: followed by 64 lower-case hex digits", de.Digest))
}

func placeholderError(pe *imageref.PlaceholderError) *registry.Error {
	return &registry.Error{Code: "not an image reference", Detail: pe.Error(),
		Hint: "render the template before pin-images runs, or skip the field with the line comment # " + SkipComment}
}

func (s Settings) skipReason(n *yaml.RNode, f *Field) string {
	for _, sel := range s.Selectors {
		if selectorMatches(sel, n) {
			return "resource matches skip.selectors"
		}
	}
	switch ann := n.GetAnnotations()[SkipAnnotation]; {
	case ann == "true":
		return "annotation " + SkipAnnotation + `: "true"`
	case ann != "" && f.Container != "":
		for _, c := range splitList(ann) {
			if c == f.Container {
				return "container " + c + " is listed in annotation " + SkipAnnotation
			}
		}
	}
	if hasSkipComment(f) {
		return "line comment # " + SkipComment
	}
	return ""
}

func hasSkipComment(f *Field) bool {
	nodes := []*yaml.Node{f.Node, f.Key, f.Alias}
	if f.Kind == ObjectField {
		nodes = append(nodes, f.Node.Content...)
	}
	for _, n := range nodes {
		if n != nil && (strings.Contains(n.LineComment, SkipComment) || strings.Contains(n.HeadComment, SkipComment)) {
			return true
		}
	}
	return false
}

func selectorMatches(sel Selector, n *yaml.RNode) bool {
	group, version, kind := gvk(n)
	if (sel.Group != "" && sel.Group != group) || (sel.Version != "" && sel.Version != version) ||
		(sel.Kind != "" && sel.Kind != kind) || (sel.Name != "" && sel.Name != n.GetName()) ||
		(sel.Namespace != "" && sel.Namespace != n.GetNamespace()) {
		return false
	}
	labels := n.GetLabels()
	for k, v := range sel.Labels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// objectRef is an image object's parts.
type objectRef struct {
	repo, tag, digest  string
	repoKey            string     // the key repo was read from
	digestKey, digest0 *yaml.Node // the digest key and value, when present
	lastKey, last      *yaml.Node // the entry the digest is added after
	noTag              bool       // Kustomization entry without newTag or digest
}

// readObject reads {repository, tag, digest} (or Kustomization's keys). The
// sub-field of an error is returned so results point at it.
func readObject(f *Field) (*objectRef, imageref.Ref, string, *registry.Error) {
	k := f.keys
	o := &objectRef{}
	for _, rk := range k.repo {
		key, v := field(f.Node, rk)
		if v = deref(v); v == nil || v.Value == "" && v.Kind == yaml.ScalarNode {
			continue
		}
		if problem := notAString(v); problem != "" {
			return o, imageref.Ref{}, "." + rk, &registry.Error{Code: "invalid image object", Detail: rk + ": not an image reference: " + problem, Hint: "set " + rk + " to the image's repository"}
		}
		o.repo, o.repoKey = v.Value, rk
		o.lastKey, o.last = key, v
		break
	}
	if o.repo == "" {
		return o, imageref.Ref{}, "." + k.repo[0], &registry.Error{Code: "invalid image object", Detail: k.repo[0] + " is empty", Hint: "set " + k.repo[0]}
	}
	if key, v := field(f.Node, k.tag); v != nil && deref(v).ShortTag() != "!!null" {
		v = deref(v)
		switch v.ShortTag() {
		case "!!str", "!!int":
			o.tag = v.Value
			o.lastKey, o.last = key, v
		case "!!float":
			return o, imageref.Ref{}, "." + k.tag, &registry.Error{Code: "invalid image object", Ref: o.repo,
				Detail: fmt.Sprintf("tag %s is a YAML number and would be read as %s", v.Value, strings.TrimRight(strings.TrimRight(v.Value, "0"), ".")),
				Hint:   fmt.Sprintf("quote the tag: %s: %q", k.tag, v.Value)}
		default:
			return o, imageref.Ref{}, "." + k.tag, &registry.Error{Code: "invalid image object", Ref: o.repo,
				Detail: fmt.Sprintf("tag %s is a YAML %s", v.Value, strings.TrimPrefix(v.ShortTag(), "!!")), Hint: "quote the tag"}
		}
	}
	o.digestKey, o.digest0 = field(f.Node, k.digest)
	o.digest0 = deref(o.digest0)
	if o.digest0 != nil && o.digest0.ShortTag() != "!!null" {
		if o.digest0.ShortTag() != "!!str" {
			return o, imageref.Ref{}, "." + k.digest, &registry.Error{Code: "invalid image object", Ref: o.repo,
				Detail: fmt.Sprintf("digest %s is a YAML %s, not a string", o.digest0.Value, strings.TrimPrefix(o.digest0.ShortTag(), "!!")),
				Hint:   "write the digest as sha256: followed by 64 lower-case hex digits, or remove it"}
		}
		o.digest = o.digest0.Value
	}
	if o.digest != "" {
		if err := imageref.ValidateDigest(o.digest); err != nil {
			var de *imageref.DigestError
			errors.As(err, &de)
			return o, imageref.Ref{}, "." + k.digest, digestError(o.repo, de)
		}
	}
	if o.tag == "" && o.digest == "" {
		if k.tagless {
			o.noTag = true
		} else {
			return o, imageref.Ref{}, "." + k.tag, &registry.Error{Code: "invalid image object", Ref: o.repo,
				Detail: "tag and digest are empty", Hint: "set a tag (the digest is then filled in)"}
		}
	}
	// Each part is parsed on its own, so that an error is on its field.
	if k.match != "" && k.match != o.repoKey {
		if v := deref(lookupKey(f.Node, k.match)); v != nil && v.Kind == yaml.ScalarNode && v.Value != "" {
			if _, err := imageref.Parse(v.Value); err != nil {
				return o, imageref.Ref{}, "." + k.match, classifyParse(v.Value, err)
			}
		}
	}
	if _, err := imageref.Parse(o.repo); err != nil {
		return o, imageref.Ref{}, "." + o.repoKey, classifyParse(o.repo, err)
	}
	if o.tag != "" {
		if _, err := imageref.Parse(imageref.Format(o.repo, o.tag, "")); err != nil {
			if imageref.IsPlaceholder(o.tag) {
				err = &imageref.PlaceholderError{Value: o.tag}
			}
			return o, imageref.Ref{}, "." + k.tag, classifyParse(imageref.Format(o.repo, o.tag, ""), err)
		}
	}
	ref, err := imageref.Parse(imageref.Format(o.repo, o.tag, o.digest))
	if err != nil {
		return o, imageref.Ref{}, "", classifyParse(imageref.Format(o.repo, o.tag, o.digest), err)
	}
	return o, ref, "", nil
}

// value is what a field holds now, as shown in results.
func (o *occurrence) value() string {
	if o.field.Kind == StringField {
		return o.field.Node.Value
	}
	if o.obj == nil {
		return ""
	}
	return o.obj.digest
}

func (o *occurrence) path() string {
	if o.field.Kind == ObjectField {
		if o.errField != "" {
			return o.field.Path + o.errField
		}
		return o.field.Path + "." + o.field.keys.digest
	}
	return o.field.Path
}

// verdict is what the run decides for one occurrence: its result and, when
// something is to be written, its change.
type verdict struct {
	sev      framework.Severity
	msg      string
	proposed any
	change   *Change
	// counted are the summary counters it adds to, besides its severity.
	counted []string
}

// verdict turns the engine's outcome into a result and, where needed, a change.
func (s Settings) verdict(o *occurrence, outcomes map[string]*pin.Outcome, texts pinTexts) verdict {
	if o.err != nil {
		return verdict{sev: framework.Error, msg: errMessage(o.err)}
	}
	if o.lockEntry {
		return lockVerdict(o, outcomes[o.req.ID()], s.FailOnDrift)
	}
	if o.field.Undeclared {
		return s.undeclaredVerdict(o)
	}
	if violation := s.registryViolation(o.ref); violation != "" {
		return verdict{sev: framework.Error, msg: violation}
	}
	if o.skip != "" {
		return verdict{sev: framework.Info, msg: "skipped: " + o.skip, counted: []string{"skipped"}}
	}
	out := outcomes[o.req.ID()]
	switch out.Status {
	case pin.Pinned, pin.Updated:
		t := texts.of(s, o, out)
		v := verdict{sev: framework.Info, proposed: t.newValue, msg: t.msg, counted: t.counted,
			change: &Change{Resource: o.res, Field: o.field, Old: o.value(), New: t.newValue}}
		return v
	case pin.Kept:
		msg := "already pinned"
		if out.Source == pin.FromRegistry {
			msg = "pin verified: the registry serves " + out.Digest + " for " + o.ref.EffectiveTag()
			if o.ref.Tag == "" {
				msg = "pin verified: the registry has " + out.Digest
			}
		}
		return verdict{sev: framework.Info, msg: msg, counted: []string{"kept"}}
	case pin.Unpinned:
		proposed := o.ref.WithDigest(out.Digest, s.DropTag).String()
		if o.field.Kind == ObjectField {
			proposed = out.Digest
		}
		if s.RequireDigests {
			return verdict{sev: framework.Error, proposed: proposed,
				msg: fmt.Sprintf("not pinned and policy.requireDigests is set: the registry serves %s — run `pin-images pin -w` or mode resolve to pin it", out.Digest)}
		}
		return verdict{sev: framework.Warning, proposed: proposed,
			msg: fmt.Sprintf("not pinned: the registry serves %s — run `pin-images pin -w` or mode resolve to pin it", out.Digest)}
	case pin.Drifted:
		sev := framework.Warning
		if s.FailOnDrift {
			sev = framework.Error
		}
		return verdict{sev: sev, msg: errMessage(out.Err), proposed: out.Current}
	default: // pin.Failed
		return verdict{sev: framework.Error, msg: errMessage(out.Err)}
	}
}

// pinTexts are the new values and messages of pins, made once per
// reference, digest and kind of field: thousands of fields share a few
// hundred.
type pinTexts map[pinTextKey]pinText

type pinTextKey struct {
	original, digest string
	status           pin.Status
	source           pin.Source
	kind             FieldKind
}

type pinText struct {
	newValue, msg string
	counted       []string
}

func (texts pinTexts) of(s Settings, o *occurrence, out *pin.Outcome) pinText {
	k := pinTextKey{original: o.ref.Original, digest: out.Digest, status: out.Status, source: out.Source, kind: o.field.Kind}
	if t, ok := texts[k]; ok {
		return t
	}
	t := pinText{newValue: out.Digest, counted: []string{string(out.Status)}}
	if o.field.Kind == StringField {
		t.newValue = o.ref.WithDigest(out.Digest, s.DropTag).String()
	}
	if out.Source == pin.FromLock {
		t.counted = append(t.counted, "fromLock")
	}
	t.msg = fmt.Sprintf("pinned %s to %s (from %s)", o.ref.Original, out.Digest, out.Source)
	if out.Status == pin.Updated {
		t.msg = fmt.Sprintf("tag %q moved: pin updated from %s to %s", o.ref.EffectiveTag(), o.ref.Digest, out.Digest)
	}
	texts[k] = t
	return t
}

// undeclaredVerdict is the verdict on an image-like field the scan found:
// it is checked against the policy as far as its text allows, and never
// resolved or changed.
func (s Settings) undeclaredVerdict(o *occurrence) verdict {
	const msg = "image-like field not pinned: declare it with fieldSpecs or skip it"
	hint := " — e.g. fieldSpecs: [" + o.field.Declare + "], or the line comment # " + SkipComment
	v := verdict{sev: framework.Warning, msg: msg + hint, counted: []string{"undeclared"}}
	switch violation := s.registryViolation(o.ref); {
	case violation != "":
		v.sev, v.msg = framework.Error, violation
	case o.skip != "":
		return verdict{sev: framework.Info, msg: "skipped: " + o.skip, counted: []string{"undeclared", "undeclaredSkipped"}}
	case o.ref.Pinned():
		// requireDigests is met; the pin itself goes unchecked.
		v.msg = "image-like field not declared: its pin is not verified; declare it with fieldSpecs or skip it" + hint
	case s.RequireDigests:
		v.sev, v.msg = framework.Error, msg+" (policy.requireDigests is set)"+hint
	}
	return v
}

// lockVerdict is verify's verdict on a lock entry: a drift or an error like
// any pin's, never a change.
func lockVerdict(o *occurrence, out *pin.Outcome, failOnDrift bool) verdict {
	switch out.Status {
	case pin.Kept:
		return verdict{sev: framework.Info, msg: "lock entry verified: the registry serves " + out.Digest + " for " + o.ref.EffectiveTag(), counted: []string{"kept"}}
	case pin.Drifted:
		sev := framework.Warning
		if failOnDrift {
			sev = framework.Error
		}
		return verdict{sev: sev, msg: strings.Replace(errMessage(out.Err), "the pin says", "the lock says", 1), proposed: out.Current}
	default:
		return verdict{sev: framework.Error, msg: errMessage(out.Err)}
	}
}

// refuseSharedConflicts handles fields that are one node (YAML aliases of
// one anchor): writing the node changes all of them, so it is written only
// when every one of them gets the same change, and refused otherwise.
func refuseSharedConflicts(occs []*occurrence, verdicts []verdict) {
	byNode := map[*yaml.Node][]int{}
	for i, o := range occs {
		byNode[o.field.Node] = append(byNode[o.field.Node], i)
	}
	for node, group := range byNode {
		if len(group) < 2 {
			continue
		}
		intent := func(i int) string {
			if c := verdicts[i].change; c != nil {
				return "pinned to " + c.New
			}
			return "not changed (" + strings.TrimSuffix(verdicts[i].msg, ".") + ")"
		}
		first := intent(group[0])
		same := true
		for _, i := range group[1:] {
			same = same && intent(i) == first
		}
		if same {
			continue
		}
		for _, i := range group {
			if verdicts[i].change == nil {
				continue
			}
			var others []string
			for _, j := range group {
				if intent(j) != intent(i) {
					others = append(others, occs[j].path()+" is "+intent(j))
				}
			}
			verdicts[i] = verdict{sev: framework.Error, msg: fmt.Sprintf(
				"the image is written once, at line %d, and reached through YAML aliases by fields that are not pinned alike (%s): pinning it here would change them all — write the image out in each place, or skip all of them",
				node.Line, strings.Join(others, "; "))}
		}
	}
}

// record adds a verdict to the report; a node already changed (the same
// anchor reached again) is not changed twice. With the summary form,
// unchanged and lock-served fields that say the same about the same value
// share one result (groups).
func (rep *Report) record(o *occurrence, v verdict, counts map[string]int, changed map[*yaml.Node]bool, groups *resultGroups) {
	if groups == nil || !v.summarized() {
		rep.Results = append(rep.Results, result(o.res, o, v.sev, v.msg, o.value(), v.proposed))
	} else if g := groups.add(o, v); g != nil {
		rep.Results = append(rep.Results, g)
	}
	for _, c := range v.counted {
		counts[c]++
	}
	if v.change != nil && !changed[o.field.Node] {
		changed[o.field.Node] = true
		rep.Changes = append(rep.Changes, *v.change)
	}
}

// summarized reports a verdict the summary form groups: an info that
// changes nothing (kept, verified, skipped) or pins from the lock. What
// the registry changed, and every warning and error, has its own result.
func (v verdict) summarized() bool {
	return v.sev == framework.Info && (v.change == nil || slices.Contains(v.counted, "fromLock"))
}

// ResultsSummary and ResultsFields are the forms of results (spec.results):
// one result per group of unchanged or lock-served fields saying the same,
// or one per field.
const (
	ResultsSummary = "summary"
	ResultsFields  = "fields"
)

// FieldsTag is the tag of a grouped result: how many fields it stands for.
const FieldsTag = "pin-images.ansible.cloud37.dev/fields"

// resultGroups collects the grouped results of a run. A group of one field
// stays that field's own result; a larger one names the count and its
// first field.
type resultGroups struct {
	byKey map[groupKey]*resultGroup
	order []*resultGroup
}

// groupKey is what the fields of a group say alike.
type groupKey struct{ msg, value, proposed string }

type resultGroup struct {
	result *framework.Result // shown where the group's first field is
	first  *framework.Result // the first field's own result
	msg    string
	value  string
	n      int
}

// add puts a field in its group and returns the group's result when it is
// new (it goes where the first field is).
func (g *resultGroups) add(o *occurrence, v verdict) *framework.Result {
	value := o.value()
	proposed, _ := v.proposed.(string) // verdicts propose strings or nothing
	key := groupKey{msg: v.msg, value: value, proposed: proposed}
	if grp, ok := g.byKey[key]; ok {
		grp.n++
		return nil
	}
	res := result(o.res, o, v.sev, v.msg, value, v.proposed)
	grp := &resultGroup{result: &framework.Result{}, first: res, msg: v.msg, value: value, n: 1}
	*grp.result = *res
	if g.byKey == nil {
		g.byKey = map[groupKey]*resultGroup{}
	}
	g.byKey[key] = grp
	g.order = append(g.order, grp)
	return grp.result
}

// finish writes the grouped results: a group of one is its field's result.
func (g *resultGroups) finish() {
	for _, grp := range g.order {
		if grp.n == 1 {
			continue
		}
		where := grp.first.Field.Path
		if ref := grp.first.ResourceRef; ref != nil {
			where = ref.Kind + "/" + ref.Name + " " + where
		}
		*grp.result = framework.Result{
			Severity: framework.Info,
			Message:  fmt.Sprintf("%s; %d image fields hold %v, the first %s", grp.msg, grp.n, grp.value, where),
			Tags:     map[string]string{FieldsTag: strconv.Itoa(grp.n)},
			File:     grp.first.File,
		}
	}
}

// registryViolation checks policy.allowedRegistries.
func (s Settings) registryViolation(ref imageref.Ref) string {
	if len(s.Allowed) == 0 {
		return ""
	}
	for _, p := range s.Allowed {
		if p.Matches(ref.Name) {
			return ""
		}
	}
	allowed := make([]string, len(s.Allowed))
	for i, p := range s.Allowed {
		allowed[i] = string(p)
	}
	return fmt.Sprintf("registry not allowed: %s is not under policy.allowedRegistries [%s] — use an image from an allowed registry, or add its registry to the policy",
		ref.Name, strings.Join(allowed, ", "))
}

// errMessage is the message and what to do.
func errMessage(e *registry.Error) string {
	if e.Hint == "" {
		return e.Message()
	}
	return e.Message() + " — " + e.Hint
}

func result(r *Resource, o *occurrence, sev framework.Severity, msg string, current, proposed any) *framework.Result {
	res := &framework.Result{Message: msg, Severity: sev}
	// A kustomization without kind is named by its file alone.
	if r != nil && r.Node.GetKind() != "" {
		res.ResourceRef = &yaml.ResourceIdentifier{
			TypeMeta: yaml.TypeMeta{APIVersion: r.Node.GetApiVersion(), Kind: r.Node.GetKind()},
			NameMeta: yaml.NameMeta{Name: r.Node.GetName(), Namespace: r.Node.GetNamespace()},
		}
	}
	if r != nil {
		if file := fileOf(r); file != "" {
			res.File = &framework.File{Path: file, Index: r.Index}
		}
	}
	if o != nil {
		res.Field = &framework.Field{Path: o.path(), CurrentValue: current}
		if proposed != nil {
			res.Field.ProposedValue = proposed
		}
	}
	return res
}

// fileOf is the resource's file: the CLI's, or the path annotation kpt and
// kustomize set.
func fileOf(r *Resource) string {
	if r.File != "" {
		return r.File
	}
	ann := r.Node.GetAnnotations()
	if p := ann[kioutil.PathAnnotation]; p != "" {
		return p
	}
	return ann[kioutil.LegacyPathAnnotation]
}

func summary(s Settings, fields, lockEntries int, c map[string]int, st pin.Stats, rep *Report) *framework.Result {
	// Severities are counted over every result: some (a duplicate key, an
	// unreadable embedded document) belong to no image field.
	bySeverity := map[framework.Severity]int{}
	for _, r := range rep.Results {
		bySeverity[r.Severity]++
	}
	msg := fmt.Sprintf("pin-images %s: %d image fields: %d pinned (%d from lock), %d updated, %d kept, %d skipped; %d warnings, %d errors; %d registry lookups for %d distinct references",
		s.Mode, fields, c[string(pin.Pinned)], c["fromLock"], c[string(pin.Updated)], c["kept"], c["skipped"],
		bySeverity[framework.Warning], bySeverity[framework.Error], st.Lookups, st.Requests)
	if c["undeclared"] > 0 {
		msg += fmt.Sprintf("; %d image-like fields not declared", c["undeclared"])
		if n := c["undeclaredSkipped"]; n > 0 {
			msg += fmt.Sprintf(" (%d skipped)", n)
		}
	}
	if lockEntries > 0 {
		msg += fmt.Sprintf("; %d lock entries checked", lockEntries)
	}
	msg += signatureSummary(s, c, st)
	if rep.LockChanged {
		msg += fmt.Sprintf("; lock updated (%d entries)", rep.Lock.Len())
	}
	if len(st.Pruned) > 0 {
		msg += fmt.Sprintf(", %d unused entries pruned", len(st.Pruned))
	}
	return &framework.Result{Message: msg, Severity: framework.Info}
}

// StderrLines renders warnings and errors as "file: Kind/name field: message",
// because kustomize build hides results.
func StderrLines(results framework.Results) []string {
	var out []string
	for _, r := range results {
		if r.Severity != framework.Error && r.Severity != framework.Warning {
			continue
		}
		var b strings.Builder
		if r.File != nil && r.File.Path != "" {
			b.WriteString(r.File.Path + ": ")
		}
		if r.ResourceRef != nil {
			b.WriteString(r.ResourceRef.Kind + "/" + r.ResourceRef.Name)
			if r.Field == nil {
				b.WriteString(":")
			}
			b.WriteString(" ")
		}
		if r.Field != nil {
			b.WriteString(r.Field.Path + ": ")
		}
		b.WriteString(string(r.Severity) + ": " + r.Message)
		out = append(out, b.String())
	}
	return out
}
