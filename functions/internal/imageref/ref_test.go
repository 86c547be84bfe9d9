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

package imageref

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const d64 = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParse(t *testing.T) {
	cases := map[string]struct {
		in   string
		want Ref
		err  string // substring of the expected error; empty when parsing succeeds
	}{
		"docker hub short name with tag": {
			in:   "nginx:1.25",
			want: Ref{Original: "nginx:1.25", Repository: "nginx", Tag: "1.25", Name: "docker.io/library/nginx"},
		},
		"docker hub short name without tag keeps the tag implicit": {
			in:   "nginx",
			want: Ref{Original: "nginx", Repository: "nginx", Name: "docker.io/library/nginx"},
		},
		"index.docker.io is spelled docker.io": {
			in:   "index.docker.io/library/nginx:1.25",
			want: Ref{Original: "index.docker.io/library/nginx:1.25", Repository: "index.docker.io/library/nginx", Tag: "1.25", Name: "docker.io/library/nginx"},
		},
		"docker hub organisation": {
			in:   "docker.io/bitnami/redis:7",
			want: Ref{Original: "docker.io/bitnami/redis:7", Repository: "docker.io/bitnami/redis", Tag: "7", Name: "docker.io/bitnami/redis"},
		},
		"registry with port and no tag": {
			in:   "registry:5000/team/app",
			want: Ref{Original: "registry:5000/team/app", Repository: "registry:5000/team/app", Name: "registry:5000/team/app"},
		},
		"registry with port and tag": {
			in:   "registry:5000/team/app:1.2",
			want: Ref{Original: "registry:5000/team/app:1.2", Repository: "registry:5000/team/app", Tag: "1.2", Name: "registry:5000/team/app"},
		},
		"localhost with port, deep path, tag and digest": {
			in:   "localhost:5000/a/b/c/d:v1@" + d64,
			want: Ref{Original: "localhost:5000/a/b/c/d:v1@" + d64, Repository: "localhost:5000/a/b/c/d", Tag: "v1", Digest: d64, Name: "localhost:5000/a/b/c/d"},
		},
		"digest without tag": {
			in:   "ghcr.io/org/app@" + d64,
			want: Ref{Original: "ghcr.io/org/app@" + d64, Repository: "ghcr.io/org/app", Digest: d64, Name: "ghcr.io/org/app"},
		},
		"upper-case registry host is lower-cased in the name only": {
			in:   "Registry.Example.com/app:1",
			want: Ref{Original: "Registry.Example.com/app:1", Repository: "Registry.Example.com/app", Tag: "1", Name: "registry.example.com/app"},
		},
		"upper-case repository is rejected with advice": {
			in:  "registry.example.com/Team/App:1",
			err: "must be lower case",
		},
		"short digest is an invalid digest format": {
			in:  "nginx@sha256:abc",
			err: "invalid digest format",
		},
		"upper-case hex is an invalid digest format": {
			in:  "nginx@" + strings.ToUpper(d64),
			err: "invalid digest format",
		},
		"other algorithms are an invalid digest format": {
			in:  "nginx@sha512:" + strings.Repeat("a", 128),
			err: "invalid digest format",
		},
		"empty": {
			in:  "",
			err: "empty image reference",
		},
		"white space": {
			in:  " nginx",
			err: "white space",
		},
		"double colon": {
			in:  "nginx::1",
			err: "invalid image reference",
		},
		"tag with illegal character is blamed on the tag": {
			in:  "nginx:1.25$",
			err: `tag "1.25$"`,
		},
		"a tag with upper case and a bad character is blamed on the tag, not on lower case": {
			in:  "registry.example.com/team/app:Release_1.0!",
			err: `tag "Release_1.0!"`,
		},
		"a tag may not start with a dash": {
			in:  "app:-1",
			err: `tag "-1"`,
		},
		"an empty tag": {
			in:  "app:",
			err: "empty tag",
		},
		"a doubled slash is an empty path component": {
			in:  "host.example.com//app",
			err: "empty path component",
		},
		"a doubled slash after a Docker Hub namespace": {
			in:  "host//app",
			err: "empty path component",
		},
		"a trailing slash is an empty path component": {
			in:  "host.example.com/app/",
			err: "empty path component",
		},
		"a path component may not start with a dash": {
			in:  "-app",
			err: `path component "-app"`,
		},
		"a path component may not end with a separator": {
			in:  "registry:5000/team_/app",
			err: `path component "team_"`,
		},
		"two colons without a slash are no registry port": {
			in:  "host:p1:p2",
			err: `"host:p1"`,
		},
		"a registry port must be a number": {
			in:  "host:port/app:1",
			err: `registry "host:port"`,
		},
		"a registry host may not start with a dash": {
			in:  "-reg.example.com/app:1",
			err: `registry "-reg.example.com"`,
		},
		"a name longer than 255 characters": {
			in:  "r.example.com/" + strings.Repeat("a", 250),
			err: "longer than 255",
		},
		"a short Docker Hub name is bounded as normalized": {
			in:  strings.Repeat("a", 240),
			err: "longer than 255",
		},
		"a URL is no reference": {
			in:  "https://registry.example.com/app:1",
			err: "not a URL",
		},
		"credentials are refused without repeating them": {
			in:  "robot:s3cr3t@registry.example.com/app:1",
			err: `"REDACTED@registry.example.com/app:1": credentials are written into it`,
		},
		"a Docker Hub name with separators is valid": {
			in:   "my-org/my_app__x.y:v1.0-rc_1",
			want: Ref{Original: "my-org/my_app__x.y:v1.0-rc_1", Repository: "my-org/my_app__x.y", Tag: "v1.0-rc_1", Name: "docker.io/my-org/my_app__x.y"},
		},
		"an IPv6 registry with a port is valid": {
			in:   "[::1]:5000/team/app:1",
			want: Ref{Original: "[::1]:5000/team/app:1", Repository: "[::1]:5000/team/app", Tag: "1", Name: "[::1]:5000/team/app"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse(%q) error = %v, want one containing %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
			if got.String() != tc.in {
				t.Errorf("String() = %q, want the user's spelling %q", got.String(), tc.in)
			}
		})
	}
}

func TestRef_Key(t *testing.T) {
	// Spellings of one image share one key; different tags do not.
	same := []string{"nginx:latest", "nginx", "docker.io/nginx", "index.docker.io/library/nginx:latest", "docker.io/library/nginx"}
	for _, s := range same {
		r, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if r.Key() != "docker.io/library/nginx:latest" {
			t.Errorf("Key(%q) = %q", s, r.Key())
		}
	}
}

func TestRef_WithDigest(t *testing.T) {
	cases := map[string]struct {
		in      string
		dropTag bool
		want    string
	}{
		"tag kept for humans":         {in: "registry:5000/app:1.2", want: "registry:5000/app:1.2@" + d64},
		"tag dropped on request":      {in: "registry:5000/app:1.2", dropTag: true, want: "registry:5000/app@" + d64},
		"implicit tag stays implicit": {in: "nginx", want: "nginx@" + d64},
		"existing pin replaced":       {in: "nginx:1@sha256:" + strings.Repeat("f", 64), want: "nginx:1@" + d64},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.WithDigest(d64, tc.dropTag).String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPrefix_Matches(t *testing.T) {
	cases := map[string]struct {
		prefix string
		image  string
		want   bool
	}{
		"registry host":                            {"gcr.io", "gcr.io/distroless/static:nonroot", true},
		"registry host is not a string prefix":     {"gcr.io", "gcr.io.evil.example/app:1", false},
		"path segment boundary":                    {"docker.io/library", "nginx:1", true},
		"no match inside a segment":                {"docker.io/library", "docker.io/library2/x:1", false},
		"index.docker.io prefix matches docker.io": {"index.docker.io/library/", "docker.io/nginx", true},
		"short name implies library":               {"nginx", "index.docker.io/library/nginx:1", true},
		"trailing slash names a namespace":         {"docker.io/bitnami/", "bitnami/redis:7", true},
		"without slash a hub name is library/x":    {"docker.io/bitnami", "bitnami/redis:7", false},
		"port is part of the host":                 {"localhost:5000", "localhost:5000/a/b:1", true},
		"other port differs":                       {"localhost:5000", "localhost:5001/a/b:1", false},
		"whole repository":                         {"registry:5000/team/app", "registry:5000/team/app:2", true},
		"upper-case host prefix":                   {"GCR.io", "gcr.io/x:1", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := ParsePrefix(tc.prefix)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Parse(tc.image)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Matches(r.Name); got != tc.want {
				t.Errorf("prefix %q (%q) matches %q (%q) = %v, want %v", tc.prefix, p, tc.image, r.Name, got, tc.want)
			}
		})
	}
}

func TestParsePrefix_errors(t *testing.T) {
	for _, s := range []string{"", "Docker.io/Library/", "a b"} {
		if _, err := ParsePrefix(s); err == nil {
			t.Errorf("ParsePrefix(%q) succeeded, want an error", s)
		}
	}
}
