# Two modules, built and tested each on its own (GOWORK=off) so that what is
# tested is what ships (DESIGN.md 1).
MODULES := functions operator
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO := GOWORK=off go
LDFLAGS := -s -w -X github.com/cloud37/ansible-playbook-operator/functions/internal/version.Version=$(VERSION)
BIN := $(CURDIR)/bin
CONTROLLER_GEN := $(BIN)/controller-gen

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: fmt
fmt: ## Format Go code in every module.
	@for m in $(MODULES); do (cd $$m && gofmt -s -w .); done

.PHONY: vet
vet: ## go vet every module.
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done

.PHONY: tidy
tidy: ## go mod tidy every module on its own (no go work sync: it would lift one module's dependencies to the other's).
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy); done

.PHONY: modules-check
modules-check: ## Fail when a go.mod outside MODULES appears (hack/tools/ holds tool-only modules).
	@found=$$(git ls-files --cached --others --exclude-standard '*go.mod' | grep -v '^hack/tools/' | xargs -r -n1 dirname | sort | tr '\n' ' '); \
	want=$$(printf '%s\n' $(MODULES) | sort | tr '\n' ' '); \
	if [ "$$found" != "$$want" ]; then echo "go.mod files in [$$found] but MODULES is [$$want]: update MODULES in the Makefile"; exit 1; fi

.PHONY: verify
verify: modules-check generate manifests tidy fmt vet ## Regenerate, tidy and format, then fail if anything changed.
	@if [ -n "$$(git status --porcelain)" ]; then \
		echo "make verify: files are not tidy, formatted or generated:"; git status --porcelain; git --no-pager diff --stat; exit 1; fi

##@ Generate

.PHONY: controller-gen
controller-gen: ## Build controller-gen (controller-tools v0.23.0) into the tool cache and link it into bin/.
	@hack/tools.sh controller-gen

.PHONY: generate
generate: controller-gen ## Generate the deepcopy methods of the operator's API types (zz_generated.deepcopy.go).
	cd operator && GOWORK=off $(CONTROLLER_GEN) object:headerFile=../hack/boilerplate.go.txt paths=./...

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs into kustomize/operator/crd/bases and the RBAC role into kustomize/operator/rbac.
	rm -f kustomize/operator/crd/bases/*.yaml
	cd operator && GOWORK=off $(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=../kustomize/operator/crd/bases
	cd operator && GOWORK=off $(CONTROLLER_GEN) rbac:roleName=ansible-playbook-operator paths=./... output:rbac:artifacts:config=../kustomize/operator/rbac

##@ Build

.PHONY: build
build: $(BIN)/pin-images ## Build the binaries into bin/.

.PHONY: $(BIN)/pin-images
$(BIN)/pin-images:
	@mkdir -p $(BIN)
	cd functions && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/pin-images

.PHONY: deps
deps: ## Install what tests and the demo need (Debian packages, Go tools into the cache).
	@hack/install-deps.sh

.PHONY: image-fn
image-fn: ## Build localhost/pin-images:dev (and :$(VERSION)) reproducibly from Dockerfile.fn into the local engine.
	@hack/image.sh fn $(VERSION)

# Both platforms' contexts are assembled (the tests push them as OCI indexes);
# the host's platform is loaded into the local engine.
ARCHES ?= amd64 arm64
.PHONY: images
images: ## Build both images (pin-images, ansible-playbook-operator) for $(ARCHES) and load the host's into the local engine.
	@ARCHES="$(ARCHES)" hack/image.sh fn $(VERSION)
	@ARCHES="$(ARCHES)" hack/image.sh operator $(VERSION)

.PHONY: push-images
push-images: ## Push both images built by make images as multi-arch indexes to $(REGISTRY) (INSECURE=1 for plain HTTP).
	@REGISTRY="$(REGISTRY)" VERSION="$(VERSION)" hack/push-images.sh

##@ Local cluster

.PHONY: root
root:
	@. hack/lib.sh && require_root "$(firstword $(MAKECMDGOALS))"

.PHONY: cluster-tools
cluster-tools: ## Build the local cluster's binaries and images into the tool cache (once per machine) and link them into bin/.
	@hack/cluster-bins.sh >/dev/null
	@hack/cluster-images.sh >/dev/null

.PHONY: cluster-up
cluster-up: root ## Start the local single-node cluster; prints `export KUBECONFIG=...` and `export REGISTRY=...` (eval "$$(make -s cluster-up)").
	@hack/cluster-up.sh

.PHONY: cluster-down
cluster-down: root ## Stop the local cluster and remove everything it made on the host.
	@if [ -x bin/cluster/localcluster ]; then bin/cluster/localcluster down; else echo "no bin/cluster/localcluster: nothing was started from this checkout" >&2; fi

##@ Test

.PHONY: test
test: root deps build images cluster-tools ## Run every test tier of every module (what .ci/run runs), envtest and the local cluster included.
	@assets=$$(hack/envtest.sh); export KUBEBUILDER_ASSETS=$$assets; hack/promcrds.sh >/dev/null; hack/kubectl.sh >/dev/null; \
	for m in $(MODULES); do echo "==> go test $$m"; (cd $$m && $(GO) test -count=1 -timeout 45m ./...); done

# pin-images' fuzz targets, as <package under functions/internal>:<target>.
FUZZ_TARGETS := imageref:FuzzParse pinimages:FuzzReadResourceList pinimages:FuzzSplice pinimages:FuzzDecodeConfig lock:FuzzParse
FUZZTIME ?= 30s

.PHONY: fuzz
fuzz: ## Run each pin-images fuzz target for FUZZTIME (default 30s); a crasher lands in its testdata/fuzz/: commit it as a regression case.
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; echo "==> $$fn (functions/internal/$$pkg) for $(FUZZTIME)"; \
		(cd functions && $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) ./internal/$$pkg/) || exit 1; done

.PHONY: bench
bench: deps build ## Run the pin-images benchmarks and print their report; whole-process lines time bin/pin-images as kustomize and kpt run it (median of BENCH_RUNS, default 5); then the admission webhook's latency.
	cd functions && PIN_IMAGES_BIN=$(BIN)/pin-images $(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 30m ./internal/pinimages/ | grep -v -e '^goos' -e '^goarch' -e '^pkg' -e '^cpu'
	@assets=$$(hack/envtest.sh); export KUBEBUILDER_ASSETS=$$assets; \
	cd functions && $(GO) test -run '^$$' -bench Admission -benchtime 1x -count 1 ./internal/webhook/ | grep -v -e '^goos' -e '^goarch' -e '^pkg' -e '^cpu'

.PHONY: bench-operator
bench-operator: deps ## The operator against a raw client on one envtest API server: 1,000 Repositories, Playbooks and Schedules (BENCH_OPERATOR_N, _WORKERS, _QPS, _BURST); last line "operator vs raw client: ratio R, W writes/object".
	@assets=$$(hack/envtest.sh); export KUBEBUILDER_ASSETS=$$assets; \
	cd operator && $(GO) test -run '^$$' -bench OperatorScale -benchtime 1x -count 1 -timeout 30m ./internal/controller/ | grep -v -e '^goos' -e '^goarch' -e '^pkg' -e '^cpu'

.PHONY: demo
demo: root deps build images cluster-tools ## pin-images on examples/update-digests, then the operator on the local cluster (KEEP=1 leaves it up).
	@hack/demo.sh
	@assets=$$(hack/envtest.sh); export KUBEBUILDER_ASSETS=$$assets; hack/promcrds.sh >/dev/null; \
	cd operator && $(GO) test -c -o $(BIN)/operator-e2e.test ./test/e2e/ && \
	cd test/e2e && DEMO=1 KEEP=$(KEEP) $(BIN)/operator-e2e.test -test.run '^TestDemo$$' -test.count 1 -test.timeout 20m
	@if [ -n "$(KEEP)" ]; then bin/cluster/localcluster up 2>/dev/null; fi
