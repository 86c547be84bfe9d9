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

package promtext

import (
	"reflect"
	"testing"
)

const exposition = `# HELP ansible_operator_job_runs_total Finished playbook runs.
# TYPE ansible_operator_job_runs_total counter
ansible_operator_job_runs_total{kind="Playbook",result="failed"} 0
ansible_operator_job_runs_total{kind="Playbook",result="succeeded"} 3
ansible_operator_job_runs_total{kind="Schedule",result="succeeded"} 2
leader_election_master_status{name=""} 1
process_start_time_seconds 1.7e+09
odd_metric{msg="a \"quoted\" value, with {braces}"} 4
not_a_number{x="y"} NaNx
`

func TestParse(t *testing.T) {
	got := Parse(exposition)
	want := []Sample{
		{Name: "ansible_operator_job_runs_total", Labels: map[string]string{"kind": "Playbook", "result": "failed"}, Value: 0},
		{Name: "ansible_operator_job_runs_total", Labels: map[string]string{"kind": "Playbook", "result": "succeeded"}, Value: 3},
		{Name: "ansible_operator_job_runs_total", Labels: map[string]string{"kind": "Schedule", "result": "succeeded"}, Value: 2},
		{Name: "leader_election_master_status", Labels: map[string]string{"name": ""}, Value: 1},
		{Name: "process_start_time_seconds", Labels: map[string]string{}, Value: 1.7e9},
		{Name: "odd_metric", Labels: map[string]string{"msg": `a \"quoted\" value, with {braces}`}, Value: 4},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", got, want)
	}
}

func TestSum(t *testing.T) {
	s := Parse(exposition)
	for _, tc := range []struct {
		name  string
		want  map[string]string
		sum   float64
		found bool
	}{
		{"ansible_operator_job_runs_total", map[string]string{"result": "succeeded"}, 5, true},
		{"ansible_operator_job_runs_total", map[string]string{"kind": "Playbook"}, 3, true},
		{"ansible_operator_job_runs_total", nil, 5, true},
		{"ansible_operator_job_runs_total", map[string]string{"kind": "Repository"}, 0, false},
		{"missing_metric", nil, 0, false},
	} {
		if sum, found := Sum(s, tc.name, tc.want); sum != tc.sum || found != tc.found {
			t.Errorf("Sum(%s, %v) = %v, %v; want %v, %v", tc.name, tc.want, sum, found, tc.sum, tc.found)
		}
	}
}
