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

package pinimages

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/signature"
)

// benchBinary is the pin-images binary the whole-process benchmark runs:
// $PIN_IMAGES_BIN (make bench builds bin/pin-images), else one built here.
func benchBinary(b *testing.B) string {
	b.Helper()
	if bin := os.Getenv("PIN_IMAGES_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(b.TempDir(), "pin-images")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "../../cmd/pin-images")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building pin-images: %v\n%s", err, out)
	}
	return bin
}

// peakRSSLauncher builds testdata/peakrss, which runs a command and writes
// its true peak RSS (see there why the benchmark's own child would not
// report it).
func peakRSSLauncher(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "peakrss")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/peakrss")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building peakrss: %v\n%s", err, out)
	}
	return bin
}

// benchRuns is how many times each case runs; the median is reported
// (BENCH_RUNS, default 5).
func benchRuns(b *testing.B) int {
	if s := os.Getenv("BENCH_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("BENCH_RUNS=%q is not a positive number", s)
		}
		return n
	}
	return 5
}

// processRun is one whole-process run of the binary.
type processRun struct {
	start, end time.Time
	wall       time.Duration
	maxRSS     int64 // bytes
	out        int   // bytes on stdout
}

// runProcess runs bin as a KRM function on the ResourceList in file and
// checks that it pinned want image fields; with launcher (peakRSSLauncher)
// the run's peak memory is measured too, and its wall includes the
// launcher's own start.
func runProcess(b *testing.B, bin, launcher, file string, env []string, want int) processRun {
	b.Helper()
	in, err := os.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin)
	rssFile := ""
	if launcher != "" {
		rssFile = filepath.Join(b.TempDir(), "peakrss")
		cmd = exec.Command(launcher, bin)
		env = append(slices.Clip(env), "PEAKRSS_FILE="+rssFile)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.Env = in, &stdout, &stderr, env
	start := time.Now()
	err = cmd.Run()
	end := time.Now()
	wall := end.Sub(start)
	if err != nil {
		b.Fatalf("pin-images: %v\n%s", err, stderr.String())
	}
	if got := bytes.Count(stdout.Bytes(), []byte("@sha256:")); got < want {
		b.Fatalf("pin-images pinned %d image fields, want %d:\n%s", got, want, stderr.String())
	}
	rss := int64(0)
	if rssFile != "" {
		data, err := os.ReadFile(rssFile)
		if err != nil {
			b.Fatal(err)
		}
		kib, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil {
			b.Fatalf("peakrss wrote %q: %v", data, err)
		}
		rss = kib << 10 // KiB on Linux
	}
	return processRun{start: start, end: end, wall: wall, maxRSS: rss, out: stdout.Len()}
}

func median[T int64 | time.Duration | float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func pinImagesConfig(spec string) string {
	return "functionConfig:\n  apiVersion: fn.ansible.cloud37.dev/v1alpha1\n  kind: PinImages\n  metadata:\n    name: pin\n  spec:\n" + spec
}

// BenchmarkWholeProcess times the pin-images binary as kustomize and kpt
// run it: a whole process, a ResourceList on stdin, the corpus of
// BenchmarkResolve (2,000 Deployments, 4,000 image fields, 500 distinct
// references over 50 repositories) through a proxy that delays every
// request 20 ms and counts them; the cases run interleaved and the median of
// BENCH_RUNS runs is printed, one line per case, for scripts:
//
//	whole-process c=8: wall 1.40 s, bound 1.28 s, ratio 1.09, 1.01 requests/ref
//
// The bound is what N distinct references cost at concurrency c with a
// delay d per request: ceil(N/c)×d for the lookups plus d for the ping.
// Behind a token service each repository's token is one more request: the
// bound counts them as lookups. Then the locked case: 10,000 Deployments
// pinned from a lock, no network, with the process's peak memory.
func BenchmarkWholeProcess(b *testing.B) {
	bin, launcher := benchBinary(b), peakRSSLauncher(b)
	reg := registrytest.StartInProcess(b)
	for i := range benchRepos * benchTags {
		reg.PushRandom(b, strings.TrimPrefix(benchRef(reg.Host, i), reg.Host+"/"))
	}
	anonymous := registrytest.NewProxy(b, reg.Host)
	anonymous.SetDelay(benchDelay)
	bearer := registrytest.NewProxy(b, reg.Host)
	bearer.SetDelay(benchDelay)
	bearer.RequireBearer()
	dir := b.TempDir()
	env := append(os.Environ(), "DOCKER_CONFIG="+dir)
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
		return path
	}
	type benchCase struct {
		name        string
		proxy       *registrytest.Proxy
		concurrency int
		file        string
		walls       []time.Duration
		perRef      []float64
		// head is the time to the first request, tail from the last
		// answer to the process's end.
		head, tail []time.Duration
		counts     map[string]int64
	}
	var cases []*benchCase
	for _, tc := range []struct {
		name  string
		proxy *registrytest.Proxy
		c     int
	}{{"c=8", anonymous, 8}, {"c=16", anonymous, 16}, {"c=8 bearer", bearer, 8}} {
		in := corpus(tc.proxy.Host, benchCorpus, pinImagesConfig(fmt.Sprintf("    concurrency: %d\n", tc.c)))
		cases = append(cases, &benchCase{name: tc.name, proxy: tc.proxy, concurrency: tc.c,
			file: write(strings.ReplaceAll(tc.name, " ", "-")+".yaml", in)})
	}
	locked := write("locked.yaml", lockedCorpus(b, nil, ""))
	distinct := benchRepos * benchTags
	var lockedRuns []processRun
	for b.Loop() {
		for range benchRuns(b) {
			for _, c := range cases {
				c.proxy.Reset()
				run := runProcess(b, bin, "", c.file, env, benchCorpus*benchPerItem)
				c.walls = append(c.walls, run.wall)
				first, last := c.proxy.Span()
				c.head, c.tail = append(c.head, first.Sub(run.start)), append(c.tail, run.end.Sub(last))
				c.perRef = append(c.perRef, float64(c.proxy.Requests())/float64(distinct))
				c.counts = c.proxy.RequestsByMethod()
			}
			lockedRuns = append(lockedRuns, runProcess(b, bin, launcher, locked, env, benchLocked*benchPerItem))
		}
	}
	for _, c := range cases {
		requests := distinct + int(c.counts[registrytest.TokenKey])
		bound := time.Duration(math.Ceil(float64(requests)/float64(c.concurrency)))*benchDelay + benchDelay
		wall := median(c.walls)
		fmt.Printf("whole-process %s: wall %.2f s, bound %.2f s, ratio %.2f, %.2f requests/ref\n",
			c.name, wall.Seconds(), bound.Seconds(), wall.Seconds()/bound.Seconds(), median(c.perRef))
		fmt.Printf("  requests: %d pings, %d tokens, %d HEAD, %d GET; first request after %d ms, exit %d ms after the last answer; walls %v\n",
			c.counts[registrytest.PingKey], c.counts[registrytest.TokenKey], c.counts["HEAD"], c.counts["GET"],
			median(c.head).Milliseconds(), median(c.tail).Milliseconds(), roundAll(c.walls))
	}
	walls, rss := make([]time.Duration, len(lockedRuns)), make([]int64, len(lockedRuns))
	for i, r := range lockedRuns {
		walls[i], rss[i] = r.wall, r.maxRSS
	}
	fmt.Printf("whole-process locked: %d resources (%d image fields) from the lock, no network: wall %.2f s, max RSS %d MiB, output %.1f MB\n",
		benchLocked, benchLocked*benchPerItem, median(walls).Seconds(), median(rss)>>20, float64(lockedRuns[0].out)/1e6)
	fmt.Printf("  walls %v\n", roundAll(walls))
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(10 * time.Millisecond)
	}
	return out
}

// lockedCorpus is the ResourceList of the locked benchmarks: 10,000
// Deployments on lockedHost, the lock of their 500 references (each entry
// marked verified by key, when there is one), mode locked and the spec
// lines extra.
func lockedCorpus(b testing.TB, key *signature.Key, extra string) []byte {
	b.Helper()
	lk := lock.New()
	for i := range benchRepos * benchTags {
		k, digest := lock.Key{Image: benchRef(lockedHost, i)}, derived(benchRef(lockedHost, i))
		lk.Set(k, digest, time.Unix(0, 0))
		if key != nil {
			lk.SetVerified(k, digest, key.Name, key.Fingerprint)
		}
	}
	lockYAML, err := lk.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	in := corpus(lockedHost, benchLocked, "")
	in = append(in, []byte(indentItem(string(lockYAML)))...)
	return append(in, []byte(pinImagesConfig("    mode: locked\n"+extra))...)
}

// lockedHost is the registry of the locked benchmarks' references (never
// asked).
const lockedHost = "registry.example.com"
