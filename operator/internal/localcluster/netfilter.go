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
	"bufio"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// The node's packet filtering: two chains of its own in the filter table,
// jumped to first from FORWARD and INPUT, and kube-proxy's chains. Pods
// reach each other (directly and through Service VIPs) and the host's
// bridge address, nothing else; nothing else reaches them. Docker's FORWARD
// policy (DROP) and every other rule of the host stay as they are.

const (
	forwardChain = "APO-LOCALCLUSTER-FORWARD"
	inputChain   = "APO-LOCALCLUSTER-INPUT"
)

// ownChains is the rules of the node's chains, in iptables-restore form.
func ownChains(l Layout) string {
	b := l.Bridge
	return fmt.Sprintf(`*filter
:%[1]s - [0:0]
:%[2]s - [0:0]
-A %[1]s -i %[3]s -o %[3]s -m comment --comment "localcluster: pod to pod, also through a Service VIP" -j ACCEPT
-A %[1]s -i %[3]s -m comment --comment "localcluster: pods reach nothing beyond the bridge" -j DROP
-A %[1]s -o %[3]s -m comment --comment "localcluster: nothing beyond the bridge reaches pods" -j DROP
-A %[2]s -i %[3]s -m conntrack --ctstate ESTABLISHED,RELATED -m comment --comment "localcluster: replies to the host (kube-proxy's SNAT is undone before INPUT)" -j ACCEPT
-A %[2]s -i %[3]s -d %[4]s/32 -m comment --comment "localcluster: pods reach the host's bridge address" -j ACCEPT
-A %[2]s -i %[3]s -m comment --comment "localcluster: and no other host address" -j DROP
-I FORWARD 1 -j %[1]s
-I INPUT 1 -j %[2]s
COMMIT
`, forwardChain, inputChain, b, l.HostIP)
}

// cleanupScript is an iptables-restore --noflush script that removes every
// chain of table dumps (iptables-save output) whose name starts with one of
// prefixes, and every rule of other chains that jumps to one. Rules are
// deleted by their saved spec, which iptables-restore parses with the
// quoting iptables-save wrote. Empty when there is nothing to remove.
func cleanupScript(save string, prefixes []string) string {
	owned := func(chain string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(chain, p) {
				return true
			}
		}
		return false
	}
	var out strings.Builder
	var table string
	var chains, deletes []string
	flush := func() {
		if table == "" || (len(chains) == 0 && len(deletes) == 0) {
			return
		}
		fmt.Fprintf(&out, "*%s\n", table)
		for _, d := range deletes {
			fmt.Fprintf(&out, "-D %s\n", d)
		}
		for _, c := range chains {
			fmt.Fprintf(&out, "-F %s\n", c)
		}
		for _, c := range chains {
			fmt.Fprintf(&out, "-X %s\n", c)
		}
		out.WriteString("COMMIT\n")
	}
	sc := bufio.NewScanner(strings.NewReader(save))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "*"):
			flush()
			table, chains, deletes = strings.TrimPrefix(line, "*"), nil, nil
		case strings.HasPrefix(line, ":"):
			if name := strings.Fields(line[1:]); len(name) > 0 && owned(name[0]) {
				chains = append(chains, name[0])
			}
		case strings.HasPrefix(line, "-A "):
			rest := strings.TrimPrefix(line, "-A ")
			chain, _, _ := strings.Cut(rest, " ")
			if !owned(chain) && owned(jumpTarget(rest)) {
				deletes = append(deletes, rest)
			}
		}
	}
	flush()
	return out.String()
}

// jumpTarget is the -j (or -g) target of a saved rule.
func jumpTarget(rule string) string {
	f := strings.Fields(rule)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "-j" || f[i] == "--jump" || f[i] == "-g" || f[i] == "--goto" {
			return f[i+1]
		}
	}
	return ""
}

// nftTables lists `nft list tables` output as "family name" entries.
func nftTables(list string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(list))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "table" {
			out = append(out, f[1]+" "+f[2])
		}
	}
	slices.Sort(out)
	return out
}

// createdTables are the tables in now that were not in before.
func createdTables(before, now []string) []string {
	var out []string
	for _, t := range now {
		if !slices.Contains(before, t) {
			out = append(out, t)
		}
	}
	return out
}

// chainPrefixes are the chains the node owns: its own and those kube-proxy
// and the kubelet create.
var chainPrefixes = []string{"APO-LOCALCLUSTER-", "KUBE-"}

// netfilterTools are the iptables front ends of both families; kube-proxy
// programs both.
var netfilterTools = []string{"iptables", "ip6tables"}

// run runs a command and returns its standard output; its standard error
// (iptables-save warns there about legacy tables) goes into the error.
func run(name string, stdin string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("failed to run %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// installChains adds the node's chains (after removing any a killed run
// left).
func installChains(l Layout) error {
	if err := removeChains([]string{"APO-LOCALCLUSTER-"}); err != nil {
		return err
	}
	_, err := run("iptables-restore", ownChains(l), "--noflush")
	return err
}

// removeChains removes, in both families, the chains with prefixes and
// the jumps to them.
func removeChains(prefixes []string) error {
	for _, tool := range netfilterTools {
		save, err := run(tool+"-save", "")
		if err != nil {
			return err
		}
		if script := cleanupScript(save, prefixes); script != "" {
			if _, err := run(tool+"-restore", script, "--noflush"); err != nil {
				return err
			}
		}
	}
	return nil
}
