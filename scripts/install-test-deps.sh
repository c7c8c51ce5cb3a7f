#!/usr/bin/env bash
# Installs what the test suite needs and is not on a fresh machine: a pinned
# MinIO server (kept in a cache directory and reused, because building it
# takes several minutes on a cold machine) and zip (tests/deploy packs the
# Lambda artifacts with scripts/build-lambda.sh).
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
if ! command -v zip >/dev/null 2>&1; then
  echo "install-test-deps: installing zip"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq zip >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq zip >/dev/null; fi
fi
# The ruler's tests send alerts to a real Alertmanager (Debian's package;
# the tests start it themselves on a free loopback port).
if ! command -v prometheus-alertmanager >/dev/null 2>&1 && [ ! -x /usr/bin/prometheus-alertmanager ]; then
  echo "install-test-deps: installing prometheus-alertmanager"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null; fi
  # The package's service is not wanted: the tests start their own.
  if command -v systemctl >/dev/null 2>&1; then (systemctl disable --now prometheus-alertmanager || sudo systemctl disable --now prometheus-alertmanager) >/dev/null 2>&1 || true; fi
fi
echo "install-test-deps: minio $("$cache/bin/minio" --version 2>/dev/null | head -1)"
