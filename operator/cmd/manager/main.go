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

// Command manager runs the Ansible Playbook Operator.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	// The image is FROM scratch, without /usr/share/zoneinfo: a Schedule's
	// spec.timeZone is resolved from the zone database built into the
	// binary (about 450 KB).
	_ "time/tzdata"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/controller"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
)

// What the manager needs in its own namespace only (a Role, bound there
// also when it watches the whole cluster): the leader election Lease and
// the core Events leader election records, and the OperatorConfig ConfigMap
// it caches. The controllers' RBAC markers sit beside them.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete,namespace=ansible-playbook-operator
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch,namespace=ansible-playbook-operator
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch,namespace=ansible-playbook-operator

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "manager: %v\n", err)
		os.Exit(1)
	}
}

type namespaces []string

func (n *namespaces) String() string { return strings.Join(*n, ",") }
func (n *namespaces) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*n = append(*n, s)
		}
	}
	return nil
}

func run() error {
	var (
		metricsAddr, probeAddr string
		leaderElect            bool
		leaderElectionID       string
		watch                  namespaces
		configMap              string
		operatorImage          string
		workers                int
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint (0 disables it)")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	flag.BoolVar(&leaderElect, "leader-elect", true, "elect a leader so that only one replica reconciles")
	flag.StringVar(&leaderElectionID, "leader-election-id", "ansible-playbook-operator.ansible.cloud37.dev", "name of the leader election Lease")
	flag.Var(&watch, "namespace", "namespace to watch (repeatable or comma-separated); none watches the whole cluster")
	flag.StringVar(&configMap, "config-map", "ansible-playbook-operator-config", "name of the OperatorConfig ConfigMap (key config.yaml) in the operator's namespace (POD_NAMESPACE)")
	flag.StringVar(&operatorImage, "operator-image", "", "the operator's own image for the runs' init container; default: read from this Pod (POD_NAMESPACE, POD_NAME), so it is pinned exactly as the operator is")
	flag.IntVar(&workers, "max-concurrent-reconciles", controller.DefaultMaxConcurrentReconciles, "workers per controller: a git host that does not answer holds one of the Repository or Playbook workers for up to a minute")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := ansiblev1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	podNamespace := os.Getenv("POD_NAMESPACE")
	if podNamespace == "" {
		podNamespace = "default"
	}
	env := controller.Environment{ConfigMap: types.NamespacedName{Namespace: podNamespace, Name: configMap}}
	managed := labels.SelectorFromSet(labels.Set{jobs.ManagedByLabel: jobs.ManagedByValue})
	cacheOpts := cache.Options{ByObject: map[client.Object]cache.ByObject{
		// Only the operator's own Jobs and their Pods are cached.
		&batchv1.Job{}: {Label: managed},
		&corev1.Pod{}:  {Label: managed},
		// Only the OperatorConfig ConfigMap is cached; Secrets never are.
		&corev1.ConfigMap{}: {
			Field:      fields.OneTermEqualSelector("metadata.name", configMap),
			Namespaces: map[string]cache.Config{podNamespace: {}},
		},
	}}
	if len(watch) > 0 {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range watch {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Cache:                  cacheOpts,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       leaderElectionID,
		// Out of a cluster there is no service account namespace to take the
		// Lease's namespace from; POD_NAMESPACE names it (empty: in-cluster
		// detection, as before).
		LeaderElectionNamespace: os.Getenv("POD_NAMESPACE"),
		// The Lease is released on shutdown so a standby takes over at once.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("failed to create manager: %w", err)
	}
	if operatorImage == "" {
		if operatorImage, err = ownImage(mgr.GetAPIReader(), podNamespace, os.Getenv("POD_NAME")); err != nil {
			return err
		}
	}
	env.OperatorImage = operatorImage
	recorder := mgr.GetEventRecorder("ansible-playbook-operator")
	if err := (&controller.PlaybookReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder, Env: env,
		CheckPaths: git.CheckPaths, MaxConcurrentReconciles: workers,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the Playbook controller: %w", err)
	}
	if err := (&controller.ScheduleReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder, Env: env,
		MaxConcurrentReconciles: workers,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the Schedule controller: %w", err)
	}
	if err := (&controller.RepositoryReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Recorder:                recorder,
		MaxConcurrentReconciles: workers,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the Repository controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("Starting manager", "namespaces", watch.String(), "leaderElection", leaderElect)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// ownImage reads the manager container's image from this Pod, before the
// cache starts (an API reader call).
func ownImage(reader client.Reader, namespace, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("POD_NAME is not set: set it from the downward API, or pass --operator-image")
	}
	pod := &corev1.Pod{}
	if err := reader.Get(context.Background(), types.NamespacedName{Namespace: namespace, Name: name}, pod); err != nil {
		return "", fmt.Errorf("failed to read this Pod %s/%s for its image (or pass --operator-image): %w", namespace, name, err)
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == "manager" {
			return c.Image, nil
		}
	}
	return "", fmt.Errorf("pod %s/%s has no container named manager", namespace, name)
}
