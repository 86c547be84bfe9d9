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

// Package opconfig reads OperatorConfig, the operator's own settings, kept as
// key config.yaml of a ConfigMap that the kustomize base generates (and
// pin-images pins: the executor image is an image object whose digest it
// fills).
package opconfig

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

const (
	// APIVersion and Kind of the document in the ConfigMap.
	APIVersion = "config.ansible.cloud37.dev/v1alpha1"
	Kind       = "OperatorConfig"
	// Key is the ConfigMap data key holding the document.
	Key = "config.yaml"

	// DefaultRepository and DefaultTag are the executor image when none is configured.
	DefaultRepository = "kenchrcum/ansible-runner"
	DefaultTag        = "13"
)

// Config is OperatorConfig.
type Config struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// ExecutorDefaults apply to every run that does not set its own.
	ExecutorDefaults ExecutorDefaults `json:"executorDefaults,omitempty"`
	// RequirePinnedExecutor refuses runs whose executor image has no digest.
	RequirePinnedExecutor bool `json:"requirePinnedExecutor,omitempty"`
	// ScheduleSalt spreads the random schedule macros per cluster.
	ScheduleSalt string `json:"scheduleSalt,omitempty"`
}

// ExecutorDefaults are the executor pod's defaults.
type ExecutorDefaults struct {
	Image              Image  `json:"image,omitempty"`
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	Cache              Cache  `json:"cache,omitempty"`
}

// Image is the {repository, tag, digest} object users bring from Helm values.
type Image struct {
	Repository string `json:"repository,omitempty"`
	// Tag may be written as a YAML integer (13); a float (0.10) is an error.
	Tag        Tag    `json:"tag,omitempty"`
	Digest     string `json:"digest,omitempty"`
	PullPolicy string `json:"pullPolicy,omitempty"`
}

// Cache is the executor's Ansible cache.
type Cache struct {
	// Strategy is none (default) or pvc.
	Strategy string `json:"strategy,omitempty"`
	// PVCName is the claim mounted at the Ansible cache directory.
	PVCName string `json:"pvcName,omitempty"`
}

// Tag accepts a string or an integer.
type Tag string

// UnmarshalJSON accepts "13" and 13, and rejects 0.10 with advice.
func (t *Tag) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	switch {
	case strings.HasPrefix(s, `"`):
		var v string
		if err := yaml.Unmarshal(b, &v); err != nil {
			return err
		}
		*t = Tag(v)
	case intRE.MatchString(s):
		*t = Tag(s)
	case s == "null":
		*t = ""
	default:
		return fmt.Errorf("tag %s is a number, not a string: quote the tag (tag: %q)", s, s)
	}
	return nil
}

var (
	intRE    = regexp.MustCompile(`^[0-9]+$`)
	digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

// Default is the configuration without a ConfigMap.
func Default() Config {
	return Config{APIVersion: APIVersion, Kind: Kind, ExecutorDefaults: ExecutorDefaults{
		Image: Image{Repository: DefaultRepository, Tag: DefaultTag, PullPolicy: "IfNotPresent"},
		Cache: Cache{Strategy: "none"},
	}}
}

// Parse reads config.yaml strictly and fills defaults. Errors name the field
// and what to write.
func Parse(data []byte) (Config, error) {
	c := Default()
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil
	}
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return Config{}, fmt.Errorf("invalid %s in ConfigMap key %s: %w", Kind, Key, err)
	}
	if c.APIVersion != APIVersion || c.Kind != Kind {
		return Config{}, fmt.Errorf("invalid %s in ConfigMap key %s: apiVersion %q kind %q, want %s %s", Kind, Key, c.APIVersion, c.Kind, APIVersion, Kind)
	}
	img := &c.ExecutorDefaults.Image
	if img.Repository == "" {
		img.Repository = DefaultRepository
	}
	if img.Tag == "" && img.Digest == "" {
		img.Tag = DefaultTag
	}
	if img.Digest != "" && !digestRE.MatchString(img.Digest) {
		return Config{}, fmt.Errorf("invalid %s: executorDefaults.image.digest %q: invalid digest format, want sha256: followed by 64 lower-case hex digits (or empty to use the tag)", Kind, img.Digest)
	}
	switch img.PullPolicy {
	case "", "Always", "IfNotPresent", "Never":
	default:
		return Config{}, fmt.Errorf("invalid %s: executorDefaults.image.pullPolicy %q: accepted values are Always, IfNotPresent, Never", Kind, img.PullPolicy)
	}
	switch c.ExecutorDefaults.Cache.Strategy {
	case "", "none":
		c.ExecutorDefaults.Cache.Strategy = "none"
	case "pvc":
		if c.ExecutorDefaults.Cache.PVCName == "" {
			return Config{}, fmt.Errorf("invalid %s: executorDefaults.cache.pvcName is required when strategy is pvc", Kind)
		}
	default:
		return Config{}, fmt.Errorf("invalid %s: executorDefaults.cache.strategy %q: accepted values are none, pvc", Kind, c.ExecutorDefaults.Cache.Strategy)
	}
	return c, nil
}

// Reference renders the image the consumer pulls: repository@digest when the
// digest is set (the digest wins over the tag), else repository:tag.
func (i Image) Reference() string {
	if i.Digest != "" {
		return i.Repository + "@" + i.Digest
	}
	return i.Repository + ":" + string(i.Tag)
}

// ExecutorImage picks a run's executor image: the Playbook's own
// runtime.image when set (its digest, if any, is its own), else the
// configured default. pinned reports whether the image names a digest.
func (c Config) ExecutorImage(runtimeImage string) (image string, pinned bool) {
	if runtimeImage != "" {
		return runtimeImage, strings.Contains(runtimeImage, "@sha256:")
	}
	img := c.ExecutorDefaults.Image
	return img.Reference(), img.Digest != ""
}
