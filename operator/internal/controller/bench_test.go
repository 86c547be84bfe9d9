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
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dto "github.com/prometheus/client_model/go"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/metrics"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/opconfig"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/schedule"
)

// BenchmarkOperatorScale (`make bench-operator`) creates N Repositories, a
// Playbook on each and a Schedule on each Playbook (N = BENCH_OPERATOR_N,
// default 1,000) on envtest against a real git daemon, runs the operator
// with W workers per controller (BENCH_OPERATOR_WORKERS, default 4), and
// reports the time until all are Ready and the API writes per object; then
// restarts the operator and counts the writes of the full resync (expected
// 0); then applies the same CronJobs with a raw client at the same
// concurrency, for the ratio.
func BenchmarkOperatorScale(b *testing.B) {
	if testEnv == nil {
		b.Skip("envtest not started (-short)")
	}
	n := envInt("BENCH_OPERATOR_N", 1000)
	workers := envInt("BENCH_OPERATOR_WORKERS", 4)
	for b.Loop() {
		benchOnce(b, n, workers)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func benchOnce(b *testing.B, n, workers int) {
	ctx := context.Background()
	ns := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	if err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		b.Fatal(err)
	}
	src := gittest.NewRepo(b, map[string]string{"site.yml": "- hosts: all\n  tasks: []\n"})
	url := gittest.StartDaemon(b, src.Bare(b))
	env := Environment{OperatorImage: testOperatorImage}

	var writes atomic.Int64
	start := time.Now()
	stop := runBenchOperator(b, env, workers, &writes)
	if err := parallel(workers, n, func(i int) error {
		name := fmt.Sprintf("app-%04d", i)
		for _, o := range []client.Object{
			&ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: ansiblev1alpha1.RepositorySpec{URL: url, Branch: "main"}},
			&ansiblev1alpha1.Playbook{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: ansiblev1alpha1.PlaybookSpec{
				RepositoryRef: ansiblev1alpha1.ObjectReference{Name: name}, PlaybookPath: "site.yml"}},
			&ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: ansiblev1alpha1.ScheduleSpec{
				PlaybookRef: ansiblev1alpha1.ObjectReference{Name: name}, Schedule: "@daily-random"}},
		} {
			if err := k8sClient.Create(ctx, o); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	waitAllReady(b, ns, n)
	ready := time.Since(start)
	total := writes.Load()
	stop()

	// A restart resyncs every object: nothing may be written.
	var resyncWrites atomic.Int64
	before := reconciles()
	resyncStart := time.Now()
	stop = runBenchOperator(b, env, workers, &resyncWrites)
	for deadline := time.Now().Add(5 * time.Minute); reconciles()-before < float64(3*n) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	resync := time.Since(resyncStart)
	stop()

	raw := rawApply(b, ns, n, workers, url, src.Head(b, "main"))
	objects := float64(3 * n)
	b.ReportMetric(ready.Seconds(), "s-to-ready")
	b.ReportMetric(float64(total)/objects, "writes/object")
	b.ReportMetric(float64(resyncWrites.Load()), "resync-writes")
	b.ReportMetric(ready.Seconds()/raw.Seconds(), "x-raw-client")
	fmt.Printf("operator scale: %d Repositories + %d Playbooks + %d Schedules, %d workers per controller: all Ready in %v; %d API writes = %.2f per object; "+
		"restart resync of %d objects in %v with %d writes; raw client applying the %d CronJobs at concurrency %d: %v; ratio %.1f\n",
		n, n, n, workers, ready.Round(time.Millisecond), total, float64(total)/objects, 3*n, resync.Round(time.Millisecond), resyncWrites.Load(),
		n, workers, raw.Round(time.Millisecond), ready.Seconds()/raw.Seconds())
}

// reconciles is the operator's reconcile count so far.
func reconciles() float64 {
	var sum float64
	for _, kind := range []string{"Repository", "Playbook", "Schedule"} {
		for _, result := range []string{"success", "error"} {
			sum += counterValue(kind, result)
		}
	}
	return sum
}

func counterValue(kind, result string) float64 {
	var m dto.Metric
	if err := metrics.ReconcileTotal.WithLabelValues(kind, result).Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// runBenchOperator starts the three reconcilers with counted writes; stop
// waits for the manager to end.
func runBenchOperator(b *testing.B, env Environment, workers int, writes *atomic.Int64) (stop func()) {
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:     scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		NewClient: func(cfg *rest.Config, opts client.Options) (client.Client, error) {
			c, err := client.New(cfg, opts)
			if err != nil {
				return nil, err
			}
			return countWrites(noWatch{c}, writes), nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	rec := mgr.GetEventRecorder("bench")
	for _, err := range []error{
		(&RepositoryReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: rec, MaxConcurrentReconciles: workers}).SetupWithManager(mgr),
		(&PlaybookReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: rec, Env: env, CheckPaths: git.CheckPaths, MaxConcurrentReconciles: workers}).SetupWithManager(mgr),
		(&ScheduleReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: rec, Env: env, MaxConcurrentReconciles: workers}).SetupWithManager(mgr),
	} {
		if err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}
}

// waitAllReady polls until n Playbooks and n Schedules in ns are Ready.
func waitAllReady(b *testing.B, ns string, n int) {
	deadline := time.Now().Add(15 * time.Minute)
	for time.Now().Before(deadline) {
		pbs, ss := &ansiblev1alpha1.PlaybookList{}, &ansiblev1alpha1.ScheduleList{}
		if err := k8sClient.List(context.Background(), pbs, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		if err := k8sClient.List(context.Background(), ss, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		ready := 0
		for i := range pbs.Items {
			if conditionTrue(&pbs.Items[i], ansiblev1alpha1.ReadyCondition) {
				ready++
			}
		}
		for i := range ss.Items {
			if conditionTrue(&ss.Items[i], ansiblev1alpha1.ReadyCondition) {
				ready++
			}
		}
		if ready == 2*n {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatalf("not all %d Playbooks and Schedules became Ready", n)
}

// rawApply server-side applies the CronJobs the operator made, renamed, with
// a plain client at the given concurrency: the floor for the same writes.
func rawApply(b *testing.B, ns string, n, workers int, url, commit string) time.Duration {
	ctx := context.Background()
	repo := &ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "raw", Namespace: ns}, Spec: ansiblev1alpha1.RepositorySpec{URL: url, Branch: "main"},
		Status: ansiblev1alpha1.RepositoryStatus{ResolvedRevision: commit}}
	start := time.Now()
	err := parallel(workers, n, func(i int) error {
		name := fmt.Sprintf("raw-%04d", i)
		pb := &ansiblev1alpha1.Playbook{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: ansiblev1alpha1.PlaybookSpec{
			RepositoryRef: ansiblev1alpha1.ObjectReference{Name: "raw"}, PlaybookPath: "site.yml"}}
		s := &ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: ansiblev1alpha1.ScheduleSpec{
			PlaybookRef: ansiblev1alpha1.ObjectReference{Name: name}, Schedule: "@daily-random"}}
		computed, _ := schedule.Compute(ns, name, "", s.Spec.Schedule)
		cj, err := jobs.BuildCronJob(jobs.Inputs{Playbook: pb, Repository: repo, Config: opconfig.Default(), OperatorImage: testOperatorImage}, s, computed)
		if err != nil {
			return err
		}
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cj)
		if err != nil {
			return err
		}
		delete(u, "status")
		return k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: u}), client.FieldOwner("raw"), client.ForceOwnership)
	})
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first error.
func parallel(workers, n int, fn func(int) error) error {
	var (
		wg       sync.WaitGroup
		next     atomic.Int64
		firstErr error
		once     sync.Once
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}
