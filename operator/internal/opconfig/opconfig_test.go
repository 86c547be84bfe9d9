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

package opconfig

import (
	"strings"
	"testing"
)

const d64 = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParse(t *testing.T) {
	head := "apiVersion: config.ansible.cloud37.dev/v1alpha1\nkind: OperatorConfig\n"
	cases := map[string]struct {
		doc     string
		image   string // executor image with no runtime.image
		pinned  bool
		errPart string
	}{
		"empty config uses the default tag 13": {doc: "", image: "kenchrcum/ansible-runner:13"},
		"integer tag is accepted":              {doc: head + "executorDefaults:\n  image:\n    repository: r/x\n    tag: 14\n", image: "r/x:14"},
		"digest wins over the tag":             {doc: head + "executorDefaults:\n  image:\n    repository: r/x\n    tag: \"14\"\n    digest: " + d64 + "\n", image: "r/x@" + d64, pinned: true},
		"empty digest falls back to the tag":   {doc: head + "executorDefaults:\n  image:\n    repository: r/x\n    tag: \"14\"\n    digest: \"\"\n", image: "r/x:14"},
		"float tag says quote the tag":         {doc: head + "executorDefaults:\n  image:\n    tag: 0.10\n", errPart: "quote the tag"},
		"invalid digest names the field":       {doc: head + "executorDefaults:\n  image:\n    digest: sha256:12ab\n", errPart: "executorDefaults.image.digest \"sha256:12ab\": invalid digest format"},
		"unknown field is rejected":            {doc: head + "executorDefault: {}\n", errPart: "unknown field"},
		"wrong kind is rejected":               {doc: "apiVersion: v1\nkind: ConfigMap\n", errPart: "want config.ansible.cloud37.dev/v1alpha1 OperatorConfig"},
		"pvc cache needs a claim name":         {doc: head + "executorDefaults:\n  cache:\n    strategy: pvc\n", errPart: "pvcName is required"},
		"pull policy is an enum":               {doc: head + "executorDefaults:\n  image:\n    pullPolicy: Sometimes\n", errPart: "accepted values are Always, IfNotPresent, Never"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := Parse([]byte(tc.doc))
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if img, pinned := c.ExecutorImage(""); img != tc.image || pinned != tc.pinned {
				t.Errorf("ExecutorImage = %q pinned=%v, want %q pinned=%v", img, pinned, tc.image, tc.pinned)
			}
		})
	}
}

func TestExecutorImage_runtimeImageWins(t *testing.T) {
	c := Default()
	if img, pinned := c.ExecutorImage("my/runner:1@" + d64); img != "my/runner:1@"+d64 || !pinned {
		t.Errorf("got %q %v", img, pinned)
	}
	if img, pinned := c.ExecutorImage("my/runner:1"); img != "my/runner:1" || pinned {
		t.Errorf("got %q %v", img, pinned)
	}
}
