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

// Package jobs builds the Jobs and CronJobs that run playbooks: pure
// functions from a Playbook, its Repository's commit and the operator config
// to batch/v1 objects, with no client and no I/O.
package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Labels on every Job, CronJob and pod template the operator makes. The
// operator caches Jobs and Pods only through the managed-by selector.
const (
	// ManagedByLabel marks objects the operator made.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of ManagedByLabel.
	ManagedByValue = "ansible-playbook-operator"
	// NameLabel is the standard application name label.
	NameLabel = "app.kubernetes.io/name"
	// NameValue is the value of NameLabel.
	NameValue = "ansible-playbook-operator"
	// ComponentLabel is the standard component label.
	ComponentLabel = "app.kubernetes.io/component"
	// ComponentValue is the value of ComponentLabel: executor pods and
	// their Jobs and CronJobs.
	ComponentValue = "executor"
	// PythonManagedByLabel is the Python operator's managed-by label, kept
	// on every object so that scripts and NetworkPolicies written for it
	// still select the runs; its value is PythonManagedByValue.
	PythonManagedByLabel = "ansible.cloud37.dev/managed-by"
	// PythonManagedByValue is the Python operator's value of
	// PythonManagedByLabel.
	PythonManagedByValue = "ansible-operator"
	// OwnerUIDLabel is the UID of the object a run belongs to (on Jobs and
	// pods, not on CronJobs): a run's pods outlive a deleted owner only
	// until the operator sees that no object of that UID is left.
	OwnerUIDLabel = "ansible.cloud37.dev/owner-uid"
)

// RunRecordFinalizer is on every pod of a run, from the pod template, until
// the operator has recorded the run in its owner's status: the pod holds
// the runner's summary (termination message) and the image digest (imageID)
// that the record needs, and it keeps a Job that the TTL controller deletes
// (foreground deletion waits for the pods). The operator removes it once
// the run is recorded, and from the pods of an owner that is gone.
const RunRecordFinalizer = "ansible.cloud37.dev/run-record"

// Annotations on Jobs (and on the CronJob's jobTemplate, so the Jobs it
// creates carry them too: Job defaulting does not copy pod template
// annotations to the Job).
const (
	// OwnerNameAnnotation is the full name of the Playbook or Schedule a
	// run belongs to; v1alpha1.OwnerNameLabel may be shortened by LabelValue, so map
	// a Job back to its owner with this annotation.
	OwnerNameAnnotation = "ansible.cloud37.dev/owner-name"
	// RecordedAnnotation marks a finished Job whose run is in its owner's
	// status: status.runs keeps only the last runs, so this, not the list,
	// says that a run was counted and announced.
	RecordedAnnotation = "ansible.cloud37.dev/recorded"
)

const (
	// maxJobOwnerLen leaves room for "-" and 8 hex digits within the 63
	// characters of the job-name label the Job controller puts on pods.
	maxJobOwnerLen = 46
	// maxCronJobNameLen is the CronJob name limit: the CronJob controller
	// appends an 11-character suffix to name Jobs within 63.
	maxCronJobNameLen = 52
	// maxLabelValueLen is the label value limit.
	maxLabelValueLen = 63
	hashLen          = 8
)

// JobName is the name of the run Job with this run id:
// "<owner truncated to 46>-<first 8 hex of sha256(kind/owner/runID)>". It
// is a valid DNS label, so a retried reconcile finds the Job it created
// instead of making a second one.
func JobName(kind, owner, runID string) string {
	return joinHash(dnsLabelPrefix(owner, maxJobOwnerLen), shortHash(kind+"/"+owner+"/"+runID))
}

// CronJobName is the name of a Schedule's CronJob: the Schedule's name when
// it has at most 52 characters, else its first characters, "-" and 8 hex
// digits of sha256(name), within 52.
func CronJobName(schedule string) string {
	if len(schedule) <= maxCronJobNameLen {
		return schedule
	}
	return truncateWithHash(schedule, maxCronJobNameLen)
}

// LabelValue makes s a valid label value: s itself when it has at most 63
// characters (object names are valid label values), else its first
// characters, "-" and 8 hex digits of sha256(s), within 63. Use it to
// select by v1alpha1.OwnerNameLabel.
func LabelValue(s string) string {
	if len(s) <= maxLabelValueLen {
		return s
	}
	return truncateWithHash(s, maxLabelValueLen)
}

// RunIDLabelValue makes a run id a valid label value: the id itself when
// it is one (the Python operator used it verbatim, so
// -l ansible.cloud37.dev/run-id=<id> keeps working for such ids), else its
// label-safe characters, "-" and 8 hex digits of sha256(id), within 63.
// The annotation ansible.cloud37.dev/run-id always has the id as given.
func RunIDLabelValue(id string) string {
	if len(validation.IsValidLabelValue(id)) == 0 {
		return id
	}
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '-'
		}
	}
	prefix := string(b)
	if len(prefix) > maxLabelValueLen-hashLen-1 {
		prefix = prefix[:maxLabelValueLen-hashLen-1]
	}
	// A label value starts and ends with an alphanumeric character.
	return joinHash(strings.Trim(prefix, "-._"), shortHash(id))
}

// truncateWithHash keeps a prefix of s, trimmed of trailing separators, and
// appends a hash of the whole of s, within limit characters.
func truncateWithHash(s string, limit int) string {
	prefix := strings.TrimRight(s[:limit-hashLen-1], "-._")
	return joinHash(prefix, shortHash(s))
}

func joinHash(prefix, hash string) string {
	if prefix == "" {
		return hash
	}
	return prefix + "-" + hash
}

// dnsLabelPrefix maps s to DNS label characters (object names may contain
// dots, which a DNS label may not), keeps at most limit of them and trims
// '-' from both ends.
func dnsLabelPrefix(s string, limit int) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '-'
		}
	}
	if len(b) > limit {
		b = b[:limit]
	}
	return strings.Trim(string(b), "-")
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:hashLen]
}
