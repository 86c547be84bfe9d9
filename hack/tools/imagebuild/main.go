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

// Command imagebuild builds reproducible images from the FROM scratch
// Dockerfiles of this repository with go-containerregistry: the same
// instructions docker build follows (COPY, USER, ENTRYPOINT, ENV, WORKDIR,
// LABEL), but with fixed timestamps and owners, so the same inputs give the
// same digest. `ADD rootfs.tar /` takes a local tar as one layer, as
// docker build does (the root file systems of the local cluster's Debian
// images: owners and modes are the tar's). It writes a docker tarball for
// `docker load`, an OCI layout, or pushes a multi-arch index to a registry.
//
//	imagebuild -f Dockerfile.fn -context linux/amd64=_out/image-fn/linux-amd64 \
//	  [-context linux/arm64=...] [-docker-tar out.tar -tag localhost/pin-images:dev] \
//	  [-oci-layout DIR] [-push 127.0.0.1:5000/pin-images:dev] [-insecure]
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "imagebuild: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var contexts multi
	dockerfile := flag.String("f", "Dockerfile", "the Dockerfile (FROM scratch only)")
	flag.Var(&contexts, "context", "PLATFORM=DIR build context per platform (repeatable)")
	dockerTar := flag.String("docker-tar", "", "write a docker tarball of the first platform for `docker load`")
	tag := flag.String("tag", "", "tag for -docker-tar")
	push := flag.String("push", "", "push the image (an index when several platforms) to this reference")
	ociLayout := flag.String("oci-layout", "", "write the image (an index when several platforms) as an OCI image layout into this new directory")
	insecure := flag.Bool("insecure", false, "push over plain HTTP")
	epoch := flag.Int64("source-date-epoch", sourceDateEpoch(), "timestamp of files and config (default $SOURCE_DATE_EPOCH or 0)")
	flag.Parse()

	df, err := os.ReadFile(*dockerfile)
	if err != nil {
		return err
	}
	instr, err := parseDockerfile(string(df))
	if err != nil {
		return fmt.Errorf("%s: %w", *dockerfile, err)
	}
	if len(contexts) == 0 {
		return fmt.Errorf("no -context given")
	}
	when := time.Unix(*epoch, 0).UTC()
	var images []platformImage
	for _, c := range contexts {
		plat, dir, ok := strings.Cut(c, "=")
		if !ok {
			return fmt.Errorf("invalid -context %q: want PLATFORM=DIR", c)
		}
		p, err := v1.ParsePlatform(plat)
		if err != nil {
			return err
		}
		img, err := build(instr, dir, *p, when)
		if err != nil {
			return fmt.Errorf("%s: %w", plat, err)
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		fmt.Printf("%s %s\n", plat, d)
		images = append(images, platformImage{img: img, platform: *p})
	}
	if *dockerTar != "" {
		if *tag == "" {
			return fmt.Errorf("-docker-tar needs -tag")
		}
		t, err := name.NewTag(*tag)
		if err != nil {
			return err
		}
		if err := tarball.WriteToFile(*dockerTar, t, images[0].img); err != nil {
			return err
		}
	}
	if *ociLayout != "" {
		if err := writeLayout(*ociLayout, images); err != nil {
			return err
		}
	}
	if *push != "" {
		return pushImages(*push, *insecure, images)
	}
	return nil
}

// writeLayout writes an OCI layout holding the image, or the index of
// several platforms' images.
func writeLayout(dir string, images []platformImage) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if len(images) == 1 {
		return p.AppendImage(images[0].img)
	}
	return p.AppendIndex(index(images))
}

func sourceDateEpoch() int64 {
	var v int64
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		fmt.Sscan(s, &v)
	}
	return v
}

type platformImage struct {
	img      v1.Image
	platform v1.Platform
}

type instruction struct {
	op   string
	args []string
	raw  string
}

// parseDockerfile accepts the subset our FROM scratch images use.
func parseDockerfile(src string) ([]instruction, error) {
	var out []instruction
	sc := bufio.NewScanner(strings.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		op, rest, _ := strings.Cut(text, " ")
		op = strings.ToUpper(op)
		rest = strings.TrimSpace(rest)
		in := instruction{op: op, raw: rest}
		switch op {
		case "FROM":
			if rest != "scratch" {
				return nil, fmt.Errorf("line %d: only FROM scratch is supported (no image can be pulled here)", line)
			}
		case "COPY", "ADD", "LABEL", "ENV":
			in.args = strings.Fields(rest)
		case "USER", "WORKDIR":
			in.args = []string{rest}
		case "ENTRYPOINT", "CMD":
			if err := json.Unmarshal([]byte(rest), &in.args); err != nil {
				return nil, fmt.Errorf("line %d: %s must be a JSON array: %w", line, op, err)
			}
		default:
			return nil, fmt.Errorf("line %d: unsupported instruction %s", line, op)
		}
		out = append(out, in)
	}
	if len(out) == 0 || out[0].op != "FROM" {
		return nil, fmt.Errorf("the first instruction must be FROM scratch")
	}
	return out, sc.Err()
}

// build applies the instructions to an empty image: one layer per COPY,
// files owned by root with the modes they have in the context.
func build(instr []instruction, dir string, p v1.Platform, when time.Time) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg := v1.Config{}
	for _, in := range instr[1:] {
		switch in.op {
		case "COPY":
			if len(in.args) < 2 {
				return nil, fmt.Errorf("COPY needs a source and a destination")
			}
			layer, err := copyLayer(dir, in.args[:len(in.args)-1], in.args[len(in.args)-1], when)
			if err != nil {
				return nil, err
			}
			if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer}); err != nil {
				return nil, err
			}
		case "ADD":
			// Only a local tar extracted at the root: the tar is the layer.
			if len(in.args) != 2 || in.args[1] != "/" || !strings.HasSuffix(in.args[0], ".tar") {
				return nil, fmt.Errorf("ADD %s: only `ADD <file>.tar /` is supported", in.raw)
			}
			layer, err := tarball.LayerFromFile(filepath.Join(dir, in.args[0]))
			if err != nil {
				return nil, err
			}
			if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer}); err != nil {
				return nil, err
			}
		case "USER":
			cfg.User = in.args[0]
		case "WORKDIR":
			cfg.WorkingDir = in.args[0]
		case "ENTRYPOINT":
			cfg.Entrypoint = in.args
		case "CMD":
			cfg.Cmd = in.args
		case "ENV", "LABEL":
			for _, kv := range in.args {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("%s %q: want KEY=VALUE", in.op, kv)
				}
				if in.op == "ENV" {
					cfg.Env = append(cfg.Env, k+"="+strings.Trim(v, `"`))
				} else {
					if cfg.Labels == nil {
						cfg.Labels = map[string]string{}
					}
					cfg.Labels[k] = strings.Trim(v, `"`)
				}
			}
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: when}
	cf.History = nil
	return mutate.ConfigFile(img, cf)
}

// copyLayer makes a layer of the sources, like COPY: a directory
// destination (ending in /) receives the files by name.
func copyLayer(dir string, srcs []string, dst string, when time.Time) (v1.Layer, error) {
	type entry struct {
		name string
		data []byte
		mode int64
	}
	var entries []entry
	for _, s := range srcs {
		b, err := os.ReadFile(filepath.Join(dir, s))
		if err != nil {
			return nil, err
		}
		info, err := os.Stat(filepath.Join(dir, s))
		if err != nil {
			return nil, err
		}
		target := dst
		if strings.HasSuffix(dst, "/") || len(srcs) > 1 {
			target = path.Join(dst, path.Base(s))
		}
		entries = append(entries, entry{name: strings.TrimPrefix(target, "/"), data: b, mode: int64(info.Mode().Perm())})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, e := range entries {
		for d := path.Dir(e.name); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	dirList := make([]string, 0, len(dirs))
	for d := range dirs {
		dirList = append(dirList, d)
	}
	sort.Strings(dirList)
	for _, d := range dirList {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: when, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	for _, e := range entries {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: e.mode, Size: int64(len(e.data)), ModTime: when, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

// index is the OCI index of the platforms' images.
func index(images []platformImage) v1.ImageIndex {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, pi := range images {
		p := pi.platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: pi.img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return idx
}

func pushImages(ref string, insecure bool, images []platformImage) error {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return err
	}
	auth := remote.WithAuthFromKeychain(authn.DefaultKeychain)
	if len(images) == 1 {
		return remote.Write(r, images[0].img, auth)
	}
	idx := index(images)
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("index %s\n", d)
	return remote.WriteIndex(r, idx, auth)
}
