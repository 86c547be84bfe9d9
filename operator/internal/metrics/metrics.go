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

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
)

// Label values of the result label, the Python operator's.
const (
	resultStarted = "started"
	resultSuccess = "success"
	resultError   = "error"
	resultFailure = "failure"
)

var (
	// ReconcileTotal counts reconciles by kind (Repository, Playbook,
	// Schedule) and result: started when one begins, then success or error.
	ReconcileTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ansible_operator_reconcile_total",
		Help: "Reconciles of the operator's kinds. Labels: kind (Repository, Playbook, Schedule), result (started, success, error).",
	}, []string{"kind", "result"})
	// ReconcileDuration observes reconcile time by kind, in the Python
	// operator's buckets.
	ReconcileDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ansible_operator_reconcile_duration_seconds",
		Help:    "Time spent in one reconcile. Label: kind (Repository, Playbook, Schedule).",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10},
	}, []string{"kind"})
	// JobRunsTotal counts finished runs once each, by owner kind and result.
	JobRunsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ansible_operator_job_runs_total",
		Help: "Finished playbook runs, each counted once. Labels: kind (the run's owner: Playbook for its manual runs, Schedule for its scheduled and manual runs), result (success, failure).",
	}, []string{"kind", "result"})
	// JobRunDuration observes finished runs' duration by owner kind, in the
	// Python operator's buckets.
	JobRunDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ansible_operator_job_run_duration_seconds",
		Help:    "Duration of finished playbook runs, from Job start to completion. Label: kind (Playbook, Schedule).",
		Buckets: []float64{1, 5, 10, 30, 60, 300, 600, 1800, 3600},
	}, []string{"kind"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(ReconcileTotal, ReconcileDuration, JobRunsTotal, JobRunDuration)
	// Every series exists from the start at zero, so that a rate() in an
	// alert (kustomize/components/servicemonitor) sees the first error and
	// not an absent series.
	for _, kind := range []string{ansiblev1alpha1.RepositoryKind, ansiblev1alpha1.PlaybookKind, ansiblev1alpha1.ScheduleKind} {
		for _, result := range []string{resultStarted, resultSuccess, resultError} {
			ReconcileTotal.WithLabelValues(kind, result)
		}
		ReconcileDuration.WithLabelValues(kind)
	}
	for _, kind := range []string{ansiblev1alpha1.PlaybookKind, ansiblev1alpha1.ScheduleKind} {
		for _, result := range []string{resultSuccess, resultFailure} {
			JobRunsTotal.WithLabelValues(kind, result)
		}
		JobRunDuration.WithLabelValues(kind)
	}
}

// StartReconcile counts one reconcile of kind as started and returns the
// function that records its end: call it with the reconcile's error.
func StartReconcile(kind string) func(err error) {
	start := time.Now()
	ReconcileTotal.WithLabelValues(kind, resultStarted).Inc()
	return func(err error) {
		result := resultSuccess
		if err != nil {
			result = resultError
		}
		ReconcileTotal.WithLabelValues(kind, result).Inc()
		ReconcileDuration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	}
}

// ObserveRun counts one finished run of kind and its duration (a run
// without both times is counted only).
func ObserveRun(kind string, succeeded bool, duration *time.Duration) {
	result := resultFailure
	if succeeded {
		result = resultSuccess
	}
	JobRunsTotal.WithLabelValues(kind, result).Inc()
	if duration != nil {
		JobRunDuration.WithLabelValues(kind).Observe(duration.Seconds())
	}
}
