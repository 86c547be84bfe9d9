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

// Command pin-images pins container images to registry digests, as a KRM
// function (stdin is a ResourceList) or as a command line tool.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/cli"
)

func main() {
	if err := run(); err != nil {
		if !cli.IsUsage(err) {
			fmt.Fprintf(os.Stderr, "pin-images: %v\n", err)
		}
		os.Exit(1)
	}
}

func run() error {
	// SIGINT and SIGTERM cancel the run: lookups stop, and a write that has
	// not renamed anything yet removes its temporary files.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	terminal := false
	if fi, err := os.Stdin.Stat(); err == nil {
		terminal = fi.Mode()&os.ModeCharDevice != 0
	}
	return cli.Run(ctx, os.Args[1:], cli.IO{Stdin: os.Stdin, StdinIsTerminal: terminal, Stdout: os.Stdout, Stderr: os.Stderr})
}
