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

package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A process of the node is known by its PID and its start time (field 22
// of /proc/PID/stat), so that a PID the kernel gave to another process
// since is never signalled. Components run in their own session and
// outlive the command that started them (`make cluster-up` returns).
//
// PID 1 on these machines does not reap orphans: a component that exits
// after its starter is gone stays a zombie. Liveness therefore reads the
// process state, and a zombie counts as stopped.

// procRecord is a started component's PID file.
type procRecord struct {
	PID       int      `json:"pid"`
	StartTime uint64   `json:"startTime"`
	Argv      []string `json:"argv"`
}

// procStat reads a process's state letter and start time.
func procStat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	return parseStat(string(b))
}

// parseStat parses /proc/PID/stat: the command name is parenthesized and
// may hold spaces and parentheses, so fields are counted after the last ')'.
func parseStat(s string) (state byte, start uint64, err error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed /proc stat %q", s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field 22 (starttime) is f[19].
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, fmt.Errorf("malformed /proc stat %q", s)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, err
}

// running reports whether r's process still runs (not a zombie, not a
// recycled PID).
func (r procRecord) running() bool {
	state, start, err := procStat(r.PID)
	return err == nil && start == r.StartTime && state != 'Z' && state != 'X'
}

// processes starts and stops the node's components and records them in
// dir (one JSON file per component).
type processes struct {
	dir  string // PID files
	logs string // one log file per component
}

func (p processes) recordFile(name string) string { return filepath.Join(p.dir, name+".json") }

// LogFile is the component's log.
func (p processes) logFile(name string) string { return filepath.Join(p.logs, name+".log") }

func (p processes) record(name string) (procRecord, bool) {
	b, err := os.ReadFile(p.recordFile(name))
	if err != nil {
		return procRecord{}, false
	}
	var r procRecord
	if json.Unmarshal(b, &r) != nil {
		return procRecord{}, false
	}
	return r, true
}

// alive reports whether the component runs.
func (p processes) alive(name string) bool {
	r, ok := p.record(name)
	return ok && r.running()
}

// start runs argv as the component name, in a session of its own, its
// output appended to its log.
func (p processes) start(name string, env []string, argv ...string) error {
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(p.logs, 0o755); err != nil {
		return err
	}
	log, err := os.OpenFile(p.logFile(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(log, "\n==> %s %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("failed to start %s: %w", name, err)
	}
	// Reap it if it exits while this process lives, so that it is not a
	// zombie of ours.
	go func() { _ = cmd.Wait() }()
	_, startTime, err := procStat(cmd.Process.Pid)
	if err != nil {
		return fmt.Errorf("failed to read the start time of %s (pid %d): %w", name, cmd.Process.Pid, err)
	}
	b, err := json.Marshal(procRecord{PID: cmd.Process.Pid, StartTime: startTime, Argv: argv})
	if err != nil {
		return err
	}
	return os.WriteFile(p.recordFile(name), b, 0o644)
}

// stop sends SIGTERM, then SIGKILL after grace, and waits until the
// component is gone. A component not running is already stopped.
func (p processes) stop(name string, grace time.Duration) error {
	r, ok := p.record(name)
	if ok && r.running() {
		if err := terminate(r, grace); err != nil {
			return fmt.Errorf("failed to stop %s (pid %d): %w", name, r.PID, err)
		}
	}
	if err := os.Remove(p.recordFile(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func terminate(r procRecord, grace time.Duration) error {
	_ = syscall.Kill(r.PID, syscall.SIGTERM)
	if waitGone(r, grace) {
		return nil
	}
	_ = syscall.Kill(r.PID, syscall.SIGKILL)
	if waitGone(r, 10*time.Second) {
		return nil
	}
	return errors.New("still running after SIGKILL")
}

func waitGone(r procRecord, d time.Duration) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		if !r.running() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// sweep kills, by SIGKILL, every process whose command line contains one
// of marks (the node's directories and addresses) and is not this process:
// what a killed earlier run left behind, when its PID files are gone too.
// It returns what it killed.
func sweep(marks []string) []string {
	entries, _ := os.ReadDir("/proc")
	var killed []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || pid == os.Getppid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		cmdline := strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
		for _, m := range marks {
			if strings.Contains(cmdline, m) {
				state, start, err := procStat(pid)
				if err != nil || state == 'Z' {
					break
				}
				r := procRecord{PID: pid, StartTime: start}
				_ = syscall.Kill(pid, syscall.SIGKILL)
				waitGone(r, 5*time.Second)
				killed = append(killed, fmt.Sprintf("%d %s", pid, cmdline))
				break
			}
		}
	}
	return killed
}
