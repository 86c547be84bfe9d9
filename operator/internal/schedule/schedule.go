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

// Package schedule expands the random cron macros of Schedules and computes
// next run times in a time zone.
//
// A random macro picks a stable slot per Schedule, so a fleet of schedules
// does not fire at the same minute. Each field value is
//
//	offset + BE64(sha256("<namespace>/<name>:" + salt + ":" + field)[0:8]) mod range
//
// with salt the OperatorConfig's scheduleSalt (empty by default; set it per
// cluster to spread a GitOps fleet that applies the same Schedules
// everywhere), and fields minute (0–59), hour (0–23), dow (0–6, Sunday 0),
// dom (1–28) and month (1–12). The seed is the namespaced name, not the UID
// the Python operator used, so recreating a Schedule keeps its slot; the
// slots therefore move once on migration.
package schedule

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// The random macros, exactly as the Python operator accepted them.
const (
	HourlyRandom  = "@hourly-random"
	DailyRandom   = "@daily-random"
	WeeklyRandom  = "@weekly-random"
	MonthlyRandom = "@monthly-random"
	YearlyRandom  = "@yearly-random"
)

// Slot is the stable value of one cron field for a Schedule.
func Slot(namespace, name, salt, field string, size, offset int) int {
	sum := sha256.Sum256([]byte(namespace + "/" + name + ":" + salt + ":" + field))
	return offset + int(binary.BigEndian.Uint64(sum[:8])%uint64(size))
}

// Compute expands a random macro into a cron expression; any other schedule
// is returned trimmed, with macro false.
func Compute(namespace, name, salt, spec string) (expr string, macro bool) {
	s := strings.TrimSpace(spec)
	slot := func(field string, size, offset int) int { return Slot(namespace, name, salt, field, size, offset) }
	m, h := slot("minute", 60, 0), slot("hour", 24, 0)
	switch s {
	case HourlyRandom:
		return fmt.Sprintf("%d * * * *", m), true
	case DailyRandom:
		return fmt.Sprintf("%d %d * * *", m, h), true
	case WeeklyRandom:
		return fmt.Sprintf("%d %d * * %d", m, h, slot("dow", 7, 0)), true
	case MonthlyRandom:
		return fmt.Sprintf("%d %d %d * *", m, h, slot("dom", 28, 1)), true
	case YearlyRandom:
		return fmt.Sprintf("%d %d %d %d *", m, h, slot("dom", 28, 1), slot("month", 12, 1)), true
	}
	return s, false
}

// parser accepts what the CronJob controller accepts: five fields and the
// standard descriptors (@hourly, @daily, …).
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Validate checks a computed expression the way the CronJob controller will.
func Validate(expr string) error {
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return fmt.Errorf("schedule %q: set spec.timeZone instead of a TZ= prefix", expr)
	}
	if _, err := parser.Parse(expr); err != nil {
		return fmt.Errorf("schedule %q is not a cron expression (minute hour day-of-month month day-of-week) or macro: %w", expr, err)
	}
	return nil
}

// Next is the first run after t, in time zone tz (an IANA name; empty means
// UTC, which the operator documents as the zone of Schedules without one).
func Next(expr, tz string, after time.Time) (time.Time, error) {
	loc := time.UTC
	if tz != "" {
		var err error
		if loc, err = time.LoadLocation(tz); err != nil {
			return time.Time{}, fmt.Errorf("unknown time zone %q: use an IANA name such as Europe/Berlin", tz)
		}
	}
	sched, err := parser.Parse(expr)
	if err != nil {
		return time.Time{}, err
	}
	return sched.Next(after.In(loc)), nil
}
