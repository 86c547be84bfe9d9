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

package webhook

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Metrics are the webhook's counters and latency histogram, served in the
// Prometheus text format (a handful of series; no client library in the
// binary every face of pin-images shares). Label values are bounded: the
// handler (mutate, validate) and a result from a fixed set.
type Metrics struct {
	mu         sync.Mutex
	admissions map[[2]string]float64
	lookups    map[string]float64
	latency    map[string]*histogram
	// LockEntries reports the enforced lock's size (-1: none).
	LockEntries func() int
}

// latencyBuckets are upper bounds in seconds.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []float64
	sum    float64
	n      float64
}

// NewMetrics is an empty set.
func NewMetrics() *Metrics {
	return &Metrics{admissions: map[[2]string]float64{}, lookups: map[string]float64{}, latency: map[string]*histogram{}}
}

func (m *Metrics) admission(handler, result string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.admissions[[2]string{handler, result}]++
	m.mu.Unlock()
}

func (m *Metrics) lookup(result string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.lookups[result]++
	m.mu.Unlock()
}

func (m *Metrics) observe(handler string, d time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.latency[handler]
	if !ok {
		h = &histogram{counts: make([]float64, len(latencyBuckets))}
		m.latency[handler] = h
	}
	s := d.Seconds()
	for i, b := range latencyBuckets {
		if s <= b {
			h.counts[i]++
		}
	}
	h.sum += s
	h.n++
}

// Write serves the text format.
func (m *Metrics) Write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	b.WriteString("# HELP pin_images_webhook_admissions_total Admission requests answered. Labels: handler (mutate, validate), result (pinned, unchanged, unresolved, allowed, denied).\n# TYPE pin_images_webhook_admissions_total counter\n")
	keys := make([][2]string, 0, len(m.admissions))
	for k := range m.admissions {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		fmt.Fprintf(&b, "pin_images_webhook_admissions_total{handler=%q,result=%q} %v\n", k[0], k[1], m.admissions[k])
	}
	b.WriteString("# HELP pin_images_webhook_lookups_total Registry lookups of admissions. Label: result (hit: answered from the cache, miss: asked the registry).\n# TYPE pin_images_webhook_lookups_total counter\n")
	for _, r := range []string{"hit", "miss"} {
		fmt.Fprintf(&b, "pin_images_webhook_lookups_total{result=%q} %v\n", r, m.lookups[r])
	}
	b.WriteString("# HELP pin_images_webhook_admission_duration_seconds Time to answer an admission request. Label: handler (mutate, validate).\n# TYPE pin_images_webhook_admission_duration_seconds histogram\n")
	handlers := make([]string, 0, len(m.latency))
	for h := range m.latency {
		handlers = append(handlers, h)
	}
	sort.Strings(handlers)
	for _, hn := range handlers {
		h := m.latency[hn]
		for i, ub := range latencyBuckets {
			fmt.Fprintf(&b, "pin_images_webhook_admission_duration_seconds_bucket{handler=%q,le=\"%g\"} %v\n", hn, ub, h.counts[i])
		}
		fmt.Fprintf(&b, "pin_images_webhook_admission_duration_seconds_bucket{handler=%q,le=\"+Inf\"} %v\n", hn, h.n)
		fmt.Fprintf(&b, "pin_images_webhook_admission_duration_seconds_sum{handler=%q} %v\npin_images_webhook_admission_duration_seconds_count{handler=%q} %v\n", hn, h.sum, hn, h.n)
	}
	if m.LockEntries != nil {
		b.WriteString("# HELP pin_images_webhook_lock_entries Entries of the lock lock-only admission enforces (-1: no lock loaded).\n# TYPE pin_images_webhook_lock_entries gauge\n")
		fmt.Fprintf(&b, "pin_images_webhook_lock_entries %d\n", m.LockEntries())
	}
	io.WriteString(w, b.String())
}
