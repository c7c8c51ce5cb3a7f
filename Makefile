# kmlog developer targets. `make test` is the whole suite: it installs what
# the tests need (a pinned MinIO server) and runs everything CI runs.
GO       ?= go
PKGS     ?= ./...
CACHE    ?= $(HOME)/.cache/kmlog
export KMLOG_MINIO ?= $(CACHE)/bin/minio

.PHONY: run test test-fault deps vet fmt lint unit fuzz bench bench-compare build image

run:
	$(GO) run ./cmd/kmlog

build:
	$(GO) build -o bin/kmlog ./cmd/kmlog

# image: the kmlog container image as an OCI layout in build/image, built
# without a container engine and reproducibly (same sources, same digest):
# a static binary, non-root. Push it with `crane push build/image REF` or
# `skopeo copy oci:build/image docker://REF`. tests/deploy (TestImage)
# builds it the same way on every `make test`; the binary is the Lambda
# artifacts' (-tags lambda.norpc only drops aws-lambda-go's RPC mode).
IMAGE_ARCH ?= arm64
IMAGE_TAG  ?= ghcr.io/kubemate/kmlog:dev
image:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build -trimpath -tags lambda.norpc -ldflags "-s -w" -o build/kmlog-linux-$(IMAGE_ARCH) ./cmd/kmlog
	$(GO) run ./scripts/ociimage -binary build/kmlog-linux-$(IMAGE_ARCH) -arch $(IMAGE_ARCH) -out build/image -tag $(IMAGE_TAG) -source-date-epoch $${SOURCE_DATE_EPOCH:-0}

deps:
	./scripts/install-test-deps.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)

# test: everything — unit, fuzz seed corpora, real-MinIO integration and
# end-to-end tests — with the race detector.
test: deps vet
	$(GO) test -race -count=1 -timeout 40m $(PKGS)

unit:
	$(GO) test -count=1 $(PKGS)

# test-fault: the fault suite at full size (a 60 s MinIO outage, longer
# load phases); `make test` runs it reduced. Prints the figures table.
test-fault: deps
	$(GO) test -count=1 -timeout 30m -run '^TestFaults$$' -v ./tests/e2e/ -args -fault.full

# fuzz: run each fuzz target for FUZZTIME (CI runs the seed corpora on every
# `make test`; this is the longer, nightly kind).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# bench: benchmarks, 10 runs each, into bench.txt; compare two files with
# `make bench-compare OLD=old.txt NEW=bench.txt`.
BENCH ?= .
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count 10 $(PKGS) | tee bench.txt

bench-compare:
	$(GO) tool benchstat $(OLD) $(NEW)
