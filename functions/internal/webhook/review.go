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

// Package webhook is pin-images' third face: an AdmissionReview v1 server
// on the same engine as the function and the CLI. Its mutating handler
// pins the image fields of the objects it is sent, its validating handler
// enforces the function's policy and lock-only admission (only digests in
// an ImageLock held in a ConfigMap are admitted). It manages its own
// serving certificate and the webhook configurations' caBundle.
package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The admission.k8s.io/v1 AdmissionReview fields the webhook reads and
// writes (the API server's JSON; k8s.io/api is not needed for them).

// Review is an AdmissionReview.
type Review struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Request    *Request  `json:"request,omitempty"`
	Response   *Response `json:"response,omitempty"`
}

// GroupVersionKind of the object under review.
type GroupVersionKind struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// GroupVersionResource of the request.
type GroupVersionResource struct {
	Group    string `json:"group"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
}

// Request is AdmissionRequest.
type Request struct {
	UID         string               `json:"uid"`
	Kind        GroupVersionKind     `json:"kind"`
	Resource    GroupVersionResource `json:"resource"`
	SubResource string               `json:"subResource,omitempty"`
	Name        string               `json:"name,omitempty"`
	Namespace   string               `json:"namespace,omitempty"`
	Operation   string               `json:"operation"`
	Object      json.RawMessage      `json:"object,omitempty"`
	DryRun      *bool                `json:"dryRun,omitempty"`
}

// Response is AdmissionResponse.
type Response struct {
	UID              string            `json:"uid"`
	Allowed          bool              `json:"allowed"`
	Result           *Status           `json:"status,omitempty"`
	Patch            []byte            `json:"patch,omitempty"`
	PatchType        *string           `json:"patchType,omitempty"`
	Warnings         []string          `json:"warnings,omitempty"`
	AuditAnnotations map[string]string `json:"auditAnnotations,omitempty"`
}

// Status is the metav1.Status of a refusal: what kubectl prints.
type Status struct {
	Code    int32  `json:"code"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message"`
}

const reviewVersion = "admission.k8s.io/v1"

// decodeReview reads a request review; only admission.k8s.io/v1.
func decodeReview(body []byte) (*Review, error) {
	var r Review
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("failed to decode the AdmissionReview: %w", err)
	}
	if r.APIVersion != reviewVersion || r.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("an %s %s, want an %s AdmissionReview (set admissionReviewVersions: [v1])", r.APIVersion, r.Kind, reviewVersion)
	}
	if r.Request == nil || r.Request.UID == "" {
		return nil, errors.New("an AdmissionReview without a request uid")
	}
	return &r, nil
}

// answer wraps a response for the request's review.
func answer(resp *Response) *Review {
	return &Review{APIVersion: reviewVersion, Kind: "AdmissionReview", Response: resp}
}

// allow is an admission without changes.
func allow(uid string, warnings []string) *Response {
	return &Response{UID: uid, Allowed: true, Warnings: warnings}
}

// deny refuses with a message kubectl shows the user.
func deny(uid string, code int32, message string, warnings []string) *Response {
	return &Response{UID: uid, Allowed: false, Warnings: warnings, Result: &Status{Code: code, Reason: "Forbidden", Message: message}}
}
