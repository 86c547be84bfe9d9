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

package schedule

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// golden was computed with an independent implementation of the formula in
// the package comment (Python hashlib), not with this code.
var golden = []struct {
	namespace, name, salt                  string
	hourly, daily, weekly, monthly, yearly string
}{
	{"default", "nightly", "", "27 * * * *", "27 0 * * *", "27 0 * * 3", "27 0 15 * *", "27 0 15 4 *"},
	{"default", "nightly", "cluster-a", "26 * * * *", "26 20 * * *", "26 20 * * 1", "26 20 16 * *", "26 20 16 5 *"},
	{"ops", "patch-window", "", "42 * * * *", "42 7 * * *", "42 7 * * 3", "42 7 14 * *", "42 7 14 6 *"},
	{"team-a", "backup", "", "38 * * * *", "38 21 * * *", "38 21 * * 0", "38 21 10 * *", "38 21 10 6 *"},
}

func TestCompute_golden(t *testing.T) {
	for _, g := range golden {
		for macro, want := range map[string]string{
			HourlyRandom: g.hourly, DailyRandom: g.daily, WeeklyRandom: g.weekly, MonthlyRandom: g.monthly, YearlyRandom: g.yearly,
		} {
			got, ok := Compute(g.namespace, g.name, g.salt, macro)
			if !ok || got != want {
				t.Errorf("%s/%s salt %q %s = %q (%v), want %q", g.namespace, g.name, g.salt, macro, got, ok, want)
			}
			if err := Validate(got); err != nil {
				t.Error(err)
			}
		}
	}
}

func TestCompute_passThrough(t *testing.T) {
	for _, s := range []string{"*/5 * * * *", "@daily", "@hourly", " 0 3 * * 1 ", "@Daily-random"} {
		got, macro := Compute("ns", "n", "", s)
		if macro {
			t.Errorf("%q treated as a macro", s)
		}
		if want := strings.TrimSpace(s); got != want {
			t.Errorf("%q changed to %q, want %q", s, got, want)
		}
	}
}

func TestCompute_rangesAndSpread(t *testing.T) {
	minutes := map[int]bool{}
	daily := map[string]bool{}
	for i := range 100 {
		name := fmt.Sprintf("schedule-%03d", i)
		if d := Slot("ns", name, "", "dom", 28, 1); d < 1 || d > 28 {
			t.Fatalf("dom %d out of 1–28", d)
		}
		if m := Slot("ns", name, "", "month", 12, 1); m < 1 || m > 12 {
			t.Fatalf("month %d out of 1–12", m)
		}
		if d := Slot("ns", name, "", "dow", 7, 0); d < 0 || d > 6 {
			t.Fatalf("dow %d out of 0–6", d)
		}
		minutes[Slot("ns", name, "", "minute", 60, 0)] = true
		s, _ := Compute("ns", name, "", DailyRandom)
		daily[s] = true
	}
	if len(minutes) < 30 {
		t.Errorf("100 schedules share only %d minutes", len(minutes))
	}
	if len(daily) < 95 {
		t.Errorf("100 daily schedules give only %d distinct slots", len(daily))
	}
}

func TestValidate(t *testing.T) {
	for s, ok := range map[string]bool{
		"*/5 * * * *": true, "@daily": true, "0 3 * * 1-5": true,
		"* * * *": false, "61 * * * *": false, "TZ=UTC 0 3 * * *": false, "@hourly-random": false,
	} {
		if err := Validate(s); (err == nil) != ok {
			t.Errorf("Validate(%q) = %v, want ok=%v", s, err, ok)
		}
	}
}

func TestNext_timeZone(t *testing.T) {
	after := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	// 03:30 in Berlin on 2026-03-29 does not exist (DST starts at 02:00 → 03:00);
	// 04:00 Berlin on the 29th is 02:00 UTC.
	got, err := Next("0 4 * * *", "Europe/Berlin", after)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 29, 2, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Next = %v, want %v", got.UTC(), want)
	}
	if got, _ := Next("0 4 * * *", "", after); !got.Equal(time.Date(2026, 3, 29, 4, 0, 0, 0, time.UTC)) {
		t.Errorf("Next in UTC = %v", got)
	}
	if _, err := Next("0 4 * * *", "Mars/Olympus", after); err == nil {
		t.Error("unknown zone accepted")
	}
}
