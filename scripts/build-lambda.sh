#!/usr/bin/env bash
# Builds the Lambda artifacts serverless.yml deploys: for each function, a
# zip holding `bootstrap` (the kmlog binary for linux/arm64, built with
# -tags lambda.norpc, which drops the RPC shim that provided.al2023 does not
# use) and the Lambda config file. The binary is built once: every function
# runs the same code, KMLOG_TARGET selects which.
#
#   scripts/build-lambda.sh            # into build/lambda
#   OUT=/tmp/x scripts/build-lambda.sh # elsewhere (tests/deploy does this)
set -euo pipefail

cd "$(dirname "$0")/.."
out="${OUT:-build/lambda}"
functions=(frontend querier compactor ruler)
mkdir -p "$out/bin"

GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -trimpath -tags lambda.norpc \
  -ldflags "-s -w" -o "$out/bin/bootstrap" ./cmd/kmlog
cp infra/lambda/kmlog.yaml "$out/bin/kmlog.yaml"

for fn in "${functions[@]}"; do
  rm -f "$out/$fn.zip"
  # -X: no extra file attributes, so the same input gives the same zip.
  (cd "$out/bin" && zip -q -X "../$fn.zip" bootstrap kmlog.yaml)
  echo "build-lambda: $out/$fn.zip ($(wc -c < "$out/$fn.zip") bytes)"
done
