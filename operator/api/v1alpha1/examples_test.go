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

package v1alpha1_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
)

// readObjects reads the YAML documents of a testdata file.
func readObjects(t *testing.T, name string) []*unstructured.Unstructured {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("failed to read %s: %v", name, err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatalf("failed to parse %s: %v", name, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// normalize gives numbers one representation (JSON float64) on both sides of a
// comparison.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

var exampleFiles = []string{"repository.yaml", "playbook.yaml", "schedule.yaml"}

// TestExamplesRoundTrip creates the full example of every kind, writes its
// status, and expects spec and status back exactly as sent: nothing pruned,
// nothing defaulted on top.
func TestExamplesRoundTrip(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	for _, file := range exampleFiles {
		for _, want := range readObjects(t, file) {
			t.Run(file+"/"+want.GetName(), func(t *testing.T) {
				obj := want.DeepCopy()
				obj.SetNamespace(ns)
				if err := k8sClient.Create(ctx, obj, client.FieldValidation("Strict")); err != nil {
					t.Fatalf("failed to create: %v", err)
				}
				if status, ok := want.Object["status"]; ok {
					obj.Object["status"] = status
					if err := k8sClient.Status().Update(ctx, obj, client.FieldValidation("Strict")); err != nil {
						t.Fatalf("failed to update status: %v", err)
					}
				}
				got := &unstructured.Unstructured{}
				got.SetGroupVersionKind(want.GroupVersionKind())
				if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), got); err != nil {
					t.Fatalf("failed to get: %v", err)
				}
				wantStatus, ok := want.Object["status"]
				if !ok {
					wantStatus = map[string]any{"observedGeneration": -1}
				}
				for field, wantValue := range map[string]any{"spec": want.Object["spec"], "status": wantStatus} {
					if diff := cmp.Diff(normalize(t, wantValue), normalize(t, got.Object[field])); diff != "" {
						t.Errorf("%s read back differs from what was sent (-sent +read):\n%s", field, diff)
					}
				}
			})
		}
	}
}

// TestExamplesDecodeStrictly checks that the examples use only fields the Go
// types know, so the reconcilers see every field the API server stores.
func TestExamplesDecodeStrictly(t *testing.T) {
	for _, file := range exampleFiles {
		for _, u := range readObjects(t, file) {
			t.Run(file+"/"+u.GetName(), func(t *testing.T) {
				b, err := json.Marshal(u.Object)
				if err != nil {
					t.Fatal(err)
				}
				var obj any
				switch u.GetKind() {
				case "Repository":
					obj = &ansiblev1alpha1.Repository{}
				case "Playbook":
					obj = &ansiblev1alpha1.Playbook{}
				case "Schedule":
					obj = &ansiblev1alpha1.Schedule{}
				default:
					t.Fatalf("unexpected kind %q", u.GetKind())
				}
				if err := yaml.UnmarshalStrict(b, obj); err != nil {
					t.Errorf("example does not decode strictly into the Go type: %v", err)
				}
			})
		}
	}
}

// TestExamplesCoverEveryField walks the generated CRD schemas and expects
// every spec and status field to be set by some example of that kind. Fields
// of embedded Kubernetes types (volumes, affinity, …) are checked only at
// their top.
func TestExamplesCoverEveryField(t *testing.T) {
	// notExpected are schema fields no valid object sets: they exist only to
	// reject the Python operator's flat fileMounts shape with a message.
	notExpected := []string{"spec.secrets.fileMounts[].key", "spec.secrets.fileMounts[].path", "spec.secrets.fileMounts[].secretRef.key"}
	// opaque are fields whose schema comes from core/v1 types.
	opaque := []string{
		"spec.runtime.tolerations", "spec.runtime.affinity", "spec.runtime.securityContext",
		"spec.runtime.podSecurityContext", "spec.runtime.volumes", "spec.runtime.volumeMounts",
	}
	for _, file := range exampleFiles {
		t.Run(file, func(t *testing.T) {
			objs := readObjects(t, file)
			crd := readCRD(t, objs[0].GetKind())
			set := map[string]bool{}
			for _, o := range objs {
				for _, field := range []string{"spec", "status"} {
					valuePaths(o.Object[field], field, set)
				}
			}
			schema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
			for _, field := range []string{"spec", "status"} {
				for _, p := range schemaPaths(schema.Properties[field], field, opaque) {
					if !set[p] && !slices.Contains(notExpected, p) {
						t.Errorf("no example of %s sets %s", objs[0].GetKind(), p)
					}
				}
			}
		})
	}
}

func readCRD(t *testing.T, kind string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	plural := map[string]string{"Repository": "repositories", "Playbook": "playbooks", "Schedule": "schedules"}[kind]
	b, err := os.ReadFile(filepath.Join(crdDir, "ansible.cloud37.dev_"+plural+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(b, crd); err != nil {
		t.Fatal(err)
	}
	return crd
}

// schemaPaths lists the field paths of a schema ("spec.a.b", "spec.list[].c"),
// not descending into opaque paths, maps or free-form objects.
func schemaPaths(s apiextensionsv1.JSONSchemaProps, path string, opaque []string) []string {
	var out []string
	for name, prop := range s.Properties {
		p := path + "." + name
		out = append(out, p)
		if slices.Contains(opaque, p) {
			continue
		}
		if prop.Items != nil && prop.Items.Schema != nil {
			out = append(out, schemaPaths(*prop.Items.Schema, p+"[]", opaque)...)
		}
		out = append(out, schemaPaths(prop, p, opaque)...)
	}
	return out
}

// valuePaths records the field paths that v sets, in the notation of
// schemaPaths.
func valuePaths(v any, path string, set map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			set[path+"."+k] = true
			valuePaths(child, path+"."+k, set)
		}
	case []any:
		for _, child := range v {
			valuePaths(child, path+"[]", set)
		}
	}
}

// TestPythonOperatorShapes applies manifests in the shapes that the Python
// operator's examples use: all accepted, except the flat fileMounts item,
// which is rejected with a message showing the supported shape.
func TestPythonOperatorShapes(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	for _, u := range readObjects(t, "python-operator-shapes.yaml") {
		t.Run(u.GetKind()+" "+u.GetName()+" is accepted", func(t *testing.T) {
			u.SetNamespace(ns)
			if err := k8sClient.Create(ctx, u, client.FieldValidation("Strict")); err != nil {
				t.Fatalf("want accepted, got %v", err)
			}
		})
	}
	t.Run("flat fileMounts item is rejected with the supported shape", func(t *testing.T) {
		u := readObjects(t, "python-operator-flat-filemounts.yaml")[0]
		u.SetNamespace(ns)
		err := k8sClient.Create(ctx, u, client.FieldValidation("Strict"))
		if err == nil {
			t.Fatal("want rejected, got accepted")
		}
		want := []string{"spec.secrets.fileMounts[0]: " + msgFlatFileMount}
		if diff := cmp.Diff(want, causes(t, err)); diff != "" {
			t.Errorf("causes (-want +got):\n%s", diff)
		}
	})
}

// TestStatusDefaults checks that a new object reads back with
// status.observedGeneration -1, so kstatus sees it as not yet observed.
func TestStatusDefaults(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	tests := map[string]client.Object{
		"new Repository has observedGeneration -1": validRepository(),
		"new Playbook has observedGeneration -1":   validPlaybook(),
		"new Schedule has observedGeneration -1":   validSchedule(),
	}
	for name, obj := range tests {
		t.Run(name, func(t *testing.T) {
			obj.SetNamespace(ns)
			obj.SetGenerateName("defaults-")
			if err := k8sClient.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
			read := obj.DeepCopyObject().(client.Object)
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), read); err != nil {
				t.Fatal(err)
			}
			var got int64
			switch o := read.(type) {
			case *ansiblev1alpha1.Repository:
				got = o.Status.ObservedGeneration
			case *ansiblev1alpha1.Playbook:
				got = o.Status.ObservedGeneration
			case *ansiblev1alpha1.Schedule:
				got = o.Status.ObservedGeneration
			}
			if got != -1 {
				t.Errorf("status.observedGeneration = %d, want -1", got)
			}
		})
	}
}
