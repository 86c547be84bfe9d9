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

// Package cli implements the pin-images command line: resolve, pin, verify,
// lock and version.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/files"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pin"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pinimages"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/version"
)

// IO is what a command reads and writes.
type IO struct {
	Stdin io.Reader
	// StdinIsTerminal is set when nobody pipes anything in.
	StdinIsTerminal bool
	Stdout          io.Writer
	Stderr          io.Writer
}

// errUsage marks errors already explained by a usage message.
var errUsage = errors.New("usage")

// ErrFailed marks a run that reported errors on stderr already; main exits 1.
var ErrFailed = errors.New("errors reported")

const usage = `pin-images pins container images to registry digests.

As a KRM function it reads a ResourceList on stdin (kustomize transformers:,
kpt pipelines, kpt fn eval). As a command line tool:

Usage:
  pin-images resolve [flags] REF...    print REF@sha256:... for each reference
  pin-images pin [-w] [flags] PATH...  pin images in YAML files (-w writes them in place)
  pin-images verify [flags] PATH...    report unpinned, vanished and drifted pins; exit 1 on errors
  pin-images lock [-o FILE] [PATH...]  write an ImageLock for the images in PATHs or stdin
  pin-images webhook [flags]           serve admission reviews: pin images, enforce the policy
  pin-images version                   print the version

Examples:
  pin-images resolve nginx:1.25 registry:5000/team/app:1.2
  pin-images resolve --platform linux/arm64 nginx:1.25
  pin-images pin -w deploy/                         # only digest lines change
  pin-images verify --fail-on-drift deploy/         # for CI
  kustomize build deploy/ | pin-images lock -o deploy/images.lock.yaml
  pin-images pin -w --mode locked --lock deploy/images.lock.yaml deploy/

Run "pin-images COMMAND -h" for a command's flags.
`

// Run executes the command line args (without the program name). The error
// it returns, which main prints, holds no credential.
func Run(ctx context.Context, args []string, stdio IO) error {
	secrets := &redact.Secrets{}
	err := dispatch(ctx, args, stdio, secrets)
	if err == nil || IsUsage(err) {
		return err
	}
	return &redactedError{err: err, text: secrets.Text(err.Error())}
}

// redactedError is an error whose text had the run's secrets removed.
type redactedError struct {
	err  error
	text string
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }

// errInterrupted ends a run stopped by SIGINT or SIGTERM.
var errInterrupted = errors.New("interrupted: nothing was written")

// interrupted reports whether the run's context was cancelled (a signal),
// as opposed to its deadline passing.
func interrupted(ctx context.Context) bool { return errors.Is(ctx.Err(), context.Canceled) }

func dispatch(ctx context.Context, args []string, stdio IO, secrets *redact.Secrets) error {
	if len(args) == 0 {
		if stdio.StdinIsTerminal {
			fmt.Fprint(stdio.Stderr, usage)
			return errUsage
		}
		return runFunction(ctx, stdio, secrets)
	}
	switch args[0] {
	case "resolve":
		return runResolve(ctx, args[1:], stdio, secrets)
	case "pin":
		return runPin(ctx, "pin", args[1:], stdio, secrets)
	case "verify":
		return runPin(ctx, "verify", args[1:], stdio, secrets)
	case "lock":
		return runLock(ctx, args[1:], stdio, secrets)
	case "webhook":
		return runWebhook(ctx, args[1:], stdio, secrets)
	case "version", "--version":
		fmt.Fprintln(stdio.Stdout, version.Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdio.Stdout, usage)
		return nil
	}
	fmt.Fprintf(stdio.Stderr, "unknown command %q\n\n%s", args[0], usage)
	return errUsage
}

// runFunction is the KRM function: a ResourceList on stdin, the result on stdout.
func runFunction(ctx context.Context, stdio IO, secrets *redact.Secrets) error {
	in, err := readStdin(stdio.Stdin)
	if err != nil {
		return err
	}
	p := &pinimages.Processor{
		Ctx:      ctx,
		Stderr:   stdio.Stderr,
		Secrets:  secrets,
		ReadFile: readFile,
		NewResolver: func(o registry.Options) (registry.Resolver, error) {
			o.UserAgent = userAgent()
			return registry.NewRemote(o)
		},
	}
	err = pinimages.RunFunction(p, in, stdio.Stdout)
	switch {
	case errors.Is(err, pinimages.ErrNotResourceList):
		fmt.Fprintf(stdio.Stderr, "pin-images: stdin is not a ResourceList (kind: ResourceList): run pin-images as a KRM function from kustomize or kpt, or use a command\n\n%s", usage)
		return errUsage
	case pinimages.IsReported(err):
		return ErrFailed
	}
	return err
}

// readStdin reads stdin, bounded: a pipe from /dev/zero must not take all memory.
func readStdin(r io.Reader) ([]byte, error) {
	in, err := io.ReadAll(io.LimitReader(r, files.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read stdin: %w", err)
	}
	if len(in) > files.MaxSize {
		return nil, fmt.Errorf("failed to read stdin: more than %d MiB: pin-images reads YAML of at most that size", files.MaxSize>>20)
	}
	return in, nil
}

// IsUsage reports whether err was already explained to the user.
func IsUsage(err error) bool { return errors.Is(err, errUsage) || errors.Is(err, ErrFailed) }

// registryFlags are the flags every command that talks to registries takes.
type registryFlags struct {
	platform      string
	concurrency   int
	timeout       time.Duration
	caFile        string
	insecure      multiFlag
	mirrors       multiFlag
	verifyContent bool
	// signatureKeys are PREFIX=FILE: policy.signatures from the command line.
	signatureKeys      multiFlag
	signaturesOptional bool
}

func (f *registryFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.platform, "platform", "", "pin the child manifest of this platform (os/arch[/variant]) instead of the index")
	fs.IntVar(&f.concurrency, "concurrency", pin.DefaultConcurrency, "registry lookups in flight")
	fs.DurationVar(&f.timeout, "timeout", pin.DefaultTimeout, "deadline for the whole run")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM file of extra certificate authorities for registries")
	fs.Var(&f.insecure, "insecure-registry", "registry host[:port] reached over HTTP or unverified TLS (repeatable)")
	fs.Var(&f.mirrors, "mirror", "FROM=TO: read digests of references under FROM from TO (repeatable)")
	fs.BoolVar(&f.verifyContent, "verify-content", false, "GET and hash every manifest instead of trusting a HEAD's digest (for registries you do not trust; GETs count against Docker Hub's pull quota)")
	fs.Var(&f.signatureKeys, "signature-key", "PREFIX=FILE: pin images under PREFIX only to digests the PEM public key in FILE (cosign.pub) signed; the key is named after the file (repeatable; policy.signatures)")
	fs.BoolVar(&f.signaturesOptional, "signatures-optional", false, "a digest no --signature-key signed is a warning, not an error (required: false)")
}

// apply sets the flags that were given on cfg, so that every command checks
// them with the same Config.Validate.
func (f *registryFlags) apply(fs *flag.FlagSet, cfg *pinimages.Config) error {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["platform"] {
		cfg.Platform = f.platform
	}
	if set["concurrency"] || cfg.Concurrency == 0 {
		cfg.Concurrency = f.concurrency
	}
	if set["timeout"] || cfg.Timeout == "" {
		cfg.Timeout = f.timeout.String()
	}
	if set["verify-content"] {
		cfg.VerifyContent = f.verifyContent
	}
	if f.caFile != "" {
		snap, err := files.Read(f.caFile)
		if err != nil {
			return fmt.Errorf("failed to read --ca-file: %w", err)
		}
		cfg.CABundle = string(snap.Data)
	}
	cfg.InsecureRegistries = append(cfg.InsecureRegistries, f.insecure...)
	for _, m := range f.mirrors {
		from, to, ok := strings.Cut(m, "=")
		if !ok {
			var patternsOnly *redact.Secrets
			return fmt.Errorf("failed to parse --mirror %q: want FROM=TO, e.g. docker.io=mirror.internal:5000/dockerhub", patternsOnly.Text(m))
		}
		cfg.Mirrors = append(cfg.Mirrors, pinimages.MirrorSpec{From: from, To: to})
	}
	return f.applySignatures(cfg)
}

// applySignatures adds one policy.signatures entry per --signature-key
// prefix, in the order the prefixes were first given.
func (f *registryFlags) applySignatures(cfg *pinimages.Config) error {
	if len(f.signatureKeys) == 0 {
		if f.signaturesOptional {
			return errors.New("--signatures-optional needs --signature-key")
		}
		return nil
	}
	byPrefix := map[string]int{}
	required := !f.signaturesOptional
	for _, v := range f.signatureKeys {
		prefix, file, ok := strings.Cut(v, "=")
		if !ok || prefix == "" || file == "" {
			return fmt.Errorf("failed to parse --signature-key %q: want PREFIX=FILE, e.g. registry.example.com/team=cosign.pub", v)
		}
		snap, err := files.Read(file)
		if err != nil {
			return fmt.Errorf("failed to read --signature-key %s: %w", file, err)
		}
		name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
		i, seen := byPrefix[prefix]
		if !seen {
			i = len(cfg.Policy.Signatures)
			byPrefix[prefix] = i
			cfg.Policy.Signatures = append(cfg.Policy.Signatures, pinimages.SignatureSpec{Prefixes: []string{prefix}, Required: &required})
		}
		cfg.Policy.Signatures[i].Keys = append(cfg.Policy.Signatures[i].Keys, pinimages.KeySpec{Name: name, PublicKey: string(snap.Data)})
	}
	return nil
}

func userAgent() string { return "pin-images/" + version.Version }

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func newResolver(s pinimages.Settings, secrets *redact.Secrets) (*registry.Remote, error) {
	s.Registry.UserAgent = userAgent()
	s.Registry.Secrets = secrets
	return registry.NewRemote(s.Registry)
}

func runResolve(ctx context.Context, args []string, stdio IO, secrets *redact.Secrets) error {
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	var rf registryFlags
	rf.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: pin-images resolve [flags] REF...\n\nPrints REF@sha256:... per reference, the digest the registry serves for the tag\n(the index digest of a multi-arch image unless --platform is given).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	var cfg pinimages.Config
	if err := rf.apply(fs, &cfg); err != nil {
		return err
	}
	s, err := cfg.Validate()
	if err != nil {
		return err
	}
	var reqs []pin.Request
	failed := false
	for _, arg := range fs.Args() {
		ref, err := imageref.Parse(arg)
		if err != nil {
			fmt.Fprintf(stdio.Stderr, "%s\n", secrets.Text(err.Error()))
			failed = true
			continue
		}
		reqs = append(reqs, pin.Request{Ref: ref, Platform: s.Platform})
	}
	res, err := newResolver(s, secrets)
	if err != nil {
		return err
	}
	// Refresh asks the registry for every tag, also for references already pinned.
	eng := pin.Engine{Resolver: res, Mode: pin.Refresh, Concurrency: s.Concurrency, Timeout: s.Timeout,
		Signatures: s.Signatures, SignatureSource: res}
	outcomes, _, _, err := eng.Run(ctx, reqs)
	if err != nil {
		return err
	}
	if interrupted(ctx) {
		return errInterrupted
	}
	for _, r := range reqs {
		o := outcomes[r.ID()]
		if o.Err != nil {
			fmt.Fprintf(stdio.Stderr, "%s — %s\n", secrets.Text(o.Err.Error()), o.Err.Hint)
			failed = true
			continue
		}
		if o.Status == pin.Updated {
			fmt.Fprintf(stdio.Stderr, "%s: the tag moved from %s\n", r.Ref.Original, r.Ref.Digest)
		}
		if c := o.Signature; c != nil && c.Verified() {
			fmt.Fprintf(stdio.Stderr, "%s: %s\n", r.Ref.Original, c.Summary())
		} else if c != nil {
			fmt.Fprintf(stdio.Stderr, "%s: warning: %s — %s\n", r.Ref.Original, secrets.Text(c.Err.Message()), c.Err.Hint)
		}
		fmt.Fprintln(stdio.Stdout, r.Ref.WithDigest(o.Digest, false).String())
	}
	if failed {
		return ErrFailed
	}
	return nil
}
