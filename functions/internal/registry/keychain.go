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

package registry

import (
	"context"
	"regexp"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
)

// recordingKeychain wraps the credential sources (docker config, credential
// helpers). Every value they return is recorded as a secret before any
// request is made, so no echo of it reaches the output. A source that fails
// (a helper whose keyring is locked) does not stop the run: the registry is
// asked anonymously, and the failure is named if it then refuses.
type recordingKeychain struct {
	inner   authn.Keychain
	secrets *redact.Secrets

	mu     sync.Mutex
	failed map[string]bool // normalized registry hosts whose credentials could not be read
}

var _ authn.ContextKeychain = (*recordingKeychain)(nil)

// helperOutputRE finds the output docker's credential helper client quotes
// in its errors ("error getting credentials - err: exit status 1, out: `…`").
var helperOutputRE = regexp.MustCompile("(?s)out: `(.*)`")

func (k *recordingKeychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), res)
}

func (k *recordingKeychain) ResolveContext(ctx context.Context, res authn.Resource) (authn.Authenticator, error) {
	auth, err := authn.Resolve(ctx, k.inner, res)
	if err != nil {
		return k.fail(res, err), nil
	}
	cfg, err := authn.Authorization(ctx, auth)
	if err != nil {
		return k.fail(res, err), nil
	}
	if *cfg == (authn.AuthConfig{}) {
		return authn.Anonymous, nil // go-containerregistry tells anonymous access by identity
	}
	k.secrets.AddBasic(cfg.Username, cfg.Password)
	k.secrets.Add(cfg.Auth, cfg.IdentityToken, cfg.RegistryToken)
	// The helper already ran; hand out what it said rather than run it again.
	return authn.FromConfig(*cfg), nil
}

// fail remembers that res's credentials could not be read and answers
// anonymously. What the source printed may hold secrets (a helper quoting
// its token), so it is recorded as one and never shown.
func (k *recordingKeychain) fail(res authn.Resource, err error) authn.Authenticator {
	if m := helperOutputRE.FindStringSubmatch(err.Error()); m != nil {
		k.secrets.Add(m[1])
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failed == nil {
		k.failed = map[string]bool{}
	}
	k.failed[imageref.NormalizeHost(res.RegistryStr())] = true
	return authn.Anonymous
}

// failedFor reports whether the credentials for the registry host (as in a
// normalized name) could not be read.
func (k *recordingKeychain) failedFor(host string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.failed[host]
}

// credentialsFailed explains an Unauthorized answer after a failed source.
const credentialsFailed = "the credentials for this registry could not be read from the docker config: its credential helper failed (its output is not shown, since it may hold secrets; run the helper named by credsStore or credHelpers in the docker config with `get` to see it), so pin-images asked anonymously"
