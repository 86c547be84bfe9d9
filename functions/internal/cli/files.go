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
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/files"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/krmignore"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pinimages"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
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
	fs.StringVar(&f.config, "config", "", "a PinImages document (or ConfigMap) with the settings (flags override it)")
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
		snap, err := files.Read(f.config)
		if err != nil {
			return pinimages.Settings{}, fmt.Errorf("failed to read --config: %w", err)
		}
		if cfg, err = pinimages.DecodeConfig(snap.Data); err != nil {
			return pinimages.Settings{}, fmt.Errorf("%s: %w", f.config, err)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["mode"] {
		cfg.Mode = f.mode
	}
	if set["drop-tag"] {
		cfg.DropTag = f.dropTag
	}
	if err := f.registryFlags.apply(fs, &cfg); err != nil {
		return pinimages.Settings{}, err
	}
	cfg.Skip.Prefixes = append(cfg.Skip.Prefixes, f.skipPrefixes...)
	cfg.Policy.RequireDigests = cfg.Policy.RequireDigests || f.requireDigests
	cfg.Policy.FailOnDrift = cfg.Policy.FailOnDrift || f.failOnDrift
	cfg.Policy.AllowedRegistries = append(cfg.Policy.AllowedRegistries, f.allowed...)
	return cfg.Validate()
}

// input is what pin, verify and lock read: the YAML files as parsed, with
// the snapshots they are written back against, and the lock.
type input struct {
	parsed    []*pinimages.File
	snapshots map[string]*files.Snapshot
	lock      lockFile
}

// lockFile is the ImageLock of a run and where it came from.
type lockFile struct {
	path string // "" when there is none to write
	lock *lock.Lock
	// before is the lock as read, so that only this run's changes are
	// merged into the file, whatever another run wrote meanwhile.
	before *lock.Lock
	res    *pinimages.Resource
}

// walkOptions select what pin-images reads in a directory: YAML files and
// kustomization files, less what kpt's .krmignore files leave out.
var walkOptions = files.WalkOptions{
	Match: func(name string) bool {
		return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || pinimages.IsKustomizationFile(name)
	},
	Ignore: func(root string) func(string, bool) (bool, error) { return krmignore.New(root).Ignored },
}

// readInput reads PATH arguments (files and directories) and the lock, and
// names symlinked directories a walk did not follow. A file named twice
// (a.yaml a.yaml, DIR DIR/a.yaml, or through a symlink) is read once.
func readInput(paths []string, lockFlag string, stderr io.Writer) (*input, error) {
	names, skipped, err := files.Walk(paths, walkOptions)
	if err != nil {
		return nil, err
	}
	for _, s := range skipped {
		fmt.Fprintf(stderr, "pin-images: skipped %s: a symlink to a directory is not followed inside a walk; name it as a PATH to include it\n", s)
	}
	in := &input{snapshots: map[string]*files.Snapshot{}}
	read := map[string]bool{} // absolute real paths
	for _, name := range names {
		snap, err := files.Read(name)
		if err != nil {
			return nil, err
		}
		real, err := filepath.Abs(snap.Real)
		if err != nil {
			return nil, fmt.Errorf("failed to read %q: %w", name, err)
		}
		if read[real] {
			continue
		}
		read[real] = true
		f, err := pinimages.ParseFile(name, snap.Data)
		if err != nil {
			return nil, err
		}
		in.parsed = append(in.parsed, f)
		in.snapshots[name] = snap
	}
	if in.lock, err = findLock(in.parsed, lockFlag); err != nil {
		return nil, err
	}
	return in, nil
}

// findLock finds the ImageLock: in the --lock file (which may hold other
// documents: they are kept), or one among the files.
func findLock(parsed []*pinimages.File, flagPath string) (lockFile, error) {
	if flagPath != "" {
		return readLock(flagPath, "--lock")
	}
	var lf lockFile
	for _, f := range parsed {
		if f.LockIndex < 0 {
			continue
		}
		if lf.path != "" {
			return lockFile{}, fmt.Errorf("two ImageLocks (%s and %s): keep one, or name it with --lock", lf.path, f.Path)
		}
		found, err := lockFrom(f.Path, f.Src)
		if err != nil {
			return lockFile{}, err
		}
		lf = found
	}
	return lf, nil
}

// readLock reads the lock file a flag names; a missing one is created on write.
func readLock(path, flagName string) (lockFile, error) {
	snap, err := files.Read(path)
	if errors.Is(err, os.ErrNotExist) {
		l := lock.New()
		return lockFile{path: path, lock: l, before: l.Clone()}, nil
	}
	if err != nil {
		return lockFile{}, fmt.Errorf("failed to read %s: %w", flagName, err)
	}
	return lockFrom(path, snap.Data)
}

func lockFrom(path string, src []byte) (lockFile, error) {
	span, l, found, err := lock.FindIn(src)
	if err != nil {
		return lockFile{}, fmt.Errorf("%s: %w", path, err)
	}
	if !found {
		return lockFile{}, fmt.Errorf("%s holds no ImageLock (apiVersion %s, kind %s): name the lock file, or a new one", path, lock.APIVersion, lock.Kind)
	}
	node, err := yaml.Parse(string(src[span.Start:span.End]))
	if err != nil {
		return lockFile{}, fmt.Errorf("%s: %w", path, err)
	}
	return lockFile{path: path, lock: l, before: l.Clone(), res: &pinimages.Resource{Node: node, File: path}}, nil
}

// merge returns the Txn merge of this run's lock changes into the lock
// file's current content, keeping its other documents and the entries
// another run wrote since this one read it.
func (lf lockFile) merge() func(current []byte, exists bool) ([]byte, error) {
	delta := lock.Diff(lf.before, lf.lock)
	return func(current []byte, exists bool) ([]byte, error) {
		if !exists {
			l := lock.New()
			l.Name = lf.lock.Name
			l.Apply(delta)
			return l.Marshal()
		}
		span, cur, found, err := lock.FindIn(current)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", lf.path, err)
		}
		if !found {
			return nil, fmt.Errorf("%s no longer holds an ImageLock: another program rewrote it; run pin-images again", lf.path)
		}
		cur.Apply(delta)
		doc, err := cur.Marshal()
		if err != nil {
			return nil, err
		}
		return lock.Splice(current, span, doc), nil
	}
}

// runPin implements pin and verify on files.
func runPin(ctx context.Context, cmd string, args []string, stdio IO, secrets *redact.Secrets) error {
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
			fmt.Fprintf(fs.Output(), "Usage: pin-images verify [flags] PATH...\n\nChanges nothing. Reports unpinned images, pins whose digest vanished (error)\nand tags that moved away from their pin (warning; error with --fail-on-drift),\nfor the images in PATH and the entries of the lock.\nExits 1 when any error is reported.\n\nFlags:\n")
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
	in, err := readInput(fs.Args(), ff.lockFile, stdio.Stderr)
	if err != nil {
		return err
	}
	var resolver registry.Resolver
	if s.Mode != "locked" {
		if resolver, err = newResolver(s, secrets); err != nil {
			return err
		}
	}
	rep, err := pinimages.Transform(ctx, pinimages.Input{Resources: pinimages.Nodes(in.parsed), Lock: in.lock.lock, LockResource: in.lock.res, ReadFile: readFile}, s, resolver, nil)
	if err != nil {
		return err
	}
	if interrupted(ctx) {
		return errInterrupted
	}
	printResults(stdio.Stderr, rep)
	if rep.HasErrors() {
		if write {
			fmt.Fprintln(stdio.Stderr, "pin-images: errors reported: no file was written")
		}
		return ErrFailed
	}
	edits, err := pinimages.SpliceFiles(in.parsed, rep.Changes)
	if err != nil {
		return err
	}
	if cmd == "verify" {
		if s.Signatures != nil {
			printChecked(stdio.Stdout, rep)
		}
		return nil
	}
	if !write {
		printChanges(stdio.Stdout, rep)
		return nil
	}
	var txn files.Txn
	txn.LockWait = s.Timeout
	for _, e := range edits {
		txn.Replace(in.snapshots[e.Path], e.New)
	}
	if rep.LockChanged && in.lock.path != "" {
		txn.Merge(in.lock.path, in.lock.merge())
	}
	return commit(ctx, &txn, stdio.Stderr, "")
}

// readFile reads a file a kustomization names (configurations:), as every
// input file is read: regular and bounded.
func readFile(path string) ([]byte, error) {
	snap, err := files.Read(path)
	if err != nil {
		return nil, err
	}
	return snap.Data, nil
}

// commit writes a transaction and says which files were written.
func commit(ctx context.Context, txn *files.Txn, stderr io.Writer, suffix string) error {
	written, err := txn.Commit(ctx)
	if errors.Is(err, files.ErrInterrupted) {
		return errInterrupted
	}
	if err != nil {
		return err
	}
	for _, w := range written {
		fmt.Fprintf(stderr, "wrote %s%s\n", w, suffix)
	}
	return nil
}

// printResults writes the notes on the whole run (info results about no
// resource, such as an ignored create:, but not the groups of the summary
// form), warnings, errors and the summary
// to stderr.
func printResults(w io.Writer, rep *pinimages.Report) {
	n := len(rep.Results)
	for _, r := range rep.Results[:max(n-1, 0)] {
		if r.Severity == framework.Info && r.ResourceRef == nil && r.Field == nil && r.Tags[pinimages.FieldsTag] == "" {
			fmt.Fprintln(w, r.Message)
		}
	}
	for _, line := range pinimages.StderrLines(rep.Results) {
		fmt.Fprintln(w, line)
	}
	if n > 0 {
		fmt.Fprintln(w, rep.Results[n-1].Message)
	}
}

// printChecked lists what verify checked field by field (with a signature
// policy, which key signed each pin), as stderr lines are written.
func printChecked(w io.Writer, rep *pinimages.Report) {
	var checked framework.Results
	for _, r := range rep.Results {
		if r.Severity == framework.Info && r.Field != nil {
			c := *r
			c.Severity = framework.Warning // StderrLines writes warnings and errors
			checked = append(checked, &c)
		}
	}
	for _, line := range pinimages.StderrLines(checked) {
		fmt.Fprintln(w, strings.Replace(line, ": warning: ", ": ", 1))
	}
}

// printChanges shows what pin -w would write.
func printChanges(w io.Writer, rep *pinimages.Report) {
	for _, c := range rep.Changes {
		obj := "" // a kustomization without kind is named by its file
		if kind := c.Resource.Node.GetKind(); kind != "" {
			obj = kind + "/" + c.Resource.Node.GetName() + " "
		}
		fmt.Fprintf(w, "%s: %s%s: %s -> %s\n", c.Resource.File, obj, c.Field.Path, orNone(c.Old), c.New)
	}
}

func orNone(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// checkOutput refuses an -o that cannot be replaced by a file: a directory,
// a device (/dev/stdout, /dev/full), a FIFO.
func checkOutput(path string) error {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("failed to use -o %q: %w", path, err)
	case info.IsDir():
		return fmt.Errorf("failed to use -o %q: it is a directory: name a file, e.g. %s/images.lock.yaml", path, strings.TrimSuffix(path, "/"))
	case !info.Mode().IsRegular():
		return fmt.Errorf("failed to use -o %q: it is %s, not a regular file: pin-images replaces the file by rename; leave -o out to print the lock on stdout", path, files.Describe(info))
	}
	return nil
}

// runLock writes an ImageLock for the images of PATHs or of a YAML stream on stdin.
func runLock(ctx context.Context, args []string, stdio IO, secrets *redact.Secrets) error {
	fs := flag.NewFlagSet("lock", flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	var ff fileFlags
	ff.register(fs, "lock")
	var out string
	var refresh bool
	fs.StringVar(&out, "o", "", "write the lock to this file (default stdout); an existing lock there is kept and extended, and the file's other documents are kept")
	fs.BoolVar(&refresh, "refresh", false, "re-resolve every tag and prune entries no image uses")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: pin-images lock [-o FILE] [--refresh] [flags] [PATH...]\n\nResolves every image of the YAML files in PATH (or of a YAML stream on stdin,\ne.g. kustomize build DIR | pin-images lock -o DIR/images.lock.yaml) and writes\nan ImageLock. Nothing is written when any error is reported.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if out != "" {
		if err := checkOutput(out); err != nil {
			return err
		}
	}
	s, err := ff.settings(fs)
	if err != nil {
		return err
	}
	s.Mode = "resolve"
	if refresh {
		s.Mode = "refresh"
	}
	var parsed []*pinimages.File
	if fs.NArg() > 0 {
		in, err := readInput(fs.Args(), "", stdio.Stderr)
		if err != nil {
			return err
		}
		parsed = in.parsed
	} else {
		data, err := readStdin(stdio.Stdin)
		if err != nil {
			return err
		}
		f, err := pinimages.ParseFile("<stdin>", data)
		if err != nil {
			return err
		}
		parsed = []*pinimages.File{f}
	}
	lf := lockFile{lock: lock.New()}
	lf.before = lf.lock.Clone()
	if out != "" {
		if lf, err = readLock(out, "-o"); err != nil {
			return err
		}
	}
	resolver, err := newResolver(s, secrets)
	if err != nil {
		return err
	}
	// Images already pinned need no entry: locked mode keeps existing pins.
	rep, err := pinimages.Transform(ctx, pinimages.Input{Resources: pinimages.Nodes(parsed), Lock: lf.lock, ReadFile: readFile}, s, resolver, nil)
	if err != nil {
		return err
	}
	if interrupted(ctx) {
		return errInterrupted
	}
	printResults(stdio.Stderr, rep)
	if rep.HasErrors() {
		fmt.Fprintln(stdio.Stderr, "pin-images: errors reported: no lock was written")
		return ErrFailed
	}
	if out == "" {
		b, err := rep.Lock.Marshal()
		if err != nil {
			return err
		}
		_, err = io.Copy(stdio.Stdout, bytes.NewReader(b))
		return err
	}
	lf.path = out
	var txn files.Txn
	txn.LockWait = s.Timeout
	txn.Merge(out, lf.merge())
	return commit(ctx, &txn, stdio.Stderr, fmt.Sprintf(" (%d entries)", rep.Lock.Len()))
}
