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
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/yamlsrc"
)

// configurationSpecs reads the image fieldSpecs of the files the
// kustomizations among resources name in configurations: (kustomize's
// transformer configs: their images: list is a list of fieldSpecs). A file
// is looked for among the resources first (kpt passes the package's KRM
// files), then read with read; one that cannot be found is a warning, since
// the images it declares would go unpinned. The fieldSpecs apply to every
// resource of the run, as kustomize applies them to everything the
// kustomization renders.
func configurationSpecs(resources []*Resource, read func(string) ([]byte, error)) ([]FieldSpec, framework.Results) {
	byFile := map[string]*Resource{}
	for _, r := range resources {
		if f := fileOf(r); f != "" {
			byFile[path.Clean(f)] = r
		}
	}
	var specs []FieldSpec
	var results framework.Results
	done := map[string]bool{}
	for _, r := range resources {
		if !isKustomization(r) {
			continue
		}
		_, list := field(r.Node.YNode(), "configurations")
		if list = deref(list); list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		dir := path.Dir(fileOf(r))
		for i, entry := range list.Content {
			fail := func(sev framework.Severity, format string, args ...any) {
				res := result(r, nil, sev, fmt.Sprintf(format, args...), nil, nil)
				res.Field = &framework.Field{Path: fmt.Sprintf("configurations[%d]", i), CurrentValue: entry.Value}
				results = append(results, res)
			}
			name := path.Clean(path.Join(dir, entry.Value))
			switch {
			case entry.Kind != yaml.ScalarNode || entry.Value == "":
				fail(framework.Error, "want the path of a kustomize configurations file")
				continue
			case path.IsAbs(entry.Value) || name == ".." || strings.HasPrefix(name, "../") || dir != "." && !strings.HasPrefix(name, dir+"/"):
				fail(framework.Error, "%s is outside the kustomization's directory, which kustomize refuses too: move the file next to the kustomization", entry.Value)
				continue
			case done[name]:
				continue
			}
			done[name] = true
			doc, err := configurationDocument(name, byFile[name], read)
			if errors.Is(err, fs.ErrNotExist) {
				fail(framework.Warning, "configurations file %s is not in the input and cannot be read: the image fieldSpecs it declares are not used — run pin-images where the file is (kpt fn eval --exec from the package directory, or the CLI), or declare them in fieldSpecs", name)
				continue
			}
			if err == nil {
				var found []FieldSpec
				found, err = decodeConfigurationImages(doc, name)
				specs = append(specs, found...)
			}
			if err != nil {
				fail(framework.Error, "%v", err)
			}
		}
	}
	return specs, results
}

// configurationDocument is the configurations file's YAML: the resource it
// was passed as, or the file read (nil read: not readable).
func configurationDocument(name string, res *Resource, read func(string) ([]byte, error)) (*yaml.Node, error) {
	if res != nil {
		return res.Node.YNode(), nil
	}
	if read == nil {
		return nil, fs.ErrNotExist
	}
	b, err := read(name)
	if err != nil {
		return nil, err
	}
	docs, err := yamlsrc.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("failed to read configurations file %q: %w", name, err)
	}
	for _, d := range docs {
		if len(d.Content) > 0 && d.Content[0].ShortTag() != "!!null" {
			return d.Content[0], nil
		}
	}
	return nil, nil
}

// decodeConfigurationImages decodes the images: fieldSpecs of a kustomize
// transformer config, strictly (its other keys are kustomize's own).
func decodeConfigurationImages(doc *yaml.Node, name string) ([]FieldSpec, error) {
	if doc == nil {
		return nil, nil
	}
	if doc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("failed to read configurations file %q: it is %s, not a kustomize transformer config", name, describeKind(doc))
	}
	_, images := field(doc, "images")
	if images == nil || images.ShortTag() == "!!null" {
		return nil, nil
	}
	var errs []string
	checkShape(images, reflect.TypeOf([]FieldSpec{}), "images", lines{}, &errs)
	if len(errs) == 0 {
		var specs []FieldSpec
		if err := images.Decode(&specs); err != nil {
			return nil, fmt.Errorf("failed to decode configurations file %q: %w", name, err)
		}
		var out []FieldSpec
		for i, fs := range specs {
			fs, ferrs := validateFieldSpec(fs, fmt.Sprintf("%s images[%d]", name, i))
			errs = append(errs, ferrs...)
			out = append(out, fs)
		}
		if len(errs) == 0 {
			return out, nil
		}
	}
	return nil, fmt.Errorf("invalid configurations file %q:\n  %s", name, strings.Join(errs, "\n  "))
}

// createIgnored is one info result naming the fieldSpecs that say create:
// kustomize creates such fields when missing; an image field that does not
// exist has nothing to pin.
func createIgnored(specs []FieldSpec) *framework.Result {
	var names []string
	for i, fs := range specs {
		if fs.Create {
			names = append(names, specName(fs, i))
		}
	}
	if len(names) == 0 {
		return nil
	}
	return &framework.Result{Severity: framework.Info,
		Message: "create: true is ignored (" + strings.Join(names, ", ") + "): pin-images pins image fields that exist, it never creates one"}
}
