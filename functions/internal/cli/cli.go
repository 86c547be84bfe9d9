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
	"os"
	"strings"
	"time"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pin"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pinimages"
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

// Run executes the command line args (without the program name).
func Run(ctx context.Context, args []string, stdio IO) error {
	if len(args) == 0 {
		if stdio.StdinIsTerminal {
			fmt.Fprint(stdio.Stderr, usage)
			return errUsage
		}
		return runFunction(ctx, stdio)
	}
	switch args[0] {
	case "resolve":
		return runResolve(ctx, args[1:], stdio)
	case "pin":
		return runPin(ctx, "pin", args[1:], stdio)
	case "verify":
		return runPin(ctx, "verify", args[1:], stdio)
	case "lock":
		return runLock(ctx, args[1:], stdio)
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
func runFunction(ctx context.Context, stdio IO) error {
	in, err := io.ReadAll(stdio.Stdin)
	if err != nil {
		return fmt.Errorf("failed to read stdin: %w", err)
	}
	if !pinimages.IsResourceList(in) {
		fmt.Fprintf(stdio.Stderr, "pin-images: stdin is not a ResourceList (kind: ResourceList): run pin-images as a KRM function from kustomize or kpt, or use a command\n\n%s", usage)
		return errUsage
	}
	p := &pinimages.Processor{
		Ctx:    ctx,
		Stderr: stdio.Stderr,
		NewResolver: func(o registry.Options) (registry.Resolver, error) {
			o.UserAgent = userAgent()
			return registry.NewRemote(o)
		},
	}
	if err := pinimages.RunFunction(p, in, stdio.Stdout); err != nil {
		if pinimages.IsReported(err) {
			return ErrFailed
		}
		return err
	}
	return nil
}

// IsUsage reports whether err was already explained to the user.
func IsUsage(err error) bool { return errors.Is(err, errUsage) || errors.Is(err, ErrFailed) }

// registryFlags are the flags every command that talks to registries takes.
type registryFlags struct {
	platform    string
	concurrency int
	timeout     time.Duration
	caFile      string
	insecure    multiFlag
	mirrors     multiFlag
}

func (f *registryFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.platform, "platform", "", "pin the child manifest of this platform (os/arch[/variant]) instead of the index")
	fs.IntVar(&f.concurrency, "concurrency", pin.DefaultConcurrency, "registry lookups in flight")
	fs.DurationVar(&f.timeout, "timeout", pin.DefaultTimeout, "deadline for the whole run")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM file of extra certificate authorities for registries")
	fs.Var(&f.insecure, "insecure-registry", "registry host[:port] reached over HTTP or unverified TLS (repeatable)")
	fs.Var(&f.mirrors, "mirror", "FROM=TO: read digests of references under FROM from TO (repeatable)")
}

func (f *registryFlags) options() (registry.Options, error) {
	opts := registry.Options{Insecure: f.insecure, UserAgent: userAgent()}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return opts, fmt.Errorf("failed to read --ca-file: %w", err)
		}
		opts.CABundle = pem
	}
	for _, m := range f.mirrors {
		from, to, ok := strings.Cut(m, "=")
		if !ok || from == "" || to == "" {
			return opts, fmt.Errorf("invalid --mirror %q: want FROM=TO, e.g. docker.io=mirror.internal:5000/dockerhub", m)
		}
		opts.Mirrors = append(opts.Mirrors, registry.Mirror{From: from, To: to})
	}
	return opts, nil
}

func userAgent() string { return "pin-images/" + version.Version }

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runResolve(ctx context.Context, args []string, stdio IO) error {
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
	opts, err := rf.options()
	if err != nil {
		return err
	}
	var reqs []pin.Request
	failed := false
	for _, s := range fs.Args() {
		ref, err := imageref.Parse(s)
		if err != nil {
			fmt.Fprintf(stdio.Stderr, "%v\n", err)
			failed = true
			continue
		}
		reqs = append(reqs, pin.Request{Ref: ref, Platform: rf.platform})
	}
	res, err := registry.NewRemote(opts)
	if err != nil {
		return err
	}
	// Refresh asks the registry for every tag, also for references already pinned.
	eng := pin.Engine{Resolver: res, Mode: pin.Refresh, Concurrency: rf.concurrency, Timeout: rf.timeout}
	outcomes, _, _, err := eng.Run(ctx, reqs)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		o := outcomes[r.ID()]
		if o.Err != nil {
			fmt.Fprintf(stdio.Stderr, "%s — %s\n", o.Err.Error(), o.Err.Hint)
			failed = true
			continue
		}
		if o.Status == pin.Updated {
			fmt.Fprintf(stdio.Stderr, "%s: the tag moved from %s\n", r.Ref.Original, r.Ref.Digest)
		}
		fmt.Fprintln(stdio.Stdout, r.Ref.WithDigest(o.Digest, false).String())
	}
	if failed {
		return ErrFailed
	}
	return nil
}
