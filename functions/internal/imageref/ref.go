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

// Package imageref parses container image references with go-containerregistry
// and defines the one normalization used wherever references are compared.
//
// Normalization (lock keys, skip prefixes, allowed registries, mirrors):
//   - the registry host is lower-cased and "index.docker.io" is spelled "docker.io";
//   - a one-segment Docker Hub repository gets the implied "library/" namespace;
//   - prefixes match at path-segment boundaries ("docker.io/library" matches
//     "docker.io/library/nginx", never "docker.io/library2/x").
//
// The user's spelling of the repository is kept for output: "nginx:1.25" is
// written back as "nginx:1.25@sha256:…", not "index.docker.io/library/nginx".
package imageref

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
)

// DockerHub is the canonical spelling of Docker Hub's registry host.
const DockerHub = "docker.io"

var digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

// Ref is a parsed image reference.
type Ref struct {
	// Original is the reference exactly as written.
	Original string
	// Repository is the user's spelling of the repository part, without tag or digest.
	Repository string
	// Tag is the tag as written; empty when the reference names none.
	Tag string
	// Digest is "sha256:…" when the reference is pinned; empty otherwise.
	Digest string
	// Name is the normalized repository, e.g. "docker.io/library/nginx".
	Name string
}

// Parse parses s with go-containerregistry (so "registry:5000/app:1.2" keeps its
// port) and returns the reference with both spellings. The digest, when
// present, must be sha256 with 64 lower-case hex digits. Each part is first
// checked against the distribution reference grammar, which is stricter than
// go-containerregistry's weak validation (it takes "host//app" and "app:-1"),
// so that an invalid reference is refused before any request, with the
// part to fix named.
func Parse(s string) (Ref, error) {
	if s == "" {
		return Ref{}, fmt.Errorf("empty image reference")
	}
	if IsPlaceholder(s) {
		return Ref{}, &PlaceholderError{Value: s}
	}
	if strings.TrimSpace(s) != s {
		return Ref{}, fmt.Errorf("image reference %q has surrounding white space", s)
	}
	if err := checkForm(s); err != nil {
		var patternsOnly *redact.Secrets
		return Ref{}, fmt.Errorf("invalid image reference %q: %w", patternsOnly.Text(s), err)
	}
	r := Ref{Original: s}
	rest := s
	if at := strings.LastIndex(s, "@"); at >= 0 {
		r.Digest = s[at+1:]
		rest = s[:at]
		if err := ValidateDigest(r.Digest); err != nil {
			return Ref{}, fmt.Errorf("image reference %q: %w", s, err)
		}
	}
	r.Repository = rest
	// A tag is what follows the last colon after the last slash; a colon
	// before it belongs to a registry's port.
	if colon := strings.LastIndex(rest, ":"); colon > strings.LastIndex(rest, "/") {
		r.Repository, r.Tag = rest[:colon], rest[colon+1:]
		if err := checkTag(r.Tag); err != nil {
			return Ref{}, fmt.Errorf("invalid image reference %q: %w", s, err)
		}
	}
	if err := checkRepository(r.Repository); err != nil {
		return Ref{}, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	// Validate with go-containerregistry too; the digest was checked above
	// with our stricter rule (sha256 only).
	parsed, err := name.ParseReference(rest, name.WeakValidation)
	if err != nil {
		return Ref{}, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	tag, ok := parsed.(name.Tag)
	if !ok {
		return Ref{}, fmt.Errorf("invalid image reference %q: unexpected form", s)
	}
	r.Name = normalizeRepository(tag.Context())
	// Registries bound the full name, as normalized: a short Docker Hub
	// name of 240 characters is one of 258.
	if len(r.Name) > maxNameLength {
		return Ref{}, fmt.Errorf("invalid image reference %q: repository name %s is longer than %d characters", s, r.Name, maxNameLength)
	}
	return r, nil
}

// userinfoRE finds "user:password@" before a registry host.
var userinfoRE = regexp.MustCompile(`^[^/@]+:[^/@]*@[^/@]+/`)

// checkForm refuses URLs and credentials, which no reference holds; the
// digest rule would otherwise blame "@" on a bad digest.
func checkForm(s string) error {
	if strings.Contains(s, "://") {
		return fmt.Errorf("a reference is not a URL: write registry/repository[:tag], without a scheme or credentials")
	}
	if userinfoRE.MatchString(s) {
		return fmt.Errorf("credentials are written into it (user:password@registry): references carry none; put the registry's credentials in the docker config")
	}
	return nil
}

// The distribution reference grammar (distribution/reference/regexp.go).
var (
	domainRE    = regexp.MustCompile(`^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$`)
	ipv6HostRE  = regexp.MustCompile(`^\[[a-fA-F0-9:]+\](?::[0-9]+)?$`)
	componentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	tagRE       = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
)

// maxNameLength is the longest repository name (host and path) registries take.
const maxNameLength = 255

func checkTag(tag string) error {
	switch {
	case tag == "":
		return fmt.Errorf("empty tag after \":\": remove the colon or write a tag")
	case !tagRE.MatchString(tag):
		return fmt.Errorf("tag %q is not valid: a tag is 1 to 128 letters, digits, _ . and -, and starts with a letter, digit or _", tag)
	}
	return nil
}

// checkRepository checks a repository ([host/]path) part by part.
func checkRepository(repo string) error {
	if len(repo) > maxNameLength {
		return fmt.Errorf("repository name is longer than %d characters", maxNameLength)
	}
	host, path := splitHost(repo)
	if host != "" && !domainRE.MatchString(host) && !ipv6HostRE.MatchString(host) {
		return fmt.Errorf("registry %q is not a host name or address with an optional numeric port", host)
	}
	if host == "" && strings.Contains(path, ":") {
		return fmt.Errorf("%q is not a repository: a colon belongs before a tag, or in a registry's port followed by /repository", path)
	}
	if strings.ToLower(path) != path {
		return fmt.Errorf("repository names must be lower case: %q", path)
	}
	for _, c := range strings.Split(path, "/") {
		switch {
		case c == "":
			return fmt.Errorf("empty path component in %q: remove the doubled, leading or trailing slash", path)
		case !componentRE.MatchString(c):
			return fmt.Errorf("path component %q is not valid: lower-case letters and digits, separated by one of . _ __ or dashes, starting and ending with a letter or digit", c)
		}
	}
	return nil
}

// splitHost splits a reference without tag or digest into its registry host
// ("" for Docker Hub's implied host) and path, by Docker's rule: the first
// segment is a host when it has a dot or a port, or is localhost.
func splitHost(s string) (host, path string) {
	first, rest, found := strings.Cut(s, "/")
	if found && isHost(first) {
		return first, rest
	}
	return "", s
}

// DigestError is a digest that is not sha256 with 64 lower-case hex digits.
type DigestError struct {
	Digest string
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("invalid digest format %q: want sha256: followed by 64 lower-case hex digits", e.Digest)
}

// Short reports whether the digest is the start of one (sha256: and fewer
// than 64 hex digits): kustomize takes such a digest, a registry does not.
func (e *DigestError) Short() bool { return shortDigestRE.MatchString(e.Digest) }

var shortDigestRE = regexp.MustCompile(`^sha256:[a-f0-9]{1,63}$`)

// PlaceholderError is a template placeholder where a reference belongs
// ("{GENERATED_TAG}", "{{ .Values.tag }}", "$(params.image)"): blaming the
// grammar ("repository names must be lower case") would send the user to
// the wrong fix.
type PlaceholderError struct {
	Value string
}

func (e *PlaceholderError) Error() string {
	return fmt.Sprintf("%q is not a reference (template placeholder?)", e.Value)
}

// IsPlaceholder reports whether s holds template syntax, which no image
// reference can hold: braces (Go templates, Helm, "{GENERATED_TAG}"
// placeholders, "${VAR}"), "$(" (Tekton and Kubernetes variables) or "<%".
func IsPlaceholder(s string) bool {
	return strings.ContainsAny(s, "{}") || strings.Contains(s, "$(") || strings.Contains(s, "<%")
}

// ValidateDigest reports whether d is "sha256:" followed by 64 lower-case hex digits.
func ValidateDigest(d string) error {
	if !digestRE.MatchString(d) {
		return &DigestError{Digest: d}
	}
	return nil
}

// Pinned reports whether the reference carries a digest.
func (r Ref) Pinned() bool { return r.Digest != "" }

// EffectiveTag is the tag a registry is asked for: the written tag, or "latest".
func (r Ref) EffectiveTag() string {
	if r.Tag == "" {
		return name.DefaultTag
	}
	return r.Tag
}

// Key is the normalized "name:tag" used for lock entries and de-duplication.
func (r Ref) Key() string { return r.Name + ":" + r.EffectiveTag() }

// String renders the reference in the user's spelling.
func (r Ref) String() string {
	return Format(r.Repository, r.Tag, r.Digest)
}

// WithDigest returns the reference pinned to d. A written tag is kept for
// humans unless dropTag is set; an implicit tag stays implicit.
func (r Ref) WithDigest(d string, dropTag bool) Ref {
	out := r
	out.Digest = d
	if dropTag {
		out.Tag = ""
	}
	out.Original = out.String()
	return out
}

// Format joins a repository, an optional tag and an optional digest.
func Format(repository, tag, digest string) string {
	s := repository
	if tag != "" {
		s += ":" + tag
	}
	if digest != "" {
		s += "@" + digest
	}
	return s
}

// normalizeRepository applies the one normalization to a parsed repository.
func normalizeRepository(repo name.Repository) string {
	host := NormalizeHost(repo.RegistryStr())
	path := repo.RepositoryStr()
	if host == DockerHub && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	return host + "/" + path
}

// NormalizeHost lower-cases a registry host and spells Docker Hub "docker.io".
func NormalizeHost(host string) string {
	host = strings.ToLower(host)
	if host == name.DefaultRegistry || host == "registry-1.docker.io" {
		return DockerHub
	}
	return host
}

// Prefix is a normalized prefix of references: a registry host, or a host and
// leading path segments.
type Prefix string

// ParsePrefix normalizes a user-written prefix. "gcr.io" and "localhost:5000"
// name registries; "nginx" and "docker.io/nginx" name the repository
// docker.io/library/nginx, as they would in an image; a trailing slash
// ("docker.io/bitnami/") names a namespace, so no "library/" is implied.
func ParsePrefix(s string) (Prefix, error) {
	if s == "" {
		return "", fmt.Errorf("empty prefix")
	}
	namespace := strings.HasSuffix(s, "/")
	t := strings.TrimSuffix(s, "/")
	if isHost(t) {
		if _, err := name.NewRegistry(t, name.WeakValidation); err != nil {
			return "", fmt.Errorf("invalid registry prefix %q: %w", s, err)
		}
		return Prefix(NormalizeHost(t)), nil
	}
	if err := checkRepository(t); err != nil {
		return "", fmt.Errorf("invalid prefix %q: %w", s, err)
	}
	if _, err := name.NewRepository(t, name.WeakValidation); err != nil {
		return "", fmt.Errorf("invalid prefix %q: %w", s, err)
	}
	host, path := splitHost(t)
	host = NormalizeHost(host)
	if host == "" {
		host = DockerHub
	}
	// go-containerregistry would add "library/" to any one-segment Docker Hub
	// path; a prefix keeps the namespace the user named.
	if host == DockerHub && !namespace && path != "library" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	return Prefix(host + "/" + path), nil
}

// isHost reports whether s (one path segment) names a registry rather than a
// Docker Hub repository, by Docker's rule: it has a dot or a port, or is localhost.
func isHost(s string) bool {
	if strings.Contains(s, "/") {
		return false
	}
	return strings.ContainsAny(s, ".:") || s == "localhost"
}

// Matches reports whether the normalized repository name starts with the
// prefix at a path-segment boundary.
func (p Prefix) Matches(normalizedName string) bool {
	ps := string(p)
	if !strings.HasPrefix(normalizedName, ps) {
		return false
	}
	return len(normalizedName) == len(ps) || normalizedName[len(ps)] == '/'
}

// Registry returns the normalized registry host of a normalized name.
func Registry(normalizedName string) string {
	host, _, _ := strings.Cut(normalizedName, "/")
	return host
}
