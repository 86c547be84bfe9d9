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

package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/files"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/kube"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pinimages"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/webhook"
)

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// runWebhook serves admission reviews until ctx ends (SIGTERM).
func runWebhook(ctx context.Context, args []string, stdio IO, secrets *redact.Secrets) error {
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	config := fs.String("config", "", "PinImages config file (the function's settings and policy)")
	listen := fs.String("listen", ":8443", "address of the admission endpoints (TLS)")
	probes := fs.String("probe-listen", ":8081", "address of /healthz, /readyz and /metrics (plain HTTP)")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig (default: the pod's service account)")
	namespace := fs.String("namespace", "", "the webhook's namespace (default: the pod's)")
	service := fs.String("service", "pin-images-webhook", "the Service the API server calls (the certificate's names)")
	secretName := fs.String("tls-secret", "pin-images-webhook-tls", "Secret holding the CA and serving certificate")
	validity := fs.Duration("cert-validity", 365*24*time.Hour, "serving certificate validity; renewed with a third left (the CA lives ten times longer)")
	var mutating, validating stringList
	fs.Var(&mutating, "mutating-webhook", "MutatingWebhookConfiguration whose caBundle the webhook keeps (repeatable)")
	fs.Var(&validating, "validating-webhook", "ValidatingWebhookConfiguration whose caBundle the webhook keeps (repeatable)")
	lockCM := fs.String("lock-configmap", "", "lock-only admission: NAME:KEY (or NAMESPACE/NAME:KEY) of a ConfigMap holding an ImageLock")
	scope := fs.String("mutate", string(webhook.ScopeWorkloads), "what the mutating endpoint pins: workloads (pod templates and pods) or pods")
	denyUnresolved := fs.Bool("deny-unresolved", false, "refuse at mutation an object whose images could not be pinned (default: admit it unchanged with a warning; validation decides)")
	cacheTTL := fs.Duration("cache-ttl", 5*time.Minute, "how long a resolved digest is reused")
	cacheSize := fs.Int("cache-size", 4096, "at most this many resolved digests are kept")
	shutdownDelay := fs.Duration("shutdown-delay", 5*time.Second, "on SIGTERM, keep answering (unready) this long, while the endpoint is removed")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: pin-images webhook [flags]\n\nServes AdmissionReview v1: /mutate pins image fields, /validate enforces the\npolicy and lock-only admission. See kustomize/components/admission.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err == nil {
			fs.Usage()
		}
		return errUsage
	}
	if *scope != string(webhook.ScopeWorkloads) && *scope != string(webhook.ScopePods) {
		return fmt.Errorf("--mutate %q: accepted values are workloads, pods", *scope)
	}
	var cfg pinimages.Config
	if *config != "" {
		snap, err := files.Read(*config)
		if err != nil {
			return fmt.Errorf("failed to read --config: %w", err)
		}
		if cfg, err = pinimages.DecodeConfig(snap.Data); err != nil {
			return fmt.Errorf("%s: %w", *config, err)
		}
	}
	s, err := cfg.Validate()
	if err != nil {
		return err
	}
	kcfg, err := kube.InCluster()
	if *kubeconfig != "" {
		kcfg, err = kube.FromKubeconfig(*kubeconfig)
	}
	if err != nil {
		return err
	}
	client, err := kube.New(kcfg)
	if err != nil {
		return err
	}
	if *namespace == "" {
		if *namespace = kube.InClusterNamespace(); *namespace == "" {
			return errors.New("--namespace is required outside a pod")
		}
	}
	log := slog.New(slog.NewJSONHandler(stdio.Stderr, nil))
	metrics := webhook.NewMetrics()
	s.Registry.UserAgent = userAgent()
	s.Registry.Secrets = secrets
	creds := &webhook.Credentials{Kube: client, Own: authn.DefaultKeychain, Registry: s.Registry,
		Cache: webhook.NewCache(*cacheTTL, *cacheSize), Secrets: secrets, Metrics: metrics}
	admitter := &webhook.Admitter{Settings: s, Scope: webhook.Scope(*scope), Resolver: creds.Resolver,
		DenyUnresolved: *denyUnresolved, Secrets: secrets, Metrics: metrics, Now: time.Now}
	if *lockCM != "" {
		ns, rest := *namespace, *lockCM
		if before, after, ok := strings.Cut(rest, "/"); ok {
			ns, rest = before, after
		}
		name, key, ok := strings.Cut(rest, ":")
		if !ok || name == "" || key == "" {
			return fmt.Errorf("--lock-configmap %q: want NAME:KEY or NAMESPACE/NAME:KEY", *lockCM)
		}
		admitter.Lock = webhook.NewLockSource(ns, name, key, log)
		metrics.LockEntries = func() int {
			if lk, _ := admitter.Lock.Current(); lk != nil {
				return lk.Len()
			}
			return -1
		}
		go admitter.Lock.Run(ctx, client)
	}
	certs := &webhook.Certs{Kube: client, Namespace: *namespace, SecretName: *secretName, Validity: *validity,
		DNSNames: []string{*service + "." + *namespace + ".svc", *service + "." + *namespace + ".svc.cluster.local"},
		Mutating: mutating, Validating: validating, Log: log}
	period := *validity / 10
	if period > time.Minute {
		period = time.Minute
	}
	go certs.Run(ctx, period)
	srv := &webhook.Server{Admitter: admitter, GetCertificate: certs.GetCertificate, Metrics: metrics, Log: log, ShutdownDelay: *shutdownDelay,
		Ready: func() error {
			if _, err := certs.GetCertificate(&tls.ClientHelloInfo{}); err != nil {
				return err
			}
			return nil
		}}
	return srv.Serve(ctx, *listen, *probes)
}
