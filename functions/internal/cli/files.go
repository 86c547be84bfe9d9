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
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pinimages"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
)

// fileFlags are the flags of pin, verify and lock.
type fileFlags struct {
	registryFlags
	config         string
	mode           string
	dropTag        bool
	lockFile       string
	skipPrefixes   multiFlag
	requireDigests bool
	failOnDrift    bool
	allowed        multiFlag
}

func (f *fileFlags) register(fs *flag.FlagSet, cmd string) {
	f.registryFlags.register(fs)
	fs.StringVar(&f.config, "config", "", "a PinImages document with the settings (flags override it)")
	if cmd == "pin" {
		fs.StringVar(&f.mode, "mode", "", "resolve (default), refresh or locked")
	}
	fs.BoolVar(&f.dropTag, "drop-tag", false, "write repo@sha256:... instead of repo:tag@sha256:...")
	if cmd != "lock" {
		fs.StringVar(&f.lockFile, "lock", "", "ImageLock file to read (and with -w, update); an ImageLock among PATHs is found by itself")
	}
	fs.Var(&f.skipPrefixes, "skip-prefix", "leave images under this prefix on their tags (repeatable)")
	fs.BoolVar(&f.requireDigests, "require-digests", false, "policy: every image not deliberately skipped needs a digest")
	fs.BoolVar(&f.failOnDrift, "fail-on-drift", false, "policy: a tag that moved away from its pin is an error")
	fs.Var(&f.allowed, "allowed-registry", "policy: images must come from this prefix (repeatable)")
}

// settings merges --config and the flags that were set.
func (f *fileFlags) settings(fs *flag.FlagSet) (pinimages.Settings, error) {
	var cfg pinimages.Config
	if f.config != "" {
		b, err := os.ReadFile(f.config)
		if err != nil {
			return pinimages.Settings{}, fmt.Errorf("failed to read --config: %w", err)
		}
		if cfg, err = pinimages.DecodeConfig(b); err != nil {
			return pinimages.Settings{}, fmt.Errorf("%s: %w", f.config, err)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["mode"] {
		cfg.Mode = f.mode
	}
	if set["platform"] {
		cfg.Platform = f.platform
	}
	if set["drop-tag"] {
		cfg.DropTag = f.dropTag
	}
	if set["concurrency"] || cfg.Concurrency == 0 {
		cfg.Concurrency = f.concurrency
	}
	if set["timeout"] || cfg.Timeout == "" {
		cfg.Timeout = f.timeout.String()
	}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return pinimages.Settings{}, fmt.Errorf("failed to read --ca-file: %w", err)
		}
		cfg.CABundle = string(pem)
	}
	cfg.InsecureRegistries = append(cfg.InsecureRegistries, f.insecure...)
	for _, m := range f.mirrors {
		from, to, ok := strings.Cut(m, "=")
		if !ok {
			return pinimages.Settings{}, fmt.Errorf("invalid --mirror %q: want FROM=TO", m)
		}
		cfg.Mirrors = append(cfg.Mirrors, pinimages.MirrorSpec{From: from, To: to})
	}
	cfg.Skip.Prefixes = append(cfg.Skip.Prefixes, f.skipPrefixes...)
	cfg.Policy.RequireDigests = cfg.Policy.RequireDigests || f.requireDigests
	cfg.Policy.FailOnDrift = cfg.Policy.FailOnDrift || f.failOnDrift
	cfg.Policy.AllowedRegistries = append(cfg.Policy.AllowedRegistries, f.allowed...)
	return cfg.Validate()
}

func newResolver(s pinimages.Settings) (registry.Resolver, error) {
	s.Registry.UserAgent = userAgent()
	return registry.NewRemote(s.Registry)
}

// runPin implements pin and verify on files.
func runPin(ctx context.Context, cmd string, args []string, stdio IO) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	var ff fileFlags
	ff.register(fs, cmd)
	write := false
	if cmd == "pin" {
		fs.BoolVar(&write, "w", false, "write the changes into the files (all or nothing: nothing is written when any error is reported)")
	}
	fs.Usage = func() {
		if cmd == "pin" {
			fmt.Fprintf(fs.Output(), "Usage: pin-images pin [-w] [flags] PATH...\n\nPins the images of the YAML files and directories in PATH. Without -w it prints\nwhat would change; with -w it splices only the changed digests into the files.\n\nFlags:\n")
		} else {
			fmt.Fprintf(fs.Output(), "Usage: pin-images verify [flags] PATH...\n\nChanges nothing. Reports unpinned images, pins whose digest vanished (error)\nand tags that moved away from their pin (warning; error with --fail-on-drift).\nExits 1 when any error is reported.\n\nFlags:\n")
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		if err == nil {
			fs.Usage()
		}
		return errUsage
	}
	s, err := ff.settings(fs)
	if err != nil {
		return err
	}
	if cmd == "verify" {
		s.Mode = "verify"
	} else if s.Mode == "verify" {
		return fmt.Errorf("pin --mode verify: use `pin-images verify`")
	}
	files, err := pinimages.ReadFiles(fs.Args())
	if err != nil {
		return err
	}
	lockPath, lk, err := loadLock(files, ff.lockFile)
	if err != nil {
		return err
	}
	var resolver registry.Resolver
	if s.Mode != "locked" {
		if resolver, err = newResolver(s); err != nil {
			return err
		}
	}
	rep, err := pinimages.Transform(ctx, pinimages.Nodes(files), s, resolver, lk, nil)
	if err != nil {
		return err
	}
	printResults(stdio.Stderr, rep)
	if rep.HasErrors() {
		if write {
			fmt.Fprintln(stdio.Stderr, "pin-images: errors reported: no file was written")
		}
		return ErrFailed
	}
	edits, err := pinimages.SpliceFiles(files, rep.Changes)
	if err != nil {
		return err
	}
	if cmd == "verify" {
		return nil
	}
	if !write {
		printChanges(stdio.Stdout, rep)
		return nil
	}
	if rep.LockChanged && lockPath != "" {
		b, err := rep.Lock.Marshal()
		if err != nil {
			return err
		}
		edits = append(edits, pinimages.Edited{Path: lockPath, New: b})
	}
	if err := pinimages.WriteAll(edits); err != nil {
		return err
	}
	for _, e := range edits {
		fmt.Fprintf(stdio.Stderr, "wrote %s\n", e.Path)
	}
	return nil
}

// loadLock finds the ImageLock: --lock, or one among the files (alone in its file).
func loadLock(files []*pinimages.File, flagPath string) (string, *lock.Lock, error) {
	if flagPath != "" {
		b, err := os.ReadFile(flagPath)
		if os.IsNotExist(err) {
			return flagPath, lock.New(), nil // created on write
		}
		if err != nil {
			return "", nil, fmt.Errorf("failed to read --lock: %w", err)
		}
		lk, err := lock.Parse(b)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", flagPath, err)
		}
		return flagPath, lk, nil
	}
	var path string
	var lk *lock.Lock
	for _, f := range files {
		if f.LockIndex < 0 {
			continue
		}
		if path != "" {
			return "", nil, fmt.Errorf("two ImageLocks (%s and %s): keep one, or name it with --lock", path, f.Path)
		}
		if len(f.Resources) != 1 {
			return "", nil, fmt.Errorf("%s: the ImageLock must be alone in its file, since pin-images rewrites it", f.Path)
		}
		var err error
		if lk, err = lock.Parse(f.Src); err != nil {
			return "", nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		path = f.Path
	}
	return path, lk, nil
}

// printResults writes warnings, errors and the summary to stderr.
func printResults(w io.Writer, rep *pinimages.Report) {
	for _, line := range pinimages.StderrLines(rep.Results) {
		fmt.Fprintln(w, line)
	}
	if n := len(rep.Results); n > 0 {
		fmt.Fprintln(w, rep.Results[n-1].Message)
	}
}

// printChanges shows what pin -w would write.
func printChanges(w io.Writer, rep *pinimages.Report) {
	for _, c := range rep.Changes {
		fmt.Fprintf(w, "%s: %s/%s %s: %s -> %s\n", c.Resource.File, c.Resource.Node.GetKind(), c.Resource.Node.GetName(),
			c.Field.Path, orNone(c.Old), c.New)
	}
}

func orNone(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// runLock writes an ImageLock for the images of PATHs or of a YAML stream on stdin.
func runLock(ctx context.Context, args []string, stdio IO) error {
	fs := flag.NewFlagSet("lock", flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	var ff fileFlags
	ff.register(fs, "lock")
	var out string
	var refresh bool
	fs.StringVar(&out, "o", "", "write the lock to this file (default stdout); an existing lock there is kept and extended")
	fs.BoolVar(&refresh, "refresh", false, "re-resolve every tag and prune entries no image uses")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: pin-images lock [-o FILE] [--refresh] [flags] [PATH...]\n\nResolves every image of the YAML files in PATH (or of a YAML stream on stdin,\ne.g. kustomize build DIR | pin-images lock -o DIR/images.lock.yaml) and writes\nan ImageLock. Nothing is written when any error is reported.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	s, err := ff.settings(fs)
	if err != nil {
		return err
	}
	s.Mode = "resolve"
	if refresh {
		s.Mode = "refresh"
	}
	var files []*pinimages.File
	if fs.NArg() > 0 {
		if files, err = pinimages.ReadFiles(fs.Args()); err != nil {
			return err
		}
	} else {
		in, err := io.ReadAll(stdio.Stdin)
		if err != nil {
			return fmt.Errorf("failed to read stdin: %w", err)
		}
		f, err := pinimages.ParseFile("<stdin>", in)
		if err != nil {
			return err
		}
		files = []*pinimages.File{f}
	}
	lk := lock.New()
	if out != "" {
		if _, found, err := loadLock(nil, out); err != nil {
			return err
		} else if found != nil {
			lk = found
		}
	}
	resolver, err := newResolver(s)
	if err != nil {
		return err
	}
	// Images already pinned need no entry: locked mode keeps existing pins.
	rep, err := pinimages.Transform(ctx, pinimages.Nodes(files), s, resolver, lk, nil)
	if err != nil {
		return err
	}
	printResults(stdio.Stderr, rep)
	if rep.HasErrors() {
		fmt.Fprintln(stdio.Stderr, "pin-images: errors reported: no lock was written")
		return ErrFailed
	}
	b, err := rep.Lock.Marshal()
	if err != nil {
		return err
	}
	if out == "" {
		_, err = io.Copy(stdio.Stdout, bytes.NewReader(b))
		return err
	}
	if err := pinimages.WriteFileAtomic(out, b); err != nil {
		return err
	}
	fmt.Fprintf(stdio.Stderr, "wrote %s (%d entries)\n", out, rep.Lock.Len())
	return nil
}
