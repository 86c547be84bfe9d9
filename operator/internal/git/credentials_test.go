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

package git

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCredentials(t *testing.T) {
	readErr := errors.New("permission denied")
	tests := map[string]struct {
		method string
		data   map[string]string
		// failKey makes reading that key fail with readErr.
		failKey string
		want    Auth
		// wantMissing is the MissingKeyError's Keys; wantErr another error.
		wantMissing string
		wantErr     error
	}{
		"no method is anonymous":              {method: "", data: map[string]string{"token": "ignored"}},
		"ssh takes the private key":           {method: MethodSSH, data: map[string]string{"ssh-privatekey": "KEY"}, want: Auth{SSHPrivateKey: []byte("KEY")}},
		"ssh without a key":                   {method: MethodSSH, data: map[string]string{"token": "t"}, wantMissing: "ssh-privatekey"},
		"a token defaults the user to oauth2": {method: MethodToken, data: map[string]string{"token": "t0k"}, want: Auth{Username: "oauth2", Password: "t0k"}},
		"a token keeps a given user":          {method: MethodHTTPS, data: map[string]string{"token": "t0k", "username": "bot"}, want: Auth{Username: "bot", Password: "t0k"}},
		"https takes basic-auth keys":         {method: MethodHTTPS, data: map[string]string{"username": "u", "password": "p"}, want: Auth{Username: "u", Password: "p"}},
		"the token wins over a password":      {method: MethodHTTPS, data: map[string]string{"token": "t", "username": "u", "password": "p"}, want: Auth{Username: "u", Password: "t"}},
		"https without a token or password":   {method: MethodHTTPS, data: map[string]string{"username": "u"}, wantMissing: "token (or username and password)"},
		"token auth does not take a password": {method: MethodToken, data: map[string]string{"username": "u", "password": "p"}, wantMissing: "token"},
		"a read failure is returned as is":    {method: MethodToken, data: map[string]string{"token": "t"}, failKey: "username", wantErr: readErr},
		"an unknown method is an error":       {method: "kerberos", wantErr: errors.New("not ssh")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Credentials(tc.method, func(key string) ([]byte, error) {
				if key == tc.failKey {
					return nil, readErr
				}
				if v, ok := tc.data[key]; ok {
					return []byte(v), nil
				}
				return nil, nil
			})
			var missing *MissingKeyError
			switch {
			case tc.wantMissing != "":
				if !errors.As(err, &missing) || missing.Keys != tc.wantMissing || missing.Method != tc.method {
					t.Fatalf("error %v, want missing %q", err, tc.wantMissing)
				}
				if !strings.Contains(err.Error(), "which auth.method "+tc.method+" needs") {
					t.Errorf("message %q", err)
				}
			case tc.wantErr == readErr:
				if !errors.Is(err, readErr) {
					t.Fatalf("error %v, want %v", err, readErr)
				}
			case tc.wantErr != nil:
				if err == nil || errors.As(err, &missing) {
					t.Fatalf("error %v, want an error that is no MissingKeyError", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Auth (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestRedactor(t *testing.T) {
	auth := Auth{Username: "bot", Password: "s3cret-token", SSHPrivateKey: []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAline1\nBBBBline2\n-----END OPENSSH PRIVATE KEY-----\n")}
	r := &Redactor{}
	r.Add(MinSecretLen, auth.Secrets()...)
	r.Add(8, "short", "a-long-var-secret")
	got := r.Apply("s3cret-token Ym90OnMzY3JldC10b2tlbg== AAAAline1 BBBBline2 short a-long-var-secret https://bot:x@host/r token=abc")
	want := "[redacted] [redacted] [redacted] [redacted] short [redacted] https://host/r token=[redacted]"
	if got != want {
		t.Errorf("Apply() = %q, want %q", got, want)
	}
	if got := (*Redactor)(nil).Apply("https://u:p@h/x"); got != "https://h/x" {
		t.Errorf("nil Redactor: %q", got)
	}
}
