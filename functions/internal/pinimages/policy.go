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
	"fmt"
	"strings"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
)

// Violation is an image field a policy refuses.
type Violation struct {
	// Path is the field, Value its image.
	Path, Value string
	// Message says what is wrong and what to do.
	Message string
}

// CheckPolicy applies the policy to one resource as it is, without any
// registry lookup (the admission webhook's validation): the same fields,
// skips and undeclared image-like fields as the function. An image
// deliberately skipped passes. requireDigests refuses an unpinned image
// or an undeclared image-like field, allowedRegistries an image outside
// the prefixes; with onlyLocked (lock-only admission) an image passes
// only pinned to a digest the lock records for it: its name:tag and
// platform, or, without a tag, any entry of that repository.
func CheckPolicy(r *Resource, s Settings, onlyLocked *lock.Lock) ([]Violation, error) {
	fields, err := FindFields(r, s.FieldSpecs)
	if err != nil {
		return nil, err
	}
	refs := parsedRefs{}
	var out []Violation
	for _, f := range fields {
		o := s.prepare(r, f, refs)
		if o.skip != "" {
			continue
		}
		value := o.value()
		refuse := func(format string, args ...any) {
			out = append(out, Violation{Path: f.Path, Value: value, Message: fmt.Sprintf(format, args...)})
		}
		switch {
		case f.Undeclared:
			if s.RequireDigests || onlyLocked != nil {
				refuse("image-like field not pinned and not declared: declare it with fieldSpecs (%s) or skip it", f.Declare)
			}
			continue
		case o.err != nil:
			refuse("%s", errMessage(o.err))
			continue
		}
		if v := s.registryViolation(o.ref); v != "" {
			refuse("%s", v)
		}
		pinned := o.ref.Pinned()
		if !pinned && (s.RequireDigests || onlyLocked != nil) {
			refuse("unpinned image %s: policy requires a digest (pin it: pin-images pin -w, or let the mutating webhook pin it)", o.ref.Original)
			continue
		}
		if onlyLocked != nil && pinned && !locked(onlyLocked, o.ref, s.Platform) {
			refuse("digest %s of %s is not in the lock: only images reviewed into the ImageLock are admitted (run pin-images lock and apply the lock)", o.ref.Digest, o.ref.Original)
		}
	}
	return out, nil
}

// locked reports whether the lock records ref's digest.
func locked(lk *lock.Lock, ref imageref.Ref, platform string) bool {
	if ref.Tag != "" {
		e, ok := lk.Get(lock.Key{Image: ref.Key(), Platform: platform})
		return ok && e.Digest == ref.Digest
	}
	for _, e := range lk.Entries() {
		if e.Digest == ref.Digest && nameOfKey(e.Image) == ref.Name {
			return true
		}
	}
	return false
}

// nameOfKey is the repository of a lock key (normalized name:tag).
func nameOfKey(k string) string {
	if i := strings.LastIndex(k, ":"); i > strings.LastIndex(k, "/") {
		return k[:i]
	}
	return k
}
