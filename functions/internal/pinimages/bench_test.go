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
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/kio"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/signature"
)

// The corpus of the resolution benchmark: Deployments with two containers,
// naming 500 distinct references over 50 repositories.
const (
	benchRepos   = 50
	benchTags    = 10 // per repository: 50 × 10 = 500 distinct references
	benchDelay   = 20 * time.Millisecond
	benchCorpus  = 2000 // resources
	benchLocked  = 10000
	benchPerItem = 2
)

func benchRef(host string, i int) string {
	r := i % (benchRepos * benchTags)
	return fmt.Sprintf("%s/bench/repo%02d:v%d", host, r/benchTags, r%benchTags)
}

// corpus renders n Deployments as a ResourceList; container j of Deployment
// i names reference (i*2+j) mod 500.
func corpus(host string, n int, fnConfig string) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n")
	for i := range n {
		fmt.Fprintf(&b, "- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: app-%d\n  spec:\n    template:\n      spec:\n        containers:\n", i)
		for j := range benchPerItem {
			fmt.Fprintf(&b, "        - name: c%d\n          image: %s\n", j, benchRef(host, i*benchPerItem+j))
		}
	}
	b.WriteString(fnConfig)
	return b.Bytes()
}

// BenchmarkResolve measures a cold run (new resolver: every repository pays
// its ping) over the corpus, through a proxy that adds 20 ms to every request
// and counts them, at concurrency 1, 8 and 16, and at 8 with verifyContent
// (a GET and a hash of every manifest besides the HEAD). `make bench` prints
// the table.
func BenchmarkResolve(b *testing.B) {
	reg := registrytest.StartInProcess(b)
	for i := range benchRepos * benchTags {
		reg.PushRandom(b, strings.TrimPrefix(benchRef(reg.Host, i), reg.Host+"/"))
	}
	proxy := registrytest.NewProxy(b, reg.Host)
	proxy.SetDelay(benchDelay)
	distinct := benchRepos * benchTags
	for _, tc := range []struct {
		concurrency   int
		verifyContent bool
	}{{1, false}, {8, false}, {16, false}, {8, true}} {
		c := tc.concurrency
		name := fmt.Sprintf("concurrency=%d", c)
		if tc.verifyContent {
			name += "/verifyContent"
		}
		b.Run(name, func(b *testing.B) {
			in := corpus(proxy.Host, benchCorpus, "")
			s, err := Config{Concurrency: c, VerifyContent: tc.verifyContent}.Validate()
			if err != nil {
				b.Fatal(err)
			}
			var wall time.Duration
			var requests int64
			for b.Loop() {
				proxy.Reset()
				start := time.Now()
				items := parseItems(b, in)
				res, err := registry.NewRemote(s.Registry)
				if err != nil {
					b.Fatal(err)
				}
				rep, err := Transform(context.Background(), Input{Resources: items}, s, res, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := ApplyToNodes(rep.Changes); err != nil {
					b.Fatal(err)
				}
				wall = time.Since(start)
				requests = proxy.Requests()
				if rep.HasErrors() || len(rep.Changes) != benchCorpus*benchPerItem {
					b.Fatalf("%d changes, want %d; errors: %v", len(rep.Changes), benchCorpus*benchPerItem, StderrLines(rep.Results))
				}
			}
			lower := time.Duration(math.Ceil(float64(distinct)/float64(c))) * benchDelay
			perRef := float64(requests) / float64(distinct)
			b.ReportMetric(perRef, "requests/ref")
			b.ReportMetric(wall.Seconds()/lower.Seconds(), "x-lower-bound")
			verify := ""
			if tc.verifyContent {
				verify = ", verifyContent"
			}
			fmt.Printf("resolve %d resources (%d image fields, %d distinct refs, %d repos), 20 ms/request, concurrency %2d%s: wall %v, %d requests = %.2f per distinct ref, lower bound ceil(%d/%d)×20ms = %v, ratio %.2f\n",
				benchCorpus, benchCorpus*benchPerItem, distinct, benchRepos, c, verify, wall.Round(time.Millisecond), requests, perRef, distinct, c, lower, wall.Seconds()/lower.Seconds())
		})
	}
}

// BenchmarkLocked measures the function's hot path: 10,000 Deployments in a
// ResourceList, pinned from the lock with no network, end to end (parse,
// transform, serialize).
func BenchmarkLocked(b *testing.B) {
	in := lockedCorpus(b, nil, "")
	var last time.Duration
	for b.Loop() {
		start := time.Now()
		var stderr bytes.Buffer
		p := &Processor{Ctx: context.Background(), Stderr: &stderr}
		if err := RunFunction(p, in, io.Discard); err != nil {
			b.Fatalf("%v: %s", err, stderr.String())
		}
		last = time.Since(start)
	}
	fmt.Printf("locked: %d resources (%d image fields) pinned from the lock, no network, end to end: %v\n", benchLocked, benchLocked*benchPerItem, last.Round(time.Millisecond))
}

// BenchmarkLockedSigned is BenchmarkLocked under policy.signatures: every
// entry records the key that verified it, and the run checks each against
// the policy's key, offline.
func BenchmarkLockedSigned(b *testing.B) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	key, err := signature.ParseKey("release", pubPEM)
	if err != nil {
		b.Fatal(err)
	}
	policy := "    policy:\n      signatures:\n      - prefixes: [" + lockedHost + "]\n        keys:\n        - name: release\n          publicKey: |\n"
	for _, l := range strings.Split(strings.TrimSpace(pubPEM), "\n") {
		policy += "            " + l + "\n"
	}
	in := lockedCorpus(b, &key, policy)
	var last time.Duration
	for b.Loop() {
		start := time.Now()
		var stderr, out bytes.Buffer
		p := &Processor{Ctx: context.Background(), Stderr: &stderr}
		if err := RunFunction(p, in, &out); err != nil {
			b.Fatalf("%v: %s", err, stderr.String())
		}
		last = time.Since(start)
		if !strings.Contains(out.String(), fmt.Sprintf("signatures: %d verified (%d from the lock's verifiedBy", benchLocked*benchPerItem, benchRepos*benchTags)) {
			b.Fatalf("not every signature verified from the lock:\n%s", out.String()[max(0, out.Len()-2000):])
		}
	}
	fmt.Printf("locked, signatures from the lock's verifiedBy: %d resources (%d image fields), no network, end to end: %v\n", benchLocked, benchLocked*benchPerItem, last.Round(time.Millisecond))
}

func parseItems(b *testing.B, rl []byte) []*Resource {
	b.Helper()
	items, err := (&kio.ByteReader{Reader: bytes.NewReader(rl)}).Read()
	if err != nil {
		b.Fatal(err)
	}
	out := make([]*Resource, len(items))
	for i, it := range items {
		out[i] = &Resource{Node: it}
	}
	return out
}

// oneLineJSON is a Pod written as one line of JSON with n containers, as
// generators emit it.
func oneLineJSON(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"wide"},"spec":{"containers":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"c%d","image":"registry.example.com/team/app%d:1"}`, i, i%500)
	}
	b.WriteString("]}}")
	return b.Bytes()
}

// BenchmarkSpliceOneLine measures pin -w's splice of 16,000 containers on one
// line: each edit finds its column, so the cost must be linear in the line.
func BenchmarkSpliceOneLine(b *testing.B) {
	const containers = 16000
	src := oneLineJSON(containers)
	f, err := ParseFile("wide.json.yaml", src)
	if err != nil {
		b.Fatal(err)
	}
	s, err := Config{}.Validate()
	if err != nil {
		b.Fatal(err)
	}
	rep, err := Transform(context.Background(), Input{Resources: Nodes([]*File{f})}, s, &fakeRegistry{}, nil)
	if err != nil || len(rep.Changes) != containers {
		b.Fatalf("%v: %d changes", err, len(rep.Changes))
	}
	var last time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := SpliceFile(src, rep.Changes); err != nil {
			b.Fatal(err)
		}
		last = time.Since(start)
	}
	fmt.Printf("splice: %d containers on one line of %d bytes: %v\n", containers, len(src), last.Round(time.Millisecond))
}
