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
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
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

// BenchmarkOperatorScale (`make bench-operator`) measures the operator
// against a raw client on the same envtest API server, in the same run:
//
//   - the raw client: W workers create N Repositories, Playbooks and
//     Schedules, and W writers per kind make only the minimal writes a
//     controller needs for them as they appear (the Repository's status,
//     the Playbook's status, the CronJob by server-side apply, the
//     Schedule's status: 4 writes per 3 objects);
//   - the operator: W workers create the same objects in another namespace
//     while the operator (W workers per controller) reconciles them
//     against a real git daemon, until all are Ready; its mutating API
//     requests are counted at the transport (Events apart);
//   - a restart: a new operator resyncs every object (expected: 0 writes);
//   - the raw client again: its time is the mean of its two runs.
//
// Both use one client configuration (QPS, burst), printed with the worker
// counts. N = BENCH_OPERATOR_N (default 1,000), W = BENCH_OPERATOR_WORKERS
// (default 4), QPS and burst BENCH_OPERATOR_QPS and BENCH_OPERATOR_BURST
// (default 1000 and 2000, envtest's). The last line reads
// "operator vs raw client: ratio R, W writes/object".
func BenchmarkOperatorScale(b *testing.B) {
	if testEnv == nil {
		b.Skip("envtest not started (-short)")
	}
	p := benchParams{
		n:       envInt("BENCH_OPERATOR_N", 1000),
		workers: envInt("BENCH_OPERATOR_WORKERS", 4),
		qps:     envInt("BENCH_OPERATOR_QPS", 1000),
		burst:   envInt("BENCH_OPERATOR_BURST", 2000),
	}
	for b.Loop() {
		benchOnce(b, p)
	}
}

type benchParams struct {
	n, workers, qps, burst int
}

// config is restConfig with the benchmark's QPS and burst, and wrap (if
// any) around its transport.
func (p benchParams) config(wrap func(http.RoundTripper) http.RoundTripper) *rest.Config {
	cfg := rest.CopyConfig(restConfig)
	cfg.QPS, cfg.Burst = float32(p.qps), p.burst
	if wrap != nil {
		cfg.Wrap(wrap)
	}
	return cfg
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// writeCounter counts mutating requests at the transport: every write of
// the process (its client, its event recorder), Events apart, and each
// kind of write by method, resource and response code.
type writeCounter struct {
	writes, events atomic.Int64
	// debug keeps the status patches (BENCH_OPERATOR_DEBUG), to print
	// those of objects written more than once.
	debug bool

	mu     sync.Mutex
	byKind map[string]int
	// bodies are the status patches by object, kept with debug.
	bodies map[string][]string
}

func (wc *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		switch req.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			return rt.RoundTrip(req)
		}
		if wc.debug && req.GetBody != nil && strings.HasSuffix(req.URL.Path, "/status") {
			if body, err := req.GetBody(); err == nil {
				b, _ := io.ReadAll(body)
				wc.mu.Lock()
				if wc.bodies == nil {
					wc.bodies = map[string][]string{}
				}
				wc.bodies[req.URL.Path] = append(wc.bodies[req.URL.Path], string(b))
				wc.mu.Unlock()
			}
		}
		if strings.Contains(req.URL.Path, "/events") {
			wc.events.Add(1)
		} else {
			wc.writes.Add(1)
		}
		resp, err := rt.RoundTrip(req)
		code := "error"
		if err == nil {
			code = strconv.Itoa(resp.StatusCode)
		}
		wc.mu.Lock()
		if wc.byKind == nil {
			wc.byKind = map[string]int{}
		}
		wc.byKind[req.Method+" "+resourceOf(req.URL.Path)+" "+code]++
		wc.mu.Unlock()
		return resp, err
	})
}

// resourceOf is the resource (and subresource) of an API path.
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range parts {
		if p == "namespaces" && i+2 < len(parts) {
			if i+4 < len(parts) {
				return parts[i+2] + "/" + parts[i+4]
			}
			return parts[i+2]
		}
	}
	return path
}

// repeated prints the status patches of the objects written more than once.
func (wc *writeCounter) repeated() {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	for path, bodies := range wc.bodies {
		if len(bodies) > 1 {
			fmt.Printf("written %d times: %s\n  %s\n", len(bodies), path, strings.Join(bodies, "\n  "))
		}
	}
}

// breakdown lists the writes by kind, most first.
func (wc *writeCounter) breakdown() string {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	keys := make([]string, 0, len(wc.byKind))
	for k := range wc.byKind {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return wc.byKind[keys[i]] > wc.byKind[keys[j]] })
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s: %d", k, wc.byKind[k]))
	}
	return strings.Join(out, ", ")
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func benchOnce(b *testing.B, p benchParams) {
	ctx := context.Background()
	src := gittest.NewRepo(b, map[string]string{"site.yml": "- hosts: all\n  tasks: []\n"})
	url := gittest.StartDaemon(b, src.Bare(b))
	commit := src.Head(b, "main")
	env := Environment{OperatorImage: testOperatorImage}
	creator, err := client.New(p.config(nil), client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	objects := float64(3 * p.n)

	// The raw client runs before and after the operator, and its time is
	// the mean of the two: this machine's background load drifts, and the
	// bracket cancels a drift over the run.
	var rawCount writeCounter
	raw, err := client.New(p.config(rawCount.wrap), client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	// Warm both clients (discovery, REST mappings, connections) and the
	// API server's handlers on a run of their own, outside the timing.
	if err := rawRun(ctx, creator, raw, benchNamespace(b, "bench-warm"), p.workers, p.workers, url, commit); err != nil {
		b.Fatal(err)
	}
	rawCount.writes.Store(0)
	rawOnce := func() time.Duration {
		start := time.Now()
		if err := rawRun(ctx, creator, raw, benchNamespace(b, "bench-raw"), p.n, p.workers, url, commit); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	rawBefore := rawOnce()

	ns := benchNamespace(b, "bench-op")
	count := writeCounter{debug: os.Getenv("BENCH_OPERATOR_DEBUG") != ""}
	ready := newReadyCounter(3 * p.n)
	start := time.Now()
	stop := runBenchOperator(b, p, ns, env, &count, ready.watch)
	if err := parallel(p.workers, p.n, func(i int) error {
		for _, o := range benchObjects(ns, fmt.Sprintf("app-%04d", i), url) {
			if err := creator.Create(ctx, o); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	ready.wait(b)
	toReady := time.Since(start)
	stop()
	opWrites, opEvents := count.writes.Load(), count.events.Load()

	// A restart resyncs every object: nothing may be written.
	var resyncCount writeCounter
	before := reconciles()
	resyncStart := time.Now()
	stop = runBenchOperator(b, p, ns, env, &resyncCount, nil)
	for deadline := time.Now().Add(5 * time.Minute); reconciles()-before < objects && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	resync := time.Since(resyncStart)
	stop()
	rawAfter := rawOnce()
	rawTime := (rawBefore + rawAfter) / 2

	ratio := toReady.Seconds() / rawTime.Seconds()
	perObject := float64(opWrites) / objects
	b.ReportMetric(toReady.Seconds(), "s-to-ready")
	b.ReportMetric(rawTime.Seconds(), "s-raw")
	b.ReportMetric(perObject, "writes/object")
	b.ReportMetric(float64(resyncCount.writes.Load()), "resync-writes")
	b.ReportMetric(ratio, "x-raw-client")
	fmt.Printf("objects: %d Repositories + %d Playbooks + %d Schedules per run; both clients: QPS %d, burst %d\n", p.n, p.n, p.n, p.qps, p.burst)
	rawWrites := rawCount.writes.Load() / 2
	fmt.Printf("raw client: %d workers per kind (%d creating): created and written in %v (mean of %v before and %v after the operator); %d writes = %.2f per object\n",
		p.workers, p.workers, rawTime.Round(time.Millisecond), rawBefore.Round(time.Millisecond), rawAfter.Round(time.Millisecond), rawWrites, float64(rawWrites)/objects)
	fmt.Printf("operator: %d workers per controller (%d creating): all Ready in %v; %d writes = %.2f per object, and %d Events\n",
		p.workers, p.workers, toReady.Round(time.Millisecond), opWrites, perObject, opEvents)
	fmt.Printf("operator writes by request: %s\n", count.breakdown())
	count.repeated()
	fmt.Printf("restart: resync of %d objects in %v with %d writes and %d Events\n",
		3*p.n, resync.Round(time.Millisecond), resyncCount.writes.Load(), resyncCount.events.Load())
	fmt.Printf("operator vs raw client: ratio %.2f, %.2f writes/object\n", ratio, perObject)
}

func benchNamespace(b *testing.B, prefix string) string {
	ns := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	if err := k8sClient.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		b.Fatal(err)
	}
	return ns
}

// benchObjects are a Repository, a Playbook on it and a Schedule of the
// Playbook, all called name.
func benchObjects(ns, name, url string) []client.Object {
	return []client.Object{
		&ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: ansiblev1alpha1.RepositorySpec{URL: url, Branch: "main"}},
		&ansiblev1alpha1.Playbook{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: ansiblev1alpha1.PlaybookSpec{
			RepositoryRef: ansiblev1alpha1.ObjectReference{Name: name}, PlaybookPath: "site.yml"}},
		&ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: ansiblev1alpha1.ScheduleSpec{
			PlaybookRef: ansiblev1alpha1.ObjectReference{Name: name}, Schedule: "@daily-random"}},
	}
}

// rawRun is the raw client's run, shaped as the operator's: workers
// creators make the n triplets with creator, and, for each kind, workers
// writers make the minimal writes with c as the objects appear (a writer
// knows the answers, the commit among them, so it reads nothing).
func rawRun(ctx context.Context, creator, c client.Client, ns string, n, workers int, url, commit string) error {
	repos, pbs, ss := make(chan *ansiblev1alpha1.Repository, n), make(chan *ansiblev1alpha1.Playbook, n), make(chan *ansiblev1alpha1.Schedule, n)
	var (
		wg       sync.WaitGroup
		firstErr error
		once     sync.Once
	)
	fail := func(err error) {
		if err != nil {
			once.Do(func() { firstErr = err })
		}
	}
	writers := func(fn func() bool) {
		for range workers {
			wg.Go(func() {
				for fn() {
				}
			})
		}
	}
	writers(func() bool {
		repo, ok := <-repos
		if ok {
			fail(rawRepositoryStatus(ctx, c, repo, commit))
		}
		return ok
	})
	writers(func() bool {
		pb, ok := <-pbs
		if ok {
			fail(rawPlaybookStatus(ctx, c, pb, commit))
		}
		return ok
	})
	writers(func() bool {
		s, ok := <-ss
		if ok {
			fail(rawSchedule(ctx, c, s, url, commit))
		}
		return ok
	})
	fail(parallel(workers, n, func(i int) error {
		objs := benchObjects(ns, fmt.Sprintf("raw-%04d", i), url)
		for _, o := range objs {
			if err := creator.Create(ctx, o); err != nil {
				return err
			}
		}
		repos <- objs[0].(*ansiblev1alpha1.Repository)
		pbs <- objs[1].(*ansiblev1alpha1.Playbook)
		ss <- objs[2].(*ansiblev1alpha1.Schedule)
		return nil
	}))
	close(repos)
	close(pbs)
	close(ss)
	wg.Wait()
	return firstErr
}

// rawStatus patches o's status as set changes it, as the operator does
// (a merge patch, optimistically locked).
func rawStatus(ctx context.Context, c client.Client, o conditioned, set func()) error {
	base := o.DeepCopyObject().(client.Object)
	set()
	return c.Status().Patch(ctx, o, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

func rawCondition(gen int64, typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen, LastTransitionTime: metav1.Now()}
}

// rawRepositoryStatus writes the status the operator would.
func rawRepositoryStatus(ctx context.Context, c client.Client, repo *ansiblev1alpha1.Repository, commit string) error {
	return rawStatus(ctx, c, repo, func() {
		now, g := metav1.Now(), repo.Generation
		repo.Status.ObservedGeneration, repo.Status.ResolvedRevision, repo.Status.LastSyncTime = g, commit, &now
		repo.Status.Conditions = []metav1.Condition{
			rawCondition(g, ansiblev1alpha1.AuthValidCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, "the git server accepted the credentials"),
			rawCondition(g, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, "branch main is "+commit),
			rawCondition(g, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, "resolved branch main to "+commit),
		}
	})
}

// rawPlaybookStatus writes the status the operator would.
func rawPlaybookStatus(ctx context.Context, c client.Client, pb *ansiblev1alpha1.Playbook, commit string) error {
	return rawStatus(ctx, c, pb, func() {
		g := pb.Generation
		pb.Status.ObservedGeneration = g
		pb.Status.Conditions = []metav1.Condition{
			rawCondition(g, ansiblev1alpha1.CloneReadyCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, "paths found at commit "+commit),
			rawCondition(g, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, ansiblev1alpha1.ValidatedReason, "ready to run site.yml at commit "+commit),
		}
	})
}

// rawSchedule applies the CronJob the operator would and writes the status.
func rawSchedule(ctx context.Context, c client.Client, s *ansiblev1alpha1.Schedule, url, commit string) error {
	objs := benchObjects(s.Namespace, s.Name, url)
	repo, pb := objs[0].(*ansiblev1alpha1.Repository), objs[1].(*ansiblev1alpha1.Playbook)
	repo.Status.ResolvedRevision = commit
	computed, _ := schedule.Compute(s.Namespace, s.Name, "", s.Spec.Schedule)
	cj, err := jobs.BuildCronJob(jobs.Inputs{Playbook: pb, Repository: repo, Config: opconfig.Default(), OperatorImage: testOperatorImage}, s, computed)
	if err != nil {
		return err
	}
	if err := controllerutil.SetControllerReference(s, cj, scheme); err != nil {
		return err
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cj)
	if err != nil {
		return err
	}
	delete(u, "status")
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: u}), client.FieldOwner("raw"), client.ForceOwnership); err != nil {
		return err
	}
	next, err := schedule.Next(computed, "", time.Now())
	if err != nil {
		return err
	}
	return rawStatus(ctx, c, s, func() {
		g := s.Generation
		s.Status.ObservedGeneration, s.Status.ComputedSchedule, s.Status.NextRunTime = g, computed, &metav1.Time{Time: next.UTC()}
		s.Status.Conditions = []metav1.Condition{
			rawCondition(g, ansiblev1alpha1.BlockedByConcurrencyCondition, metav1.ConditionFalse, ansiblev1alpha1.NoConcurrentJobsReason, "no run is active"),
			rawCondition(g, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, ansiblev1alpha1.ScheduledReason, fmt.Sprintf("CronJob %s runs %q", cj.Name, computed)),
		}
	})
}

// reconciles is the operator's reconcile count so far.
func reconciles() float64 {
	var sum float64
	for _, kind := range []string{ansiblev1alpha1.RepositoryKind, ansiblev1alpha1.PlaybookKind, ansiblev1alpha1.ScheduleKind} {
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

// runBenchOperator starts the three reconcilers with their requests
// counted, after setup (if any) has seen the manager; stop waits for the
// manager to end.
func runBenchOperator(b *testing.B, p benchParams, ns string, env Environment, count *writeCounter, setup func(*testing.B, ctrl.Manager)) (stop func()) {
	mgr, err := ctrl.NewManager(p.config(count.wrap), ctrl.Options{
		Scheme: scheme,
		// The operator's namespace only: the raw client's objects are not its.
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		b.Fatal(err)
	}
	rec := mgr.GetEventRecorder("bench")
	for _, err := range []error{
		(&RepositoryReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: rec, MaxConcurrentReconciles: p.workers}).SetupWithManager(mgr),
		(&PlaybookReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: rec, Env: env, CheckPaths: git.CheckPaths, MaxConcurrentReconciles: p.workers}).SetupWithManager(mgr),
		(&ScheduleReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: rec, Env: env, MaxConcurrentReconciles: p.workers}).SetupWithManager(mgr),
	} {
		if err != nil {
			b.Fatal(err)
		}
	}
	if setup != nil {
		setup(b, mgr)
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

// readyCounter counts the operator's objects that are Ready, from the
// events of the operator's own informers: a watch of its own would cost
// the API server what the raw client's run does not pay, and polling a
// cache of thousands of objects would take CPU from the operator.
type readyCounter struct {
	want int
	done chan struct{}

	mu     sync.Mutex
	ready  map[types.UID]bool
	n      int
	closed bool
}

func newReadyCounter(want int) *readyCounter {
	return &readyCounter{want: want, done: make(chan struct{}), ready: map[types.UID]bool{}}
}

// watch registers the counter with the manager's informers.
func (rc *readyCounter) watch(b *testing.B, mgr ctrl.Manager) {
	observe := func(obj any) {
		o, ok := obj.(conditioned)
		if !ok {
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		now := conditionTrue(o, ansiblev1alpha1.ReadyCondition)
		if now == rc.ready[o.GetUID()] {
			return
		}
		rc.ready[o.GetUID()] = now
		if now {
			rc.n++
		} else {
			rc.n--
		}
		if rc.n == rc.want && !rc.closed {
			rc.closed = true
			close(rc.done)
		}
	}
	handler := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
	}
	for _, o := range []client.Object{&ansiblev1alpha1.Repository{}, &ansiblev1alpha1.Playbook{}, &ansiblev1alpha1.Schedule{}} {
		inf, err := mgr.GetCache().GetInformer(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := inf.AddEventHandler(handler); err != nil {
			b.Fatal(err)
		}
	}
}

// wait returns when all objects are Ready.
func (rc *readyCounter) wait(b *testing.B) {
	select {
	case <-rc.done:
	case <-time.After(15 * time.Minute):
		rc.mu.Lock()
		defer rc.mu.Unlock()
		b.Fatalf("%d of %d Repositories, Playbooks and Schedules became Ready", rc.n, rc.want)
	}
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
