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

package localcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Image is an OCI image layout on disk that Up pushes to the node's
// registry as Name:Tag.
type Image struct {
	Name, Tag string
	// Layout is the OCI image layout directory.
	Layout string
}

// Ref is the image's reference in the node's registry.
func (i Image) Ref(l Layout) string { return l.Registry() + "/" + i.Name + ":" + i.Tag }

// ImagesIn lists the images hack/cluster-images.sh linked into dir, one
// entry per image named NAME:TAG (a link to its layout in the tool cache).
// The sandbox image pause:3.10 must be among them.
func ImagesIn(dir string) ([]Image, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("failed to read the images of the local cluster: %w (run hack/cluster-images.sh; make cluster-up does)", err)
	}
	var out []Image
	for _, e := range entries {
		name, tag, ok := strings.Cut(e.Name(), ":")
		if !ok {
			continue
		}
		out = append(out, Image{Name: name, Tag: tag, Layout: filepath.Join(dir, e.Name())})
	}
	if !slices.ContainsFunc(out, func(i Image) bool { return i.Name == "pause" }) {
		return nil, fmt.Errorf("%s has no pause image: run hack/cluster-images.sh (make cluster-up does)", dir)
	}
	return out, nil
}

// pushImages pushes every image to the registry. Blobs already there (the
// registry's storage outlives the node) are not sent again.
func (c *Cluster) pushImages(ctx context.Context, images []Image) error {
	crane, err := lookPath(c.BinDir, "crane")
	if err != nil {
		return err
	}
	for _, img := range images {
		if _, err := run(crane, "", "push", "--insecure", img.Layout, img.Ref(c.Layout)); err != nil {
			return fmt.Errorf("failed to push %s: %w", img.Ref(c.Layout), err)
		}
	}
	if len(images) > 0 {
		c.logf("pushed %d images to %s", len(images), c.Registry())
	}
	return nil
}
