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

package metrics

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// TestPythonOperatorCompatibility: the series of the ansible_operator_*
// metrics exist from the start with the Python operator's label values
// and histogram buckets (shared/reference/python-operator.md §5.3), so its
// dashboards and alerts keep working.
func TestPythonOperatorCompatibility(t *testing.T) {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string][]string{} // name -> "kind/result" of each series
	buckets := map[string][]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			series[f.GetName()] = append(series[f.GetName()], fmt.Sprintf("%s/%s", labels["kind"], labels["result"]))
			if h := m.GetHistogram(); h != nil && buckets[f.GetName()] == nil {
				for _, b := range h.GetBucket() {
					buckets[f.GetName()] = append(buckets[f.GetName()], b.GetUpperBound())
				}
			}
		}
	}
	want := map[string][]string{
		"ansible_operator_reconcile_total": {"Playbook/error", "Playbook/started", "Playbook/success", "Repository/error", "Repository/started",
			"Repository/success", "Schedule/error", "Schedule/started", "Schedule/success"},
		"ansible_operator_job_runs_total":             {"Playbook/failure", "Playbook/success", "Schedule/failure", "Schedule/success"},
		"ansible_operator_reconcile_duration_seconds": {"Playbook/", "Repository/", "Schedule/"},
		"ansible_operator_job_run_duration_seconds":   {"Playbook/", "Schedule/"},
	}
	for name, w := range want {
		got := slices.Sorted(slices.Values(series[name]))
		if d := cmp.Diff(w, got); d != "" {
			t.Errorf("%s series (-want +got):\n%s", name, d)
		}
	}
	wantBuckets := map[string][]float64{
		"ansible_operator_reconcile_duration_seconds": {0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10},
		"ansible_operator_job_run_duration_seconds":   {1, 5, 10, 30, 60, 300, 600, 1800, 3600},
	}
	for name, w := range wantBuckets {
		if d := cmp.Diff(w, buckets[name]); d != "" {
			t.Errorf("%s buckets (-want +got):\n%s", name, d)
		}
	}
}
