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
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pin"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/yamlsrc"
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
	// VerifyContent GETs and hashes every manifest instead of trusting a
	// HEAD's digest, for registries and caches you do not trust.
	VerifyContent bool `yaml:"verifyContent,omitempty"`
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
	// Results is summary (default: fields that stay as they are or are
	// pinned from the lock share one result per image and verdict) or
	// fields (one result per field).
	Results string `yaml:"results,omitempty"`
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

// FieldSpec declares an image field of some kind, in kustomize's fieldSpec
// syntax: a kustomize configurations entry or a kpt set-image
// additionalImageFields entry works as written.
type FieldSpec struct {
	Group   string `yaml:"group,omitempty"`
	Version string `yaml:"version,omitempty"`
	// Kind is the kind whose field holds an image ("": every kind).
	Kind string `yaml:"kind,omitempty"`
	Name string `yaml:"name,omitempty"`
	// Path is slash-separated; every list on it is walked ("x[]" or "x").
	Path string `yaml:"path"`
	// Type is string (default: "repo:tag" strings), object ({repository,
	// tag, digest}) or embedded (a string holding YAML documents).
	Type string `yaml:"type,omitempty"`
	// Create is accepted and ignored: pin-images pins fields that exist.
	Create bool `yaml:"create,omitempty"`
	// origin names the declaration in messages (fieldSpecs[2], or a
	// configurations file's entry).
	origin string
}

// PolicySpec are the validator checks.
type PolicySpec struct {
	// RequireDigests makes every image that is not deliberately skipped need a digest.
	RequireDigests bool `yaml:"requireDigests,omitempty"`
	// AllowedRegistries are prefixes every image must match (empty: any).
	AllowedRegistries []string `yaml:"allowedRegistries,omitempty"`
	// FailOnDrift makes a tag that moved away from its pin an error, not a warning.
	FailOnDrift bool `yaml:"failOnDrift,omitempty"`
	// Signatures are the keys trusted to sign the digests pinned under
	// their prefixes (signatures.go).
	Signatures []SignatureSpec `yaml:"signatures,omitempty"`
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
	// Signatures is policy.signatures (nil: none, and no signature is
	// looked up).
	Signatures *pin.SignaturePolicy
	// Results is ResultsSummary or ResultsFields.
	Results string
}

// ParseConfig reads a functionConfig: PinImages (decoded strictly) or a
// ConfigMap whose data keys are the scalar settings. nil means defaults.
// Lines in errors are counted from the functionConfig's first line: its
// place in the ResourceList is the orchestrator's, not the user's.
func ParseConfig(node *yaml.RNode) (Settings, error) {
	if node == nil || node.IsNilOrEmpty() {
		return Config{}.Validate()
	}
	cfg, err := decodeConfig(node.YNode(), lines{base: node.YNode().Line - 1, of: " of the functionConfig"})
	if err != nil {
		return Settings{}, err
	}
	return cfg.Validate()
}

// DecodeConfig reads a config file (--config): one PinImages or ConfigMap
// document, the same a functionConfig may be. Lines in errors are the file's.
func DecodeConfig(src []byte) (Config, error) {
	docs, err := yamlsrc.Decode(src)
	if err != nil {
		return Config{}, fmt.Errorf("failed to read %s: %w", ConfigKind, err)
	}
	var found *yaml.Node
	for _, d := range docs {
		if len(d.Content) == 0 || d.Content[0].Tag == "!!null" {
			continue
		}
		if found != nil {
			return Config{}, fmt.Errorf("%s documents at lines %d and %d: a config file holds one %s (or ConfigMap)", "two", found.Line, d.Content[0].Line, ConfigKind)
		}
		found = d.Content[0]
	}
	if found == nil {
		return Config{}, fmt.Errorf("no %s document: the file is empty", ConfigKind)
	}
	return decodeConfig(found, lines{})
}

// lines turns node lines into the lines a config's author sees.
type lines struct {
	base int    // subtracted from node lines
	of   string // what the lines count in, e.g. " of the functionConfig"
}

func (l lines) at(n *yaml.Node) string { return fmt.Sprintf("line %d%s", n.Line-l.base, l.of) }

// decodeConfig dispatches on the document's kind and decodes it strictly.
func decodeConfig(n *yaml.Node, l lines) (Config, error) {
	if n.Kind != yaml.MappingNode {
		return Config{}, fmt.Errorf("the config is %s, not a %s or ConfigMap object (%s)", describeKind(n), ConfigKind, l.at(n))
	}
	if dups := yamlsrc.DuplicateKeys(n); len(dups) > 0 {
		return Config{}, fmt.Errorf("invalid %s config: %w", ConfigKind, dups[0])
	}
	rn := yaml.NewRNode(n)
	apiVersion, kind := rn.GetApiVersion(), rn.GetKind()
	switch {
	case apiVersion == ConfigAPIVersion && kind == ConfigKind:
		var errs []string
		checkShape(n, reflect.TypeOf(configDocument{}), "", l, &errs)
		if len(errs) > 0 {
			return Config{}, fmt.Errorf("invalid %s config:\n  %s", ConfigKind, strings.Join(errs, "\n  "))
		}
		var doc configDocument
		if err := n.Decode(&doc); err != nil {
			return Config{}, fmt.Errorf("failed to decode %s: %w", ConfigKind, err)
		}
		return doc.Spec, nil
	case apiVersion == "v1" && kind == "ConfigMap":
		cfg, errs := configFromData(rn.GetDataMap())
		if _, verrs := cfg.validate("data."); len(errs)+len(verrs) > 0 {
			return Config{}, fmt.Errorf("invalid ConfigMap functionConfig:\n  %s", strings.Join(append(errs, verrs...), "\n  "))
		}
		return cfg, nil
	}
	return Config{}, fmt.Errorf("kind %s (apiVersion %s) is not a pin-images config: want kind %s (apiVersion %s) or a v1 ConfigMap",
		orNone(kind), orNone(apiVersion), ConfigKind, ConfigAPIVersion)
}

func orNone(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

func describeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the scalar %q", n.Value)
	}
	return "not a mapping"
}

// checkShape checks a config node against the Go type it decodes into,
// collecting every problem with its field path and line: an unknown field
// (named with the fields accepted there), and a value of the wrong YAML
// type. yaml.v3 alone would stop at the first problem, count lines of a
// re-encoded text, and read "concurrency: 8.5" as 8.
func checkShape(n *yaml.Node, t reflect.Type, path string, l lines, errs *[]string) {
	n = deref(n)
	if n == nil || n.ShortTag() == "!!null" {
		return
	}
	bad := func(format string, args ...any) {
		*errs = append(*errs, fmt.Sprintf("%s: %s (%s)", strings.TrimPrefix(path, "."), fmt.Sprintf(format, args...), l.at(n)))
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			bad("want a mapping, got %s", describeKind(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fieldByYAMLName(t, k.Value)
			if !ok {
				*errs = append(*errs, fmt.Sprintf("unknown field %q (%s): accepted fields are %s",
					strings.TrimPrefix(path+"."+k.Value, "."), l.at(k), strings.Join(acceptedFields(t), ", ")))
				continue
			}
			checkShape(v, f.Type, path+"."+k.Value, l, errs)
		}
	case reflect.Pointer:
		checkShape(n, t.Elem(), path, l, errs)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			bad("want a list, got %s", describeKind(n))
			return
		}
		for i, c := range n.Content {
			checkShape(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), l, errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			bad("want a mapping, got %s", describeKind(n))
			return
		}
		if t.Elem().Kind() == reflect.String {
			for i := 1; i < len(n.Content); i += 2 {
				checkShape(n.Content[i], t.Elem(), path+"."+n.Content[i-1].Value, l, errs)
			}
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			bad("%s is not a whole number", n.Value)
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			bad("%s is not true or false", n.Value)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			bad("want a string, got %s", describeKind(n))
		}
	}
}

// fieldByYAMLName finds the struct field a YAML key decodes into.
func fieldByYAMLName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); f.IsExported() && tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// acceptedFields lists the yaml names of a struct's fields.
func acceptedFields(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if !t.Field(i).IsExported() {
			continue
		}
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		names = append(names, name)
	}
	return names
}

// configMapKeys are the settings a ConfigMap may carry (for kpt fn eval -- k=v).
var configMapKeys = []string{"mode", "platform", "dropTag", "verifyContent", "concurrency", "timeout", "caBundle",
	"insecureRegistries", "mirrors", "skipPrefixes", "requireDigests", "allowedRegistries", "failOnDrift", "signatures", "results"}

// configFromData reads a ConfigMap's settings, and every problem with them.
func configFromData(data map[string]string) (Config, []string) {
	var cfg Config
	var errs, unknown []string
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := data[k]
		var err error
		switch k {
		case "mode":
			cfg.Mode = v
		case "platform":
			cfg.Platform = v
		case "dropTag":
			cfg.DropTag, err = parseBool(k, v)
		case "verifyContent":
			cfg.VerifyContent, err = parseBool(k, v)
		case "concurrency":
			cfg.Concurrency, err = strconv.Atoi(v)
			if err != nil {
				err = fmt.Errorf("data.concurrency: %q is not a whole number", v)
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
					var patternsOnly *redact.Secrets
					err = fmt.Errorf("data.mirrors: %q is not FROM=TO", patternsOnly.Text(m))
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
		case "signatures":
			var serrs []string
			cfg.Policy.Signatures, serrs = signaturesFromData(v)
			errs = append(errs, serrs...)
		case "results":
			cfg.Results = v
		default:
			unknown = append(unknown, k)
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(unknown) > 0 {
		errs = append(errs, fmt.Sprintf("unknown keys %s: accepted keys are %s", strings.Join(unknown, ", "), strings.Join(configMapKeys, ", ")))
	}
	return cfg, errs
}

func parseBool(key, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("data.%s: %q is not true or false", key, v)
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
	s, errs := c.validate("spec.")
	if len(errs) > 0 {
		return Settings{}, fmt.Errorf("invalid %s config:\n  %s", ConfigKind, strings.Join(errs, "\n  "))
	}
	return s, nil
}

// validate checks every setting, naming fields under prefix ("spec." for
// PinImages, "data." for a ConfigMap).
func (c Config) validate(prefix string) (Settings, []string) {
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, prefix+field+": "+fmt.Sprintf(format, args...))
	}
	s := Settings{Platform: c.Platform, DropTag: c.DropTag, Concurrency: c.Concurrency,
		RequireDigests: c.Policy.RequireDigests, FailOnDrift: c.Policy.FailOnDrift, Selectors: c.Skip.Selectors}
	var err error
	if s.Mode, err = pin.ParseMode(c.Mode); err != nil {
		bad("mode", "%v", err)
	}
	switch s.Results = c.Results; s.Results {
	case "":
		s.Results = ResultsSummary
	case ResultsSummary, ResultsFields:
	default:
		bad("results", "%q is not summary or fields", c.Results)
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
	s.Registry.VerifyContent = c.VerifyContent
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
		field := fmt.Sprintf("mirrors[%d]", i)
		_, ferr := imageref.ParsePrefix(m.From)
		if ferr != nil {
			bad(field+".from", "want a registry or repository prefix such as docker.io: %v", ferr)
		}
		_, terr := registry.MirrorTarget(m.To)
		if terr != nil {
			bad(field+".to", "%v", terr)
		}
		if ferr == nil && terr == nil {
			s.Registry.Mirrors = append(s.Registry.Mirrors, registry.Mirror{From: m.From, To: m.To})
		}
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
		fs, ferrs := validateFieldSpec(fs, fmt.Sprintf("%sfieldSpecs[%d]", prefix, i))
		errs = append(errs, ferrs...)
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
	var serrs []string
	s.Signatures, serrs = validateSignatures(c.Policy.Signatures, prefix)
	errs = append(errs, serrs...)
	return s, errs
}

// validateFieldSpec checks a fieldSpec named name and fills its defaults.
func validateFieldSpec(fs FieldSpec, name string) (FieldSpec, []string) {
	var errs []string
	segs := splitSpecPath(fs.Path)
	for _, seg := range segs {
		if seg == "" {
			errs = append(errs, fmt.Sprintf("%s.path: %q is not a path such as spec/containers[]/image", name, fs.Path))
			break
		}
	}
	switch fs.Type {
	case "":
		fs.Type = "string"
	case "string", "object", "embedded":
	default:
		errs = append(errs, fmt.Sprintf("%s.type: %q: accepted values are string, object, embedded", name, fs.Type))
	}
	fs.origin = name
	return fs, errs
}

var platformRE = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)
