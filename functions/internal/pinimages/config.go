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
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pin"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
)

const (
	// ConfigAPIVersion and ConfigKind name the function's own config type.
	ConfigAPIVersion = "fn.ansible.cloud37.dev/v1alpha1"
	ConfigKind       = "PinImages"
)

// Config is PinImages.spec, and the settings a ConfigMap carries as strings.
type Config struct {
	// Mode is resolve (default), verify, refresh or locked.
	Mode string `yaml:"mode,omitempty"`
	// Platform pins the child manifest of os/arch[/variant] instead of the index.
	Platform string `yaml:"platform,omitempty"`
	// DropTag writes repo@sha256:… instead of repo:tag@sha256:….
	DropTag bool `yaml:"dropTag,omitempty"`
	// Concurrency bounds registry lookups in flight (default 8).
	Concurrency int `yaml:"concurrency,omitempty"`
	// Timeout bounds the run, as a Go duration (default 2m).
	Timeout string `yaml:"timeout,omitempty"`
	// CABundle is inline PEM trusted for registries (kpt render cannot mount files).
	CABundle string `yaml:"caBundle,omitempty"`
	// InsecureRegistries are hosts reached over HTTP or unverified TLS.
	InsecureRegistries []string `yaml:"insecureRegistries,omitempty"`
	// Mirrors read digests of references under From from To.
	Mirrors []MirrorSpec `yaml:"mirrors,omitempty"`
	// Skip leaves images alone.
	Skip SkipSpec `yaml:"skip,omitempty"`
	// FieldSpecs declare more image fields, in kustomize fieldSpec syntax.
	FieldSpecs []FieldSpec `yaml:"fieldSpecs,omitempty"`
	// Policy turns the function into a validator.
	Policy PolicySpec `yaml:"policy,omitempty"`
}

// MirrorSpec is one mirror.
type MirrorSpec struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// SkipSpec selects images to leave on their tags.
type SkipSpec struct {
	// Prefixes of references, matched at path-segment boundaries after normalization.
	Prefixes []string `yaml:"prefixes,omitempty"`
	// Selectors of resources whose images are all skipped.
	Selectors []Selector `yaml:"selectors,omitempty"`
}

// Selector matches resources; every set field must match.
type Selector struct {
	Group     string            `yaml:"group,omitempty"`
	Version   string            `yaml:"version,omitempty"`
	Kind      string            `yaml:"kind,omitempty"`
	Name      string            `yaml:"name,omitempty"`
	Namespace string            `yaml:"namespace,omitempty"`
	Labels    map[string]string `yaml:"labels,omitempty"`
}

// FieldSpec declares an image field of some kind, as kustomize does.
type FieldSpec struct {
	Group   string `yaml:"group,omitempty"`
	Version string `yaml:"version,omitempty"`
	Kind    string `yaml:"kind"`
	Name    string `yaml:"name,omitempty"`
	// Path is slash-separated; "x[]" walks every element of the list x.
	Path string `yaml:"path"`
	// Type is string (default: "repo:tag" strings) or object ({repository, tag, digest}).
	Type string `yaml:"type,omitempty"`
}

// PolicySpec are the validator checks.
type PolicySpec struct {
	// RequireDigests makes every image that is not deliberately skipped need a digest.
	RequireDigests bool `yaml:"requireDigests,omitempty"`
	// AllowedRegistries are prefixes every image must match (empty: any).
	AllowedRegistries []string `yaml:"allowedRegistries,omitempty"`
	// FailOnDrift makes a tag that moved away from its pin an error, not a warning.
	FailOnDrift bool `yaml:"failOnDrift,omitempty"`
}

type configDocument struct {
	APIVersion string         `yaml:"apiVersion"`
	Kind       string         `yaml:"kind"`
	Metadata   map[string]any `yaml:"metadata,omitempty"`
	Spec       Config         `yaml:"spec,omitempty"`
}

// Settings is a validated configuration.
type Settings struct {
	Mode           pin.Mode
	Platform       string
	DropTag        bool
	Concurrency    int
	Timeout        time.Duration
	Registry       registry.Options
	SkipPrefixes   []imageref.Prefix
	Selectors      []Selector
	FieldSpecs     []FieldSpec
	RequireDigests bool
	Allowed        []imageref.Prefix
	FailOnDrift    bool
}

// ParseConfig reads a functionConfig: PinImages (decoded strictly) or a
// ConfigMap whose data keys are the scalar settings. nil means defaults.
func ParseConfig(node *yaml.RNode) (Settings, error) {
	if node == nil || node.IsNilOrEmpty() {
		return Config{}.Validate()
	}
	meta, err := node.GetMeta()
	if err != nil {
		return Settings{}, fmt.Errorf("failed to read functionConfig: %w", err)
	}
	switch {
	case meta.APIVersion == ConfigAPIVersion && meta.Kind == ConfigKind:
		s, err := node.String()
		if err != nil {
			return Settings{}, err
		}
		cfg, err := DecodeConfig([]byte(s))
		if err != nil {
			return Settings{}, err
		}
		return cfg.Validate()
	case meta.APIVersion == "v1" && meta.Kind == "ConfigMap":
		cfg, err := configFromData(node.GetDataMap())
		if err != nil {
			return Settings{}, err
		}
		return cfg.Validate()
	}
	return Settings{}, fmt.Errorf("unsupported functionConfig %s %s: use kind %s (apiVersion %s) or a v1 ConfigMap",
		meta.APIVersion, meta.Kind, ConfigKind, ConfigAPIVersion)
}

var unknownFieldRE = regexp.MustCompile(`line (\d+): field (\S+) not found in type (\S+)`)

// DecodeConfig decodes a PinImages document strictly; an unknown field is
// named with its line and the fields accepted there.
func DecodeConfig(data []byte) (Config, error) {
	var doc configDocument
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		if m := unknownFieldRE.FindStringSubmatch(err.Error()); m != nil {
			return Config{}, fmt.Errorf("%s: unknown field %q (line %s): accepted fields are %s",
				ConfigKind, m[2], m[1], strings.Join(acceptedFields(m[3]), ", "))
		}
		return Config{}, fmt.Errorf("failed to decode %s: %w", ConfigKind, err)
	}
	return doc.Spec, nil
}

// acceptedFields lists the yaml names of the struct the decoder named.
func acceptedFields(typeName string) []string {
	for _, v := range []any{configDocument{}, Config{}, MirrorSpec{}, SkipSpec{}, Selector{}, FieldSpec{}, PolicySpec{}} {
		t := reflect.TypeOf(v)
		if t.String() != typeName && "pinimages."+t.Name() != typeName {
			continue
		}
		var names []string
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			names = append(names, name)
		}
		return names
	}
	return nil
}

// configMapKeys are the settings a ConfigMap may carry (for kpt fn eval -- k=v).
var configMapKeys = []string{"mode", "platform", "dropTag", "concurrency", "timeout", "caBundle",
	"insecureRegistries", "mirrors", "skipPrefixes", "requireDigests", "allowedRegistries", "failOnDrift"}

func configFromData(data map[string]string) (Config, error) {
	var cfg Config
	var unknown []string
	for k, v := range data {
		var err error
		switch k {
		case "mode":
			cfg.Mode = v
		case "platform":
			cfg.Platform = v
		case "dropTag":
			cfg.DropTag, err = parseBool(k, v)
		case "concurrency":
			cfg.Concurrency, err = strconv.Atoi(v)
			if err != nil {
				err = fmt.Errorf("ConfigMap data.concurrency: %q is not a whole number", v)
			}
		case "timeout":
			cfg.Timeout = v
		case "caBundle":
			cfg.CABundle = v
		case "insecureRegistries":
			cfg.InsecureRegistries = splitList(v)
		case "mirrors":
			for _, m := range splitList(v) {
				from, to, ok := strings.Cut(m, "=")
				if !ok {
					err = fmt.Errorf("ConfigMap data.mirrors: %q is not FROM=TO", m)
					break
				}
				cfg.Mirrors = append(cfg.Mirrors, MirrorSpec{From: from, To: to})
			}
		case "skipPrefixes":
			cfg.Skip.Prefixes = splitList(v)
		case "requireDigests":
			cfg.Policy.RequireDigests, err = parseBool(k, v)
		case "allowedRegistries":
			cfg.Policy.AllowedRegistries = splitList(v)
		case "failOnDrift":
			cfg.Policy.FailOnDrift, err = parseBool(k, v)
		default:
			unknown = append(unknown, k)
		}
		if err != nil {
			return Config{}, err
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Config{}, fmt.Errorf("ConfigMap functionConfig: unknown keys %s: accepted keys are %s",
			strings.Join(unknown, ", "), strings.Join(configMapKeys, ", "))
	}
	return cfg, nil
}

func parseBool(key, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("ConfigMap data.%s: %q is not true or false", key, v)
	}
	return b, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Validate checks every setting and reports all problems at once, each
// naming its field and the accepted values.
func (c Config) Validate() (Settings, error) {
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, "spec."+field+": "+fmt.Sprintf(format, args...))
	}
	s := Settings{Platform: c.Platform, DropTag: c.DropTag, Concurrency: c.Concurrency,
		RequireDigests: c.Policy.RequireDigests, FailOnDrift: c.Policy.FailOnDrift, Selectors: c.Skip.Selectors}
	var err error
	if s.Mode, err = pin.ParseMode(c.Mode); err != nil {
		bad("mode", "%v", err)
	}
	if c.Platform != "" && !platformRE.MatchString(c.Platform) {
		bad("platform", "%q is not os/arch[/variant], e.g. linux/arm64", c.Platform)
	}
	switch {
	case c.Concurrency == 0:
		s.Concurrency = pin.DefaultConcurrency
	case c.Concurrency < 1 || c.Concurrency > 64:
		bad("concurrency", "%d is out of range: accepted values are 1 to 64", c.Concurrency)
	}
	s.Timeout = pin.DefaultTimeout
	if c.Timeout != "" {
		if s.Timeout, err = time.ParseDuration(c.Timeout); err != nil || s.Timeout <= 0 {
			bad("timeout", "%q is not a positive duration such as 2m or 90s", c.Timeout)
		}
	}
	s.Registry.CABundle = []byte(c.CABundle)
	if c.CABundle != "" && !strings.Contains(c.CABundle, "-----BEGIN CERTIFICATE-----") {
		bad("caBundle", "holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	for i, h := range c.InsecureRegistries {
		if strings.ContainsAny(h, "/ ") || h == "" {
			bad(fmt.Sprintf("insecureRegistries[%d]", i), "%q is not a registry host[:port]", h)
		}
	}
	s.Registry.Insecure = c.InsecureRegistries
	for i, m := range c.Mirrors {
		if _, err := imageref.ParsePrefix(m.From); err != nil || m.To == "" {
			bad(fmt.Sprintf("mirrors[%d]", i), "want from: a registry or repository prefix, to: a registry[/path]")
			continue
		}
		s.Registry.Mirrors = append(s.Registry.Mirrors, registry.Mirror{From: m.From, To: m.To})
	}
	for i, p := range c.Skip.Prefixes {
		pp, err := imageref.ParsePrefix(p)
		if err != nil {
			bad(fmt.Sprintf("skip.prefixes[%d]", i), "%v", err)
			continue
		}
		s.SkipPrefixes = append(s.SkipPrefixes, pp)
	}
	for i, sel := range c.Skip.Selectors {
		if reflect.DeepEqual(sel, Selector{}) {
			bad(fmt.Sprintf("skip.selectors[%d]", i), "empty selector would skip everything: set group, version, kind, name, namespace or labels")
		}
	}
	for i, fs := range c.FieldSpecs {
		field := fmt.Sprintf("fieldSpecs[%d]", i)
		if fs.Kind == "" {
			bad(field+".kind", "required: the kind whose field holds an image")
		}
		if fs.Path == "" || strings.HasPrefix(fs.Path, "/") || strings.Contains(fs.Path, "//") {
			bad(field+".path", "%q is not a path such as spec/containers[]/image", fs.Path)
		}
		switch fs.Type {
		case "":
			fs.Type = "string"
		case "string", "object":
		default:
			bad(field+".type", "%q: accepted values are string, object", fs.Type)
		}
		s.FieldSpecs = append(s.FieldSpecs, fs)
	}
	for i, p := range c.Policy.AllowedRegistries {
		pp, err := imageref.ParsePrefix(p)
		if err != nil {
			bad(fmt.Sprintf("policy.allowedRegistries[%d]", i), "%v", err)
			continue
		}
		s.Allowed = append(s.Allowed, pp)
	}
	if len(errs) > 0 {
		return Settings{}, fmt.Errorf("invalid %s config:\n  %s", ConfigKind, strings.Join(errs, "\n  "))
	}
	return s, nil
}

var platformRE = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)
