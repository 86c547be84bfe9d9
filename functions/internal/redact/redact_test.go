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

package redact

import (
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestSecrets_Text(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	var s Secrets
	s.AddBasic("robot", "hunter2-password")
	s.Add("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl") // a bearer token
	s.Add(b64("ci:from-a-docker-config-auth"))                 // config.json "auth" value

	for name, tc := range map[string]struct {
		in   string
		want string
	}{
		"a recorded password":                                    {"login failed for hunter2-password", "login failed for REDACTED"},
		"user:password as a server decodes it":                   {`you sent "robot:hunter2-password"`, `you sent "REDACTED"`},
		"user:password in base64":                                {"got " + b64("robot:hunter2-password"), "got REDACTED"},
		"the password in base64":                                 {"got " + b64("hunter2-password"), "got REDACTED"},
		"a bearer token without its scheme":                      {"invalid token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", "invalid token REDACTED"},
		"a docker config auth value decoded":                     {"ci:from-a-docker-config-auth refused", "REDACTED refused"},
		"the password inside a decoded docker config auth value": {"from-a-docker-config-auth refused", "REDACTED refused"},
		"URL userinfo":                                           {`Get "https://u:p@registry.example.com/v2/"`, `Get "https://REDACTED@registry.example.com/v2/"`},
		"userinfo without a scheme before a host":                {"mirror user:pw@mirror.example.com/hub", "mirror REDACTED@mirror.example.com/hub"},
		"userinfo without a scheme before host:port":             {"to: user:pw@localhost:5000/hub", "to: REDACTED@localhost:5000/hub"},
		"token parameters":                                       {"GET /token?scope=x&access_token=abc123xyz", "GET /token?scope=x&access_token=REDACTED"},
		"JSON credential fields":                                 {`{"token":"abc.def","password": "pw12345"}`, `{"token":"REDACTED","password": "REDACTED"}`},
		"Authorization header values":                            {"Authorization: Basic cm9ib3Q6eA==", "Authorization: Basic REDACTED"},
		"a pinned reference is not taken for userinfo":           {"nginx:1.25@" + digest, "nginx:1.25@" + digest},
		"a pinned reference with a registry port is left alone":  {"localhost:5000/app:1@" + digest, "localhost:5000/app:1@" + digest},
		"the username alone stays readable":                      {"robot/app: unauthorized", "robot/app: unauthorized"},
		"text without credentials is unchanged, lines and all":   {"invalid config:\n  spec.mode: bad", "invalid config:\n  spec.mode: bad"},
		"values shorter than four characters are not cut out":    {"pw", "pw"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := s.Text(tc.in); got != tc.want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}

	t.Run("a nil Secrets removes by pattern", func(t *testing.T) {
		var none *Secrets
		if got, want := none.Text("https://a:b@h.example/x hunter2-password"), "https://REDACTED@h.example/x hunter2-password"; got != want {
			t.Errorf("Text = %q, want %q", got, want)
		}
		none.Add("ignored") // must not panic
	})
}

func TestSecrets_concurrentUse(t *testing.T) {
	var s Secrets
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			secret := strings.Repeat(string(rune('a'+i)), 8)
			s.Add(secret)
			if got := s.Text("x " + secret); got != "x "+Marker {
				t.Errorf("Text = %q", got)
			}
		})
	}
	wg.Wait()
}

// TestSecrets_manyValues: with hundreds of values recorded (a run's
// tokens), every one is found wherever it stands in a text, and a text
// that holds none comes back as it was.
func TestSecrets_manyValues(t *testing.T) {
	s := &Secrets{}
	var tokens []string
	for i := range 100 {
		tok := fmt.Sprintf("tok%03d-%x", i, i*7919+12345)
		tokens = append(tokens, tok)
		s.Add(tok)
	}
	const clean = "pinned registry.example.com/team/app:1.0 to sha256:0123456789abcdef (Deployment app-1, spec.template.spec.containers[0].image)"
	if got := s.Text(clean); got != clean {
		t.Errorf("Text(%q) = %q, want it unchanged", clean, got)
	}
	for i, tok := range tokens {
		for _, text := range []string{tok, "x" + tok, clean + " " + tok, tok + " " + clean, clean[:i%len(clean)] + tok + clean[i%len(clean):]} {
			if got := s.Text(text); strings.Contains(got, tok) || !strings.Contains(got, Marker) {
				t.Fatalf("Text(%q) = %q: the value %q is still there", text, got, tok)
			}
		}
	}
}
