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

package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

// maxField bounds a host or task name in the summary; the callback already
// cuts messages to 200 characters.
const maxField = 200

// callbackStats is what the callback plugin writes.
type callbackStats struct {
	Hosts []struct {
		Host        string `json:"host"`
		OK          int    `json:"ok"`
		Changed     int    `json:"changed"`
		Failed      int    `json:"failed"`
		Unreachable int    `json:"unreachable"`
		Skipped     int    `json:"skipped"`
	} `json:"hosts"`
	Failures []struct {
		Host        string `json:"host"`
		Task        string `json:"task"`
		Message     string `json:"message"`
		Unreachable bool   `json:"unreachable"`
	} `json:"failures"`
}

func readStats(file string) (callbackStats, error) {
	var st callbackStats
	b, err := os.ReadFile(file)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return callbackStats{}, fmt.Errorf("failed to parse %s: %w", file, err)
	}
	return st, nil
}

// summary turns the stats and ansible-playbook's exit code into the summary.
func (st callbackStats) summary(code int, playbook string) runspec.Summary {
	s := runspec.Summary{Result: ResultSucceeded, Reason: ReasonSucceeded, ExitCode: code}
	failedHosts, unreachableHosts := 0, 0
	for _, h := range st.Hosts {
		c := runspec.Counts{OK: h.OK, Changed: h.Changed, Failed: h.Failed, Unreachable: h.Unreachable, Skipped: h.Skipped}
		s.Totals.OK += c.OK
		s.Totals.Changed += c.Changed
		s.Totals.Failed += c.Failed
		s.Totals.Unreachable += c.Unreachable
		s.Totals.Skipped += c.Skipped
		if c.Failed > 0 {
			failedHosts++
		}
		if c.Unreachable > 0 {
			unreachableHosts++
		}
		s.Hosts = append(s.Hosts, runspec.HostCounts{Host: truncate(h.Host, maxField), Counts: c})
	}
	// Failed and unreachable hosts first, as runspec.Summary documents; the
	// callback lists hosts by name.
	sort.SliceStable(s.Hosts, func(i, j int) bool { return troubled(s.Hosts[i]) && !troubled(s.Hosts[j]) })
	for _, f := range st.Failures {
		s.Failures = append(s.Failures, runspec.Failure{Host: truncate(f.Host, maxField), Task: truncate(f.Task, maxField), Message: f.Message})
	}

	hosts := len(st.Hosts)
	switch {
	case code == 0 && hosts == 0:
		s.Message = fmt.Sprintf("playbook %s succeeded; no hosts matched", playbook)
	case code == 0:
		s.Message = fmt.Sprintf("playbook %s succeeded on %d hosts", playbook, hosts)
	case failedHosts > 0:
		s.Result, s.Reason = ResultFailed, ReasonPlaybookFailed
		s.Message = fmt.Sprintf("playbook %s failed on %d of %d hosts", playbook, failedHosts, hosts)
		if unreachableHosts > 0 {
			s.Message += fmt.Sprintf("; %d unreachable", unreachableHosts)
		}
	case unreachableHosts > 0:
		s.Result, s.Reason = ResultFailed, ReasonHostsUnreachable
		s.Message = fmt.Sprintf("playbook %s: %d of %d hosts unreachable", playbook, unreachableHosts, hosts)
	default:
		s.Result, s.Reason = ResultFailed, ReasonPlaybookFailed
		s.Message = fmt.Sprintf("ansible-playbook exited with code %d", code)
	}
	return s
}

func troubled(h runspec.HostCounts) bool { return h.Failed > 0 || h.Unreachable > 0 }

// FitSummary encodes s as JSON in at most limit bytes. When all of it does
// not fit, it keeps everything but the lists (the message cut if need be),
// then as many failures as fit, then as many hosts, in their order, and sets
// Truncated. s's lists are expected in priority order: Summary built by Run
// has failed and unreachable hosts first.
func FitSummary(s runspec.Summary, limit int) []byte {
	s.Truncated = false
	if b := encodeSummary(s); len(b) <= limit {
		return b
	}
	out := s
	out.Hosts, out.Failures, out.Truncated = nil, nil, true
	// The message goes first if even the bare summary is too long.
	for len(encodeSummary(out)) > limit && out.Message != "" {
		over := len(encodeSummary(out)) - limit
		out.Message = truncate(out.Message, max(len(out.Message)-over, 0))
		if len(out.Message) <= len("...") {
			out.Message = ""
		}
	}
	for _, f := range s.Failures {
		out.Failures = append(out.Failures, f)
		if len(encodeSummary(out)) > limit {
			out.Failures = out.Failures[:len(out.Failures)-1]
			return encodeSummary(out)
		}
	}
	for _, h := range s.Hosts {
		out.Hosts = append(out.Hosts, h)
		if len(encodeSummary(out)) > limit {
			out.Hosts = out.Hosts[:len(out.Hosts)-1]
			break
		}
	}
	return encodeSummary(out)
}

// encodeSummary is compact JSON without HTML escaping (ansible messages
// are full of < and >, which json.Marshal would make six bytes each).
func encodeSummary(s runspec.Summary) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// A Summary has no values that fail to encode.
	_ = enc.Encode(s)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// WriteSummary writes s, fitted into runspec.MaxSummaryBytes, to path (the
// termination message file), and returns what it wrote.
func WriteSummary(path string, s runspec.Summary) ([]byte, error) {
	b := FitSummary(s, runspec.MaxSummaryBytes)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return b, fmt.Errorf("failed to write the summary to %s: %w", path, err)
	}
	return b, nil
}
