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
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// crdDir holds the CRDs that controller-gen generates (make manifests).
var crdDir = filepath.Join("..", "..", "..", "kustomize", "operator", "crd", "bases")

// k8sClient talks to the envtest API server; nil under -short.
var k8sClient client.Client

func TestMain(m *testing.M) {
	var env *envtest.Environment
	testenv.Main(m, func() (err error) { env, err = startEnv(); return err }, func() error { return env.Stop() })
}

// startEnv starts kube-apiserver and etcd with our CRDs and sets k8sClient.
func startEnv() (*envtest.Environment, error) {
	env, err := testenv.New()
	if err != nil {
		return nil, err
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("failed to start envtest: %w", err)
	}
	scheme, err := testenv.Scheme()
	if err != nil {
		return nil, err
	}
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop() // the client error is the one to report
		return nil, fmt.Errorf("failed to create client: %w", err)
	}
	return env, nil
}

// newNamespace skips the test under -short, else creates a namespace of its own for it.
func newNamespace(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the envtest API server; skipped under -short")
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("failed to create namespace: %v", err)
	}
	return ns.Name
}

// causes returns "field: message" for each cause of an Invalid error, sorted.
// The "Invalid value: <value>: " prefix is cut, so a CEL rule's message is
// compared exactly.
func causes(t *testing.T, err error) []string {
	t.Helper()
	var status apierrors.APIStatus
	if !errors.As(err, &status) || !apierrors.IsInvalid(err) || status.Status().Details == nil {
		t.Fatalf("want an Invalid API error with causes, got %v", err)
	}
	var out []string
	for _, c := range status.Status().Details.Causes {
		out = append(out, c.Field+": "+cutInvalidValue(c.Message))
	}
	slices.Sort(out)
	return out
}

// cutInvalidValue turns `Invalid value: "x": msg` and `Invalid value: 5: msg`
// into msg; object-level CEL errors read `Invalid value: msg` and become msg.
func cutInvalidValue(msg string) string {
	rest, ok := strings.CutPrefix(msg, "Invalid value: ")
	if !ok {
		return msg
	}
	if q, err := strconv.QuotedPrefix(rest); err == nil {
		if after, ok := strings.CutPrefix(rest[len(q):], ": "); ok {
			return after
		}
	}
	if value, after, ok := strings.Cut(rest, ": "); ok {
		if _, err := strconv.ParseFloat(value, 64); err == nil {
			return after
		}
	}
	return rest
}

// validationCase is one object to create: mutate turns a valid object into the
// case; want lists the "field: message" of every expected cause, nil when the
// object must be accepted.
type validationCase[T client.Object] struct {
	mutate func(T)
	want   []string
}

// runValidation creates one object per case, in a namespace of its own, with
// strict field validation as kubectl uses it, and checks that the API server
// accepts it or rejects it with exactly the wanted causes.
func runValidation[T client.Object](t *testing.T, valid func() T, tests map[string]validationCase[T]) {
	t.Helper()
	ns := newNamespace(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obj := valid()
			obj.SetGenerateName("case-")
			obj.SetNamespace(ns)
			if tc.mutate != nil {
				tc.mutate(obj)
			}
			err := k8sClient.Create(context.Background(), obj, client.FieldValidation("Strict"))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want rejected with %q, got accepted", tc.want)
			}
			want := slices.Sorted(slices.Values(tc.want))
			if diff := cmp.Diff(want, causes(t, err)); diff != "" {
				t.Errorf("causes (-want +got):\n%s", diff)
			}
		})
	}
}
