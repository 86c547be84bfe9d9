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

// Command localcluster starts and stops the machine's single-node test
// cluster (package localcluster; `make cluster-up`, `make cluster-down`).
// It is a development tool: no image ships it.
//
//	localcluster up        start (or find running); print the export lines on stdout
//	localcluster down      stop and remove everything it made on the host
//	localcluster status    say whether it is up
//	localcluster logs [N]  the last N lines of each component's log
//	localcluster provision --kubeconfig F --dir D --node N
//	                       the default StorageClass's provisioner (run by up)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/localcluster"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "localcluster: %v\n", err)
		os.Exit(1)
	}
}

const usage = "usage: localcluster up | down | status | logs [N] | provision --kubeconfig F --dir D --node N"

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	// The binary lives in bin/cluster beside the components' binaries;
	// hack/cluster-images.sh links the images into bin/cluster-images.
	binDir := filepath.Dir(exe)
	layout := localcluster.DefaultLayout(binDir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := localcluster.New(layout, os.Stderr)
	c.Starter = localcluster.StarterCommand

	switch args[0] {
	case "up":
		images, err := localcluster.ImagesIn(filepath.Join(filepath.Dir(binDir), "cluster-images"))
		if err != nil {
			return err
		}
		started, err := c.Up(ctx, images)
		if err != nil {
			return fmt.Errorf("%w\n(component logs: %s; `make cluster-down` removes what was started)", err, layout.LogsDir())
		}
		if !started {
			fmt.Fprintln(os.Stderr, "localcluster: already up")
		}
		fmt.Printf("export KUBECONFIG=%s\nexport REGISTRY=%s\n", layout.Kubeconfig(), layout.Registry())
		return nil
	case "down":
		return c.Down()
	case "status":
		if err := c.Ready(ctx); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "localcluster: up (API server %s, registry %s)\n", layout.APIServer(), layout.Registry())
		return nil
	case "logs":
		n := 40
		if len(args) > 1 {
			if n, err = strconv.Atoi(args[1]); err != nil {
				return fmt.Errorf("logs N: %w", err)
			}
		}
		c.Diagnose(os.Stdout, n)
		return nil
	case "provision":
		fs := flag.NewFlagSet("provision", flag.ContinueOnError)
		kubeconfig := fs.String("kubeconfig", layout.Kubeconfig(), "kubeconfig of the cluster")
		dir := fs.String("dir", "", "directory of the volumes")
		node := fs.String("node", layout.NodeName, "the node's name")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *dir == "" {
			return fmt.Errorf("provision: --dir is required")
		}
		return localcluster.Provision(ctx, *kubeconfig, *dir, *node)
	default:
		return fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
}
