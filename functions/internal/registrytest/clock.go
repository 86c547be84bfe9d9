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

package registrytest

import (
	"container/heap"
	"runtime"
	"sync"
	"time"
)

// preciseWake returns a channel closed at t, within tens of microseconds.
// Go's timers wait in the network poller, whose sleep has millisecond
// resolution on Linux: in the proxy, under a benchmark's load, a 20 ms
// delay answered 0.65 ms late on average (p90 1.1 ms), which a client
// paid on every request and which put the bound of d per request out of
// any client's reach. With this wake the answers are 0.1 ms late (p99
// 0.2 ms). One OS thread, running only while someone waits, sleeps in
// short steps and closes each channel when its time has come.
func preciseWake(t time.Time) <-chan struct{} {
	return wakes.add(t)
}

// wakeStep is the longest sleep of the waking thread: it bounds how late a
// deadline earlier than the ones already waiting can be noticed.
const wakeStep = 500 * time.Microsecond

var wakes = &wakeQueue{}

type wakeQueue struct {
	mu      sync.Mutex
	pending wakeHeap
	running bool
}

type wake struct {
	at time.Time
	ch chan struct{}
}

func (q *wakeQueue) add(t time.Time) <-chan struct{} {
	ch := make(chan struct{})
	q.mu.Lock()
	defer q.mu.Unlock()
	heap.Push(&q.pending, wake{at: t, ch: ch})
	if !q.running {
		q.running = true
		go q.run()
	}
	return ch
}

// run closes the channels whose time has come until none is left.
func (q *wakeQueue) run() {
	// A thread of its own: the sleeps below are the kernel's, precise to
	// its timer slack (50 µs), and hold no P of the Go scheduler.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for {
		q.mu.Lock()
		now := time.Now()
		for len(q.pending) > 0 && !q.pending[0].at.After(now) {
			close(heap.Pop(&q.pending).(wake).ch)
		}
		if len(q.pending) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		sleep := min(q.pending[0].at.Sub(now), wakeStep)
		q.mu.Unlock()
		nanosleep(sleep)
	}
}

// wakeHeap orders waits by time (container/heap).
type wakeHeap []wake

func (h wakeHeap) Len() int           { return len(h) }
func (h wakeHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h wakeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *wakeHeap) Push(x any)        { *h = append(*h, x.(wake)) }
func (h *wakeHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	*h = old[:len(old)-1]
	return w
}
