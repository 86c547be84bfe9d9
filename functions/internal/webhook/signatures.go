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

package webhook

import (
	"context"
	"fmt"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pinimages"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/signature"
)

// Signatures are enforced at admission as in pipelines (policy.signatures
// of the webhook's --config): the mutating handler pins only digests a
// trusted key signed (the engine's signature step fails the others), and
// the validating handler refuses a pinned image whose digest no trusted
// key signed, and an unpinned image under a required rule.

var _ registry.SignatureSource = (*cached)(nil)

// Signatures implements registry.SignatureSource with the request's
// credentials. Signatures are not cached: a signature removed from the
// registry stops admitting its digest at the next admission.
func (r *cached) Signatures(ctx context.Context, ref imageref.Ref, digest string) ([]signature.Candidate, error) {
	src, ok := r.inner.(registry.SignatureSource)
	if !ok {
		return nil, registry.NewError(registry.Failed, ref.Original, "the webhook's resolver cannot fetch signatures")
	}
	return src.Signatures(ctx, ref, digest)
}

// validateSignatures is the validating handler's signature check; it
// returns the refusals of fields the policy did not refuse already, and
// the warnings of rules that are not required.
func (a *Admitter) validateSignatures(ctx context.Context, req *Request, res *pinimages.Resource, s pinimages.Settings, lk *lock.Lock, refused []pinimages.Violation) ([]pinimages.Violation, []string, error) {
	if s.Signatures == nil {
		return nil, nil, nil
	}
	resolver, err := a.Resolver(ctx, req, res.Node)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to reach the registries for signatures: %s", a.Secrets.Text(err.Error()))
	}
	s.Registry.Secrets = a.Secrets
	violations, warnings, err := pinimages.CheckSignatures(ctx, res, s, resolver, lk)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	for _, v := range refused {
		seen[v.Path] = true
	}
	var out []pinimages.Violation
	for _, v := range violations {
		if !seen[v.Path] {
			out = append(out, v)
		}
	}
	return out, warnings, nil
}
