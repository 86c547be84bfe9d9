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
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pin"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pinimages"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
)

// Scope is which kinds the mutating handler pins.
type Scope string

const (
	// ScopePods pins Pods (and ephemeral containers) only: workloads stay
	// as applied, so GitOps tools see no drift, but after a tag moves one
	// ReplicaSet can run pods of two digests. Validation then requires
	// digests (and the lock, and signatures) of Pods only.
	ScopePods Scope = "pods"
	// ScopeWorkloads pins the pod templates of workloads too (Deployment,
	// StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, ...): all pods of a
	// ReplicaSet share one digest, and the workload shows the digest.
	ScopeWorkloads Scope = "workloads"
)

// PinnedAnnotation records on a mutated object what the webhook pinned.
const PinnedAnnotation = "pin-images.ansible.cloud37.dev/pinned"

// podKinds are the kinds whose objects hold a pod spec.
var podKinds = []string{"Pod", "PodTemplate", "ReplicationController", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"}

// Admitter answers admission requests with the function's engine.
type Admitter struct {
	// Settings are the PinImages config's (mode is set per handler).
	Settings pinimages.Settings
	// Scope is what Mutate pins.
	Scope Scope
	// Resolver returns the registry resolver for a request's credentials.
	Resolver func(ctx context.Context, req *Request, obj *yaml.RNode) (registry.Resolver, error)
	// Lock is the lock of lock-only admission (nil: off).
	Lock *LockSource
	// DenyUnresolved refuses, at mutation, an object whose images could not
	// be pinned (a registry down, a tag unknown); otherwise it is admitted
	// unchanged with a warning and validation decides.
	DenyUnresolved bool
	// Secrets removes credentials from messages.
	Secrets *redact.Secrets
	// Metrics counts admissions.
	Metrics *Metrics
	Now     func() time.Time
}

// inScope reports whether the handler looks at the request.
func (a *Admitter) inScope(req *Request, mutate bool) bool {
	if req.Operation != "CREATE" && req.Operation != "UPDATE" {
		return false
	}
	if req.SubResource != "" && !(req.Kind.Kind == "Pod" && req.SubResource == "ephemeralcontainers") {
		return false
	}
	if !slices.Contains(podKinds, req.Kind.Kind) {
		return false
	}
	return !mutate || a.Scope == ScopeWorkloads || req.Kind.Kind == "Pod"
}

// resource reads the object under review.
func resource(req *Request) (*pinimages.Resource, error) {
	node, err := yaml.Parse(string(req.Object))
	if err != nil {
		return nil, fmt.Errorf("failed to read the %s under review: %w", req.Kind.Kind, err)
	}
	return &pinimages.Resource{Node: node}, nil
}

// Mutate pins the object's image fields (lock first, registry on a miss).
func (a *Admitter) Mutate(ctx context.Context, req *Request) *Response {
	if !a.inScope(req, true) {
		return allow(req.UID, nil)
	}
	res, err := resource(req)
	if err != nil {
		return deny(req.UID, http.StatusBadRequest, err.Error(), nil)
	}
	resolver, err := a.Resolver(ctx, req, res.Node)
	if err != nil {
		return a.unresolved(req, a.Secrets.Text(err.Error()), nil)
	}
	s := a.Settings
	s.Mode = pin.Resolve
	in := pinimages.Input{Resources: []*pinimages.Resource{res}}
	gen := ""
	if a.Lock != nil {
		lk, g := a.Lock.Current()
		if lk != nil {
			in.Lock, gen = lk.Clone(), g
		}
	}
	rep, err := pinimages.Transform(ctx, in, s, resolver, a.Now)
	if err != nil {
		return a.unresolved(req, a.Secrets.Text(err.Error()), nil)
	}
	warnings, errs := messages(rep.Results)
	if len(errs) > 0 {
		return a.unresolved(req, strings.Join(errs, "; "), warnings)
	}
	if len(rep.Changes) == 0 {
		a.Metrics.admission("mutate", "unchanged")
		return allow(req.UID, warnings)
	}
	if err := pinimages.ApplyToNodes(rep.Changes); err != nil {
		return deny(req.UID, http.StatusInternalServerError, err.Error(), warnings)
	}
	after, err := res.Node.MarshalJSON()
	if err != nil {
		return deny(req.UID, http.StatusInternalServerError, err.Error(), warnings)
	}
	ops, err := stringDiff(req.Object, after)
	if err != nil {
		return deny(req.UID, http.StatusInternalServerError, err.Error(), warnings)
	}
	var pinned []string
	for _, c := range rep.Changes {
		pinned = append(pinned, c.Field.Path+": "+c.New)
	}
	ops = append(ops, annotationOps(req.Object, PinnedAnnotation, strings.Join(pinned, "\n"))...)
	patch, err := json.Marshal(ops)
	if err != nil {
		return deny(req.UID, http.StatusInternalServerError, err.Error(), warnings)
	}
	a.Metrics.admission("mutate", "pinned")
	jsonPatch := "JSONPatch"
	resp := &Response{UID: req.UID, Allowed: true, Patch: patch, PatchType: &jsonPatch, Warnings: warnings}
	if gen != "" {
		resp.AuditAnnotations = map[string]string{"lock-generation": gen}
	}
	return resp
}

// unresolved answers a mutation whose images could not be pinned.
func (a *Admitter) unresolved(req *Request, why string, warnings []string) *Response {
	if a.DenyUnresolved {
		a.Metrics.admission("mutate", "denied")
		return deny(req.UID, http.StatusForbidden, "pin-images could not pin the images of "+describe(req)+": "+why, warnings)
	}
	a.Metrics.admission("mutate", "unresolved")
	return allow(req.UID, append(warnings, "pin-images could not pin every image, admitted unchanged: "+why))
}

// Validate enforces the policy on the object as it stands after every
// mutation: requireDigests, allowedRegistries and, with a lock, lock-only
// admission without a registry lookup; policy.signatures with the
// lookups of signatures the lock's verifiedBy does not answer.
func (a *Admitter) Validate(ctx context.Context, req *Request) *Response {
	if !a.inScope(req, false) {
		return allow(req.UID, nil)
	}
	res, err := resource(req)
	if err != nil {
		return deny(req.UID, http.StatusBadRequest, err.Error(), nil)
	}
	var only *lock.Lock
	gen := ""
	if a.Lock != nil {
		l, g := a.Lock.Current()
		if l == nil {
			a.Metrics.admission("validate", "denied")
			return deny(req.UID, http.StatusServiceUnavailable, "lock-only admission: no lock loaded ("+g+"): check the ConfigMap the webhook reads", nil)
		}
		only, gen = l, g
	}
	s := a.Settings
	if a.Scope == ScopePods && req.Kind.Kind != "Pod" {
		// Workloads keep their tags in this scope: their pods are pinned
		// and checked one by one (digests, lock, signatures); the
		// registries are checked here already.
		s.RequireDigests, s.Signatures, only = false, nil, nil
	}
	violations, err := pinimages.CheckPolicy(res, s, only)
	if err != nil {
		return deny(req.UID, http.StatusBadRequest, err.Error(), nil)
	}
	unsigned, warnings, err := a.validateSignatures(ctx, req, res, s, only, violations)
	if err != nil {
		a.Metrics.admission("validate", "denied")
		return deny(req.UID, http.StatusServiceUnavailable, "pin-images could not check the signatures of "+describe(req)+": "+err.Error(), nil)
	}
	violations = append(violations, unsigned...)
	if len(violations) > 0 {
		var msgs []string
		for _, v := range violations {
			msgs = append(msgs, fmt.Sprintf("%s (%s): %s", v.Path, v.Value, v.Message))
		}
		msg := "pin-images refused " + describe(req) + ": " + strings.Join(msgs, "; ")
		if gen != "" {
			msg += " [lock " + gen + "]"
		}
		a.Metrics.admission("validate", "denied")
		return deny(req.UID, http.StatusForbidden, a.Secrets.Text(msg), nil)
	}
	a.Metrics.admission("validate", "allowed")
	resp := allow(req.UID, warnings)
	if gen != "" {
		resp.AuditAnnotations = map[string]string{"lock-generation": gen}
	}
	return resp
}

func describe(req *Request) string {
	name := req.Name
	if name == "" {
		name = "(generated name)"
	}
	return fmt.Sprintf("%s %s/%s", req.Kind.Kind, req.Namespace, name)
}

// messages splits results into warnings and errors, as lines a user reads.
func messages(results framework.Results) (warnings, errs []string) {
	for _, r := range results {
		line := r.Message
		if r.Field != nil && r.Field.Path != "" {
			line = r.Field.Path + ": " + line
		}
		switch r.Severity {
		case framework.Warning:
			warnings = append(warnings, line)
		case framework.Error:
			errs = append(errs, line)
		}
	}
	return warnings, errs
}
