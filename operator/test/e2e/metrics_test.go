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

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/promtext"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// alertRules renders the servicemonitor component and returns its
// PrometheusRule's spec as a Prometheus rules file and every expression.
func alertRules(t *testing.T) (file []byte, exprs []string) {
	t.Helper()
	objs := render(t, build{name: "servicemonitor", base: "operator", components: []string{"metrics", "servicemonitor"}})
	rule := find(objs, "PrometheusRule", "ansible-playbook-operator")
	if rule == nil {
		t.Fatal("the servicemonitor component has no PrometheusRule")
	}
	spec := rule.Object["spec"].(map[string]any)
	file, err := yaml.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range spec["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			exprs = append(exprs, r.(map[string]any)["expr"].(string))
		}
	}
	return file, exprs
}

// TestPrometheusRule_promtool checks the alerts with Prometheus' own promtool.
func TestPrometheusRule_promtool(t *testing.T) {
	file, exprs := alertRules(t)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: run `make deps` (Debian package prometheus)")
	}
	r := mustSh(t, "", nil, "", promtool, "check", "rules", path)
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(exprs)); !strings.Contains(r.stdout, want) {
		t.Errorf("promtool check rules: want %q in\n%s", want, r)
	}
	// The control: promtool rejects a broken expression.
	bad := bytes.Replace(file, []byte("sum by (kind)"), []byte("sum by (kind"), 1)
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := sh("", nil, "", promtool, "check", "rules", path); r.err == nil {
		t.Errorf("promtool accepted a broken expression:\n%s", r)
	}
}

var (
	selectorRE = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
	matcherRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|=)\s*"([^"]*)"`)
)

// TestPrometheusRule_metricsAreScraped runs the operator's manager binary
// against the API server and scrapes it: every series selector of every
// alert (except `up`, which Prometheus makes) matches a scraped series.
func TestPrometheusRule_metricsAreScraped(t *testing.T) {
	requireEnv(t)
	_, exprs := alertRules(t)
	ns := "metrics-scrape"
	ctx := context.Background()
	if err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	metricsAddr, probeAddr := startManager(t, ns)
	// A Repository to reconcile (its host does not answer: an error counts).
	repo := &ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: ns},
		Spec: ansiblev1alpha1.RepositorySpec{URL: "https://127.0.0.1:1/site.git", Branch: "main"}}
	if err := k8sClient.Create(ctx, repo); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, "http://"+probeAddr+"/readyz")

	type selector struct{ text, name, matchers string }
	var sels []selector
	for _, e := range exprs {
		for _, m := range selectorRE.FindAllStringSubmatch(e, -1) {
			if m[1] != "up" {
				sels = append(sels, selector{m[0], m[1], m[2]})
			}
		}
	}
	// Every alert but the one on `up` names at least one of our series.
	for _, e := range exprs {
		if !strings.Contains(e, "up{") && len(selectorRE.FindAllString(e, -1)) == 0 {
			t.Fatalf("found no series selector in %q: write selectors with braces (name{})", e)
		}
	}
	var missing []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		series := scrape(t, "http://"+metricsAddr+"/metrics")
		missing = missing[:0]
		for _, s := range sels {
			if !anySeriesMatches(t, series, s.name, s.matchers) {
				missing = append(missing, s.text)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Errorf("no scraped series matches %q", missing)
	}
	// The series are not only there: the failing Repository was counted.
	testenv.Eventually(t, "the Repository's failed reconcile counted", 30*time.Second, func() (bool, string) {
		samples := scrape(t, "http://"+metricsAddr+"/metrics")["ansible_operator_reconcile_total"]
		n, found := promtext.Sum(samples, "ansible_operator_reconcile_total", map[string]string{"kind": "Repository", "result": "error"})
		return found && n != 0, fmt.Sprintf("ansible_operator_reconcile_total{kind=Repository,result=error} %v (found %v)", n, found)
	})
	t.Logf("%d selectors of %d alerts matched a live scrape", len(sels), len(exprs))
	checkDocumentedMetrics(t, scrape(t, "http://"+metricsAddr+"/metrics"))
}

// startManager runs the manager binary of the operator image's build
// context, watching ns, and returns its metrics and probe addresses.
func startManager(t *testing.T, ns string) (metricsAddr, probeAddr string) {
	t.Helper()
	metricsAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	probeAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startProcess(t, managerBinary(t), []string{"KUBECONFIG=" + kubeconfig, "POD_NAMESPACE=" + ns},
		"--leader-elect=true", "--leader-election-id=scrape", "--namespace="+ns,
		"--metrics-bind-address="+metricsAddr, "--health-probe-bind-address="+probeAddr,
		"--operator-image=localhost:5000/ansible-playbook-operator:dev")
	return metricsAddr, probeAddr
}

// startProcess starts a long-running process for the test; its output is
// logged when the test fails, and returned by the function it returns.
func startProcess(t *testing.T, bin string, env []string, args ...string) (output func() string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var (
		mu   sync.Mutex
		logs bytes.Buffer
	)
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, &logs}, lockedWriter{&mu, &logs}
	output = func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", filepath.Base(bin), output())
		}
	})
	return output
}

// lockedWriter serializes a process's stdout and stderr into one buffer
// that the test reads while the process runs.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 in 30s (last error %v)", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// scrape reads a metrics endpoint into its samples by metric name.
func scrape(t *testing.T, url string) map[string][]promtext.Sample {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]promtext.Sample{}
	for _, s := range promtext.Parse(string(body)) {
		out[s.Name] = append(out[s.Name], s)
	}
	return out
}

// anySeriesMatches applies the =, != and =~ matchers of a selector.
func anySeriesMatches(t *testing.T, series map[string][]promtext.Sample, name, matchers string) bool {
	t.Helper()
	for _, sample := range series[name] {
		ok := true
		for _, m := range matcherRE.FindAllStringSubmatch(matchers, -1) {
			v := sample.Labels[m[1]]
			switch m[2] {
			case "=":
				ok = ok && v == m[3]
			case "!=":
				ok = ok && v != m[3]
			case "=~":
				ok = ok && regexp.MustCompile("^(?:"+m[3]+")$").MatchString(v)
			}
		}
		if ok {
			return true
		}
	}
	return false
}

var docRowRE = regexp.MustCompile("(?m)^\\| `([a-z_:]+)` \\| (counter|gauge|histogram) \\|([^|]*)\\|")

// checkDocumentedMetrics compares docs/metrics.md with a scrape: every
// documented metric is served with exactly the documented labels, and every
// served metric of the operator, controller-runtime, the work queues, leader
// election and the REST client is documented.
func checkDocumentedMetrics(t *testing.T, series map[string][]promtext.Sample) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repoRoot(), "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range docRowRE.FindAllStringSubmatch(string(doc), -1) {
		name, typ := m[1], m[2]
		var want []string
		for _, l := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(m[3], -1) {
			want = append(want, l[1])
		}
		served := name
		if typ == "histogram" {
			served = name + "_count"
		}
		documented[served] = true
		sets := series[served]
		if len(sets) == 0 {
			t.Errorf("docs/metrics.md lists %s, the operator does not serve it", name)
			continue
		}
		got := map[string]bool{}
		for _, sample := range sets {
			for k := range sample.Labels {
				got[k] = true
			}
		}
		var gotList []string
		for k := range got {
			gotList = append(gotList, k)
		}
		sort.Strings(gotList)
		sort.Strings(want)
		if strings.Join(gotList, ",") != strings.Join(want, ",") {
			t.Errorf("docs/metrics.md: %s has labels %v, the scrape %v", name, want, gotList)
		}
	}
	if len(documented) < 20 {
		t.Fatalf("parsed %d rows of docs/metrics.md: the table parser misses rows", len(documented))
	}
	for name := range series {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if documented[name] || documented[base+"_count"] {
			continue
		}
		for _, p := range []string{"ansible_operator_", "controller_runtime_", "workqueue_", "leader_election_", "rest_client_"} {
			if strings.HasPrefix(name, p) {
				t.Errorf("the operator serves %s, docs/metrics.md does not list it", name)
			}
		}
	}
}
