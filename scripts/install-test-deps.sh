#!/usr/bin/env bash
# Installs what the test suite needs and is not on a fresh machine: a pinned
# MinIO server. The binary is kept in a cache directory and reused, because
# building it takes several minutes on a cold machine.
set -euo pipefail

cache="${KMLOG_CACHE:-$HOME/.cache/kmlog}"
minio_version="v0.0.0-20260212201848-7aac2a2c5b7c"
mkdir -p "$cache/bin"

stamp="$cache/bin/minio.version"
if [ ! -x "$cache/bin/minio" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$minio_version" ]; then
  echo "install-test-deps: building MinIO $minio_version into $cache/bin (takes a few minutes the first time)"
  (cd /tmp && GOBIN="$cache/bin" GOFLAGS=-mod=mod go install "github.com/minio/minio@$minio_version")
  echo "$minio_version" > "$stamp"
fi
echo "install-test-deps: minio $("$cache/bin/minio" --version 2>/dev/null | head -1)"
