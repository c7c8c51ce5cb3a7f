#!/usr/bin/env bash
# Installs what the test suite needs and is not on a fresh machine: a pinned
# MinIO server (kept in a cache directory and reused, because building it
# takes several minutes on a cold machine), zip (tests/deploy packs the
# Lambda artifacts with scripts/build-lambda.sh), and chromium and the
# console's npm packages (tests/console).
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
# The console's browser tests (tests/console) drive Debian's chromium with
# playwright-core, and rebuild the console with vite: both from
# console/package-lock.json (npm ci), redone only when the lock changes.
apt_pkgs=()
command -v chromium >/dev/null 2>&1 || apt_pkgs+=(chromium)
command -v npm >/dev/null 2>&1 || apt_pkgs+=(nodejs npm)
# The ruler's tests send alerts to a real Alertmanager (Debian's package;
# the tests start their own on a free loopback port).
command -v prometheus-alertmanager >/dev/null 2>&1 || apt_pkgs+=(prometheus-alertmanager)
if [ "${#apt_pkgs[@]}" -gt 0 ]; then
  echo "install-test-deps: installing ${apt_pkgs[*]}"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "${apt_pkgs[@]}" >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq "${apt_pkgs[@]}" >/dev/null; fi
fi
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  echo "install-test-deps: the console needs Node.js 20.19 or newer (vite 8), found $(node --version 2>/dev/null || echo none)" >&2
  exit 1
fi
repo="$(cd "$(dirname "$0")/.." && pwd)"
lock_sum="$(sha256sum < "$repo/console/package-lock.json")"
npm_stamp="$repo/console/node_modules/.kmlog-lock.sha256"
if [ "$(cat "$npm_stamp" 2>/dev/null)" != "$lock_sum" ]; then
  echo "install-test-deps: npm ci in console/"
  (cd "$repo/console" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > "$npm_stamp"
fi
echo "install-test-deps: minio $("$cache/bin/minio" --version 2>/dev/null | head -1)"
