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

// Package lock reads and writes ImageLock, the record of resolved digests
// that makes renders offline and repeatable. Entries are keyed by normalized
// reference and platform; an entry's resolvedAt changes only when its digest
// does, so writing an unchanged lock is byte-identical.
package lock

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/yamlsrc"
)

const (
	// APIVersion of ImageLock.
	APIVersion = "fn.ansible.cloud37.dev/v1alpha1"
	// Kind of the lock object.
	Kind = "ImageLock"
	// DefaultName is the metadata.name written by `pin-images lock`.
	DefaultName = "images"
	// LocalConfigAnnotation keeps kustomize and kpt from applying the lock.
	LocalConfigAnnotation = "config.kubernetes.io/local-config"
)

// Key identifies an entry: the normalized "name:tag" and an optional platform.
type Key struct {
	Image    string
	Platform string
}

func (k Key) String() string {
	if k.Platform == "" {
		return k.Image
	}
	return k.Image + " (" + k.Platform + ")"
}

// Entry is one resolved digest.
type Entry struct {
	// Image is the normalized reference with its tag, e.g. docker.io/library/nginx:1.25.
	Image string `json:"image" yaml:"image"`
	// Platform is set when the digest is a platform's child manifest.
	Platform string `json:"platform,omitempty" yaml:"platform,omitempty"`
	// Digest is the manifest or index digest the registry served.
	Digest string `json:"digest" yaml:"digest"`
	// ResolvedAt is when this digest was first seen for the key (RFC 3339, UTC).
	ResolvedAt string `json:"resolvedAt" yaml:"resolvedAt"`
	// VerifiedBy names the policy.signatures key whose signature of Digest
	// was verified ("" when no signature policy covered it). A lock
	// without it reads as before.
	VerifiedBy string `json:"verifiedBy,omitempty" yaml:"verifiedBy,omitempty"`
	// KeyFingerprint is that key's fingerprint (sha256 of its
	// SubjectPublicKeyInfo), so that a key replaced under the same name
	// is not taken for the one that verified.
	KeyFingerprint string `json:"keyFingerprint,omitempty" yaml:"keyFingerprint,omitempty"`
}

// Key returns the entry's key.
func (e Entry) Key() Key { return Key{Image: e.Image, Platform: e.Platform} }

// Lock is an ImageLock.
type Lock struct {
	// Name is metadata.name.
	Name    string
	entries map[Key]Entry
	// index is each entry's position in the document it was read from.
	index map[Key]int
}

// New returns an empty lock with the default name.
func New() *Lock { return &Lock{Name: DefaultName, entries: map[Key]Entry{}, index: map[Key]int{}} }

// Index is the position of k's entry in spec.images of the document the
// lock was read from (false for entries added since, or absent).
func (l *Lock) Index(k Key) (int, bool) {
	i, ok := l.index[k]
	return i, ok
}

type document struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   metadata `yaml:"metadata"`
	Spec       spec     `yaml:"spec"`
}

type metadata struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
}

type spec struct {
	Images []Entry `yaml:"images"`
}

// Parse decodes an ImageLock document strictly: unknown fields, malformed
// references, digests and times, and duplicate keys are errors naming the
// field. data holds that one document (FindIn finds it in a file).
func Parse(data []byte) (*Lock, error) {
	docs, err := yamlsrc.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("failed to read ImageLock: %w", err)
	}
	if n := len(nonEmpty(docs)); n != 1 {
		return nil, fmt.Errorf("failed to read ImageLock: %d YAML documents, want the ImageLock alone", n)
	}
	if dups := yamlsrc.DuplicateKeys(docs[0]); len(dups) > 0 {
		return nil, fmt.Errorf("failed to read ImageLock: %w", dups[0])
	}
	var doc document
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("failed to decode ImageLock: %s", strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: "), "\n ", ""))
	}
	if doc.APIVersion != APIVersion || doc.Kind != Kind {
		return nil, fmt.Errorf("not an ImageLock: apiVersion %q kind %q, want %s %s", doc.APIVersion, doc.Kind, APIVersion, Kind)
	}
	l := &Lock{Name: doc.Metadata.Name, entries: map[Key]Entry{}, index: map[Key]int{}}
	if l.Name == "" {
		l.Name = DefaultName
	}
	for i, e := range doc.Spec.Images {
		field := fmt.Sprintf("ImageLock/%s spec.images[%d]", l.Name, i)
		if err := validate(e); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		if _, dup := l.entries[e.Key()]; dup {
			return nil, fmt.Errorf("%s: duplicate entry for %s: keep one", field, e.Key())
		}
		l.entries[e.Key()] = e
		l.index[e.Key()] = i
	}
	return l, nil
}

func validate(e Entry) error {
	ref, err := imageref.Parse(e.Image)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if ref.Pinned() || ref.Key() != e.Image {
		return fmt.Errorf("image %q must be a normalized name:tag such as %q", e.Image, ref.Key())
	}
	if err := imageref.ValidateDigest(e.Digest); err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	if _, err := time.Parse(time.RFC3339, e.ResolvedAt); err != nil {
		return fmt.Errorf("resolvedAt %q: want an RFC 3339 time", e.ResolvedAt)
	}
	if (e.VerifiedBy == "") != (e.KeyFingerprint == "") {
		return fmt.Errorf("verifiedBy and keyFingerprint go together: remove both and re-resolve (mode resolve) to record them again")
	}
	if e.KeyFingerprint != "" && imageref.ValidateDigest(e.KeyFingerprint) != nil {
		return fmt.Errorf("keyFingerprint %q: want sha256: followed by 64 lower-case hex digits", e.KeyFingerprint)
	}
	return nil
}

// Clone returns a copy that later changes to l do not touch.
func (l *Lock) Clone() *Lock {
	c := &Lock{Name: l.Name, entries: make(map[Key]Entry, len(l.entries)), index: make(map[Key]int, len(l.index))}
	for k, e := range l.entries {
		c.entries[k] = e
	}
	for k, i := range l.index {
		c.index[k] = i
	}
	return c
}

// Len is the number of entries.
func (l *Lock) Len() int { return len(l.entries) }

// Get returns the entry for k.
func (l *Lock) Get(k Key) (Entry, bool) {
	e, ok := l.entries[k]
	return e, ok
}

// Set records digest for k. resolvedAt is now only when the entry is new or
// its digest changed; Set reports whether anything changed.
func (l *Lock) Set(k Key, digest string, now time.Time) bool {
	if e, ok := l.entries[k]; ok && e.Digest == digest {
		return false
	}
	l.entries[k] = Entry{Image: k.Image, Platform: k.Platform, Digest: digest, ResolvedAt: now.UTC().Format(time.RFC3339)}
	return true
}

// SetVerified records that key (its name and fingerprint) verified the
// signature of k's digest; nothing changes when the entry holds another
// digest or already says so. resolvedAt is kept. It reports whether
// anything changed.
func (l *Lock) SetVerified(k Key, digest, key, fingerprint string) bool {
	e, ok := l.entries[k]
	if !ok || e.Digest != digest || (e.VerifiedBy == key && e.KeyFingerprint == fingerprint) {
		return false
	}
	e.VerifiedBy, e.KeyFingerprint = key, fingerprint
	l.entries[k] = e
	return true
}

// Prune removes entries whose keys are not in used and returns them sorted.
func (l *Lock) Prune(used map[Key]bool) []Key {
	var removed []Key
	for k := range l.entries {
		if !used[k] {
			removed = append(removed, k)
			delete(l.entries, k)
		}
	}
	sortKeys(removed)
	return removed
}

// Entries returns the entries sorted by image, then platform.
func (l *Lock) Entries() []Entry {
	keys := make([]Key, 0, len(l.entries))
	for k := range l.entries {
		keys = append(keys, k)
	}
	sortKeys(keys)
	out := make([]Entry, len(keys))
	for i, k := range keys {
		out[i] = l.entries[k]
	}
	return out
}

func sortKeys(keys []Key) {
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Image != keys[j].Image {
			return keys[i].Image < keys[j].Image
		}
		return keys[i].Platform < keys[j].Platform
	})
}

// Marshal renders the lock as a YAML document in a fixed order.
func (l *Lock) Marshal() ([]byte, error) {
	doc := document{
		APIVersion: APIVersion,
		Kind:       Kind,
		Metadata: metadata{
			Name:        l.Name,
			Annotations: map[string]string{LocalConfigAnnotation: "true"},
		},
		Spec: spec{Images: l.Entries()},
	}
	if doc.Spec.Images == nil {
		doc.Spec.Images = []Entry{}
	}
	var buf strings.Builder
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("failed to encode ImageLock: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("failed to encode ImageLock: %w", err)
	}
	return []byte(buf.String()), nil
}

func nonEmpty(docs []*yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for _, d := range docs {
		if len(d.Content) > 0 && d.Content[0].ShortTag() != "!!null" {
			out = append(out, d)
		}
	}
	return out
}

// Delta is what a run changed in a lock: entries set (added, or with a new
// digest) and keys removed.
type Delta struct {
	Set     []Entry
	Removed []Key
}

// Empty reports whether the delta changes nothing.
func (d Delta) Empty() bool { return len(d.Set) == 0 && len(d.Removed) == 0 }

// Diff returns what turns before into after.
func Diff(before, after *Lock) Delta {
	var d Delta
	for _, e := range after.Entries() {
		if old, ok := before.entries[e.Key()]; !ok || old != e {
			d.Set = append(d.Set, e)
		}
	}
	for _, e := range before.Entries() {
		if _, ok := after.entries[e.Key()]; !ok {
			d.Removed = append(d.Removed, e.Key())
		}
	}
	return d
}

// Apply makes the delta's changes to l, which may hold entries another run
// added meanwhile: those are kept. An entry whose digest l already has keeps
// its resolvedAt (and takes the delta's record of its signature), so a
// merge is as byte-stable as a run.
func (l *Lock) Apply(d Delta) {
	for _, e := range d.Set {
		if cur, ok := l.entries[e.Key()]; ok && cur.Digest == e.Digest {
			if e.VerifiedBy != "" {
				cur.VerifiedBy, cur.KeyFingerprint = e.VerifiedBy, e.KeyFingerprint
				l.entries[e.Key()] = cur
			}
			continue
		}
		l.entries[e.Key()] = e
	}
	for _, k := range d.Removed {
		delete(l.entries, k)
	}
}

// FindIn finds the one ImageLock among the documents of a file and returns
// its byte range and the lock; found is false when there is none.
func FindIn(src []byte) (span yamlsrc.Span, l *Lock, found bool, err error) {
	if _, err := yamlsrc.Decode(src); err != nil {
		return span, nil, false, fmt.Errorf("failed to read ImageLock: %w", err)
	}
	for _, d := range yamlsrc.Documents(src) {
		var head struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
		}
		if err := yaml.Unmarshal(src[d.Start:d.End], &head); err != nil || head.APIVersion != APIVersion || head.Kind != Kind {
			continue
		}
		if found {
			return span, nil, false, fmt.Errorf("two ImageLocks in one file: keep one")
		}
		if l, err = Parse(src[d.Start:d.End]); err != nil {
			return span, nil, false, err
		}
		span, found = d, true
	}
	return span, l, found, nil
}

// Splice replaces the document at span of src with doc, keeping every other
// document and the separators between them.
func Splice(src []byte, span yamlsrc.Span, doc []byte) []byte {
	out := make([]byte, 0, len(src)-(span.End-span.Start)+len(doc))
	out = append(out, src[:span.Start]...)
	out = append(out, doc...)
	if span.End < len(src) && len(doc) > 0 && doc[len(doc)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, src[span.End:]...)
}
