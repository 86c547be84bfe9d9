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

// Package promtext reads the Prometheus text exposition format the
// operator's metrics endpoint serves, for the tests that scrape a running
// manager (leader election, alerts, docs, demo).
package promtext

import (
	"regexp"
	"strconv"
	"strings"
)

// Sample is one line of the format: a series and its value.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// Parse returns the samples of text; comments and lines whose value is not a
// number are skipped. Label values keep their escapes.
func Parse(text string) []Sample {
	var out []Sample
	for _, line := range strings.Split(text, "\n") {
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		labels := map[string]string{}
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			labels[p[1]] = p[2]
		}
		out = append(out, Sample{Name: m[1], Labels: labels, Value: v})
	}
	return out
}

// Sum adds the values of the samples of name whose labels include want;
// found says whether any matched.
func Sum(samples []Sample, name string, want map[string]string) (sum float64, found bool) {
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		match := true
		for k, v := range want {
			match = match && s.Labels[k] == v
		}
		if match {
			sum, found = sum+s.Value, true
		}
	}
	return sum, found
}
