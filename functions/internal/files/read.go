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

// Package files reads the files pin-images edits and replaces a set of them
// all or nothing. Reads take regular files only (a FIFO, /dev/zero or a
// terminal would block or never end) and are bounded. Writes go through a
// temporary file beside each target, with its mode and owner, fsynced, and
// are renamed only when every temporary file is written and no target
// changed since it was read; lock files are merged under an exclusive lock.
package files

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// MaxSize bounds what pin-images reads from one file or from stdin.
const MaxSize = 256 << 20

// Snapshot is a file as it was read.
type Snapshot struct {
	// Path is the file as named (an argument, or found by Walk).
	Path string
	// Real is the file written: Path with symlinks resolved.
	Real string
	Data []byte
	stat unix.Stat_t
}

// Read reads a regular file of at most MaxSize bytes, through symlinks.
func Read(path string) (*Snapshot, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read %q: %w", path, err)
	}
	// O_NONBLOCK: a FIFO put in the file's place must not block the open;
	// the fstat below refuses it.
	fd, err := unix.Open(real, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("failed to read %q: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), real)
	defer f.Close()
	s := &Snapshot{Path: path, Real: real}
	if err := unix.Fstat(fd, &s.stat); err != nil {
		return nil, fmt.Errorf("failed to read %q: %w", path, err)
	}
	if s.stat.Mode&unix.S_IFMT != unix.S_IFREG {
		info, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("failed to read %q: %w", path, err)
		}
		return nil, fmt.Errorf("failed to read %q: it is %s: pin-images reads and writes regular files only", path, Describe(info))
	}
	if s.Data, err = readBounded(f, path); err != nil {
		return nil, err
	}
	return s, nil
}

func readBounded(r io.Reader, path string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read %q: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("failed to read %q: larger than %d MiB, more than pin-images reads", path, MaxSize>>20)
	}
	return data, nil
}

// Describe names what a file that is not a regular file is.
func Describe(info fs.FileInfo) string {
	switch t := info.Mode().Type(); {
	case t.IsRegular():
		return "a regular file"
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

// WalkOptions select the files of directories Walk walks.
type WalkOptions struct {
	// Match selects files by name (nil: *.yaml and *.yml).
	Match func(name string) bool
	// Ignore, when set, makes the ignore function of a walk of root: a file
	// or directory below root it reports is left out (kpt's .krmignore).
	Ignore func(root string) func(path string, isDir bool) (bool, error)
}

func (o WalkOptions) match(name string) bool {
	if o.Match != nil {
		return o.Match(name)
	}
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// Walk expands PATH arguments into the files they name (a file given as a
// PATH is taken whatever its name), sorted. Hidden directories are skipped.
// A symlinked directory inside a walk is not followed (it may loop, or
// reach files twice), and is named in skipped; a symlinked PATH is walked.
func Walk(paths []string, o WalkOptions) (names, skipped []string, err error) {
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("failed to read %q: %w", p, err)
		}
		if !info.IsDir() {
			names = append(names, p)
			continue
		}
		root := p
		if li, err := os.Lstat(p); err == nil && li.Mode()&fs.ModeSymlink != 0 {
			root = p + string(filepath.Separator) // a trailing slash walks the link's target
		}
		ignored := func(string, bool) (bool, error) { return false, nil }
		if o.Ignore != nil {
			ignored = o.Ignore(root)
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path == root {
				return nil
			}
			if d.IsDir() && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			isDir := d.IsDir()
			if d.Type()&fs.ModeSymlink != 0 {
				target, err := os.Stat(path)
				if err != nil {
					return fmt.Errorf("failed to read %q: %w", path, err)
				}
				isDir = target.IsDir()
			}
			if skip, err := ignored(path, isDir); err != nil || skip {
				if err == nil && d.IsDir() {
					return filepath.SkipDir
				}
				return err
			}
			switch {
			case d.IsDir():
			case isDir: // a symlink to a directory
				if !strings.HasPrefix(d.Name(), ".") {
					skipped = append(skipped, path)
				}
			case o.match(d.Name()):
				names = append(names, path) // Read refuses what is not a regular file
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("failed to walk %q: %w", p, err)
		}
	}
	sort.Strings(names)
	return names, skipped, nil
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
