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
	"net"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// blackhole is a git host that accepts connections and never answers.
type blackhole struct {
	ln   net.Listener
	mu   sync.Mutex
	open int
}

func startBlackhole(tb testing.TB) *blackhole {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	bh := &blackhole{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			bh.mu.Lock()
			bh.open++
			bh.mu.Unlock()
			go func() {
				// Read until the client gives up and closes.
				_, _ = io.Copy(io.Discard, c)
				_ = c.Close()
				bh.mu.Lock()
				bh.open--
				bh.mu.Unlock()
			}()
		}
	}()
	tb.Cleanup(func() { _ = ln.Close() })
	return bh
}

// waiting is how many clients wait for an answer now.
func (bh *blackhole) waiting() int {
	bh.mu.Lock()
	defer bh.mu.Unlock()
	return bh.open
}

func (bh *blackhole) url() string { return fmt.Sprintf("git://%s/never.git", bh.ln.Addr()) }

// startRepositories runs the Repository reconciler as the manager binary
// sets it up, until the test ends.
func startRepositories(tb testing.TB) {
	startManager(tb, func(mgr ctrl.Manager) error {
		return (&RepositoryReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("test")}).SetupWithManager(mgr)
	})
}

// createRepositories creates n Repositories of url in ns, named prefix-i.
func createRepositories(tb testing.TB, ns, prefix, url string, n int) {
	tb.Helper()
	for i := range n {
		repo := &ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%02d", prefix, i), Namespace: ns},
			Spec: ansiblev1alpha1.RepositorySpec{URL: url, Branch: "main"}}
		if err := k8sClient.Create(context.Background(), repo); err != nil {
			tb.Fatal(err)
		}
	}
}

// readyRepositories counts the Ready Repositories of ns.
func readyRepositories(tb testing.TB, ns string) int {
	tb.Helper()
	list := &ansiblev1alpha1.RepositoryList{}
	if err := k8sClient.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		tb.Fatal(err)
	}
	n := 0
	for i := range list.Items {
		if conditionTrue(&list.Items[i], ansiblev1alpha1.ReadyCondition) {
			n++
		}
	}
	return n
}

// TestRepositoryReconciler_unreachableHostStallsNoOther: while the
// operator waits for a git host that accepts connections and never
// answers, 19 other Repositories become Ready: the wait holds one worker,
// not the controller.
func TestRepositoryReconciler_unreachableHostStallsNoOther(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	src := gittest.NewRepo(t, map[string]string{"site.yml": "- hosts: all\n"})
	url := gittest.StartDaemon(t, src.Bare(t))
	bh := startBlackhole(t)
	startRepositories(t)
	createRepositories(t, ns, "unreachable", bh.url(), 1)
	eventually(t, "the unreachable host's connection", func() (bool, string) {
		return bh.waiting() == 1, fmt.Sprintf("%d waiting", bh.waiting())
	})
	createRepositories(t, ns, "good", url, 19)
	eventually(t, "19 Ready Repositories", func() (bool, string) {
		n := readyRepositories(t, ns)
		return n == 19, fmt.Sprintf("%d Ready", n)
	})
	if bh.waiting() != 1 {
		t.Errorf("the unreachable host's ls-remote ended before the others were Ready: %d connections waiting", bh.waiting())
	}
}

// BenchmarkRepositoriesWithAnUnreachableHost measures how long 19
// Repositories take to become Ready, alone and while the operator waits
// for a host that never answers (its Repository created first).
func BenchmarkRepositoriesWithAnUnreachableHost(b *testing.B) {
	if testEnv == nil {
		b.Skip("envtest not started (-short)")
	}
	src := gittest.NewRepo(b, map[string]string{"site.yml": "- hosts: all\n"})
	url := gittest.StartDaemon(b, src.Bare(b))
	bh := startBlackhole(b)
	startRepositories(b)
	for b.Loop() {
		for _, unreachable := range []bool{false, true} {
			ns := fmt.Sprintf("stall-%d", time.Now().UnixNano())
			if err := k8sClient.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if unreachable {
				createRepositories(b, ns, "unreachable", bh.url(), 1)
				for bh.waiting() == 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
			createRepositories(b, ns, "good", url, 19)
			testenv.Eventually(b, "19 Ready", 5*time.Minute, func() (bool, string) { return readyRepositories(b, ns) >= 19, "" })
			d := time.Since(start)
			name := "s-to-ready"
			if unreachable {
				name = "s-to-ready-with-unreachable"
			}
			b.ReportMetric(d.Seconds(), name)
			fmt.Printf("19 Repositories Ready in %v (an unreachable host first: %v)\n", d.Round(time.Millisecond), unreachable)
		}
	}
}
