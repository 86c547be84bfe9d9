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

package controller

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// The envtest API server, started once for the package (STYLE 37).
var (
	testEnv    *envtest.Environment
	restConfig *rest.Config
	k8sClient  client.Client
	scheme     = runtime.NewScheme()
	nsCounter  atomic.Int64
)

func TestMain(m *testing.M) {
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := ansiblev1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	testenv.Main(m, startEnv, func() error { return testEnv.Stop() })
}

func startEnv() error {
	var err error
	if testEnv, err = testenv.New(); err != nil {
		return err
	}
	// On in OpenShift and in hardened clusters: an owner reference with
	// blockOwnerDeletion needs update on the owner's finalizers
	// (TestRBAC_ownerReferencesPermissionEnforcement).
	testEnv.ControlPlane.GetAPIServer().Configure().Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
	if restConfig, err = testEnv.Start(); err != nil {
		return fmt.Errorf("failed to start envtest: %w", err)
	}
	k8sClient, err = client.New(restConfig, client.Options{Scheme: scheme})
	return err
}

// requireEnv skips API-server tests under -short.
func requireEnv(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("envtest: skipped with -short")
	}
}

var nonDNS = regexp.MustCompile(`[^a-z0-9]+`)

// newNamespace creates a namespace of the test's own.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%s", nsCounter.Add(1), nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-"))
	if len(name) > 60 {
		name = name[:60]
	}
	name = strings.TrimRight(name, "-")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return name
}
