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

// Package metrics defines the operator's domain metrics, registered in
// controller-runtime's registry next to its own, with the names the Python
// operator's dashboards use (ansible_operator_*).
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// ReconcileTotal counts reconciles by kind (Repository, Playbook,
	// Schedule) and result (success, error, requeue).
	ReconcileTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ansible_operator_reconcile_total",
		Help: "Reconciles of the operator's kinds. Labels: kind (Repository, Playbook, Schedule), result (success, error, requeue).",
	}, []string{"kind", "result"})
	// ReconcileDuration observes reconcile time by kind.
	ReconcileDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ansible_operator_reconcile_duration_seconds",
		Help:    "Time spent in one reconcile. Label: kind (Repository, Playbook, Schedule).",
		Buckets: prometheus.DefBuckets,
	}, []string{"kind"})
	// JobRunsTotal counts finished runs once each, by owner kind and result.
	JobRunsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ansible_operator_job_runs_total",
		Help: "Finished playbook runs, each counted once. Labels: kind (Playbook for manual runs, Schedule for scheduled runs), result (succeeded, failed).",
	}, []string{"kind", "result"})
	// JobRunDuration observes finished runs' duration by owner kind.
	JobRunDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ansible_operator_job_run_duration_seconds",
		Help:    "Duration of finished playbook runs, from Job start to completion. Label: kind (Playbook, Schedule).",
		Buckets: []float64{5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200},
	}, []string{"kind"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(ReconcileTotal, ReconcileDuration, JobRunsTotal, JobRunDuration)
	// Every series exists from the start at zero, so that a rate() in an
	// alert (kustomize/components/servicemonitor) sees the first error and
	// not an absent series.
	for _, kind := range []string{"Repository", "Playbook", "Schedule"} {
		for _, result := range []string{"success", "error", "requeue"} {
			ReconcileTotal.WithLabelValues(kind, result)
		}
		ReconcileDuration.WithLabelValues(kind)
	}
	for _, kind := range []string{"Playbook", "Schedule"} {
		for _, result := range []string{"succeeded", "failed"} {
			JobRunsTotal.WithLabelValues(kind, result)
		}
		JobRunDuration.WithLabelValues(kind)
	}
}

// ObserveReconcile records one reconcile of kind that started at start.
func ObserveReconcile(kind string, start time.Time, err error, requeue bool) {
	result := "success"
	switch {
	case err != nil:
		result = "error"
	case requeue:
		result = "requeue"
	}
	ReconcileTotal.WithLabelValues(kind, result).Inc()
	ReconcileDuration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}
