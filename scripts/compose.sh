#!/usr/bin/env bash
# Make `docker compose` available for the benchmarks' comparison (bench/compose_stack.py).
# Where no Docker release can be downloaded, build the compose CLI plugin from the Go module proxy
# (github.com/docker/compose/v2, the version the docker provider build already depends on) into
# ~/.docker/cli-plugins. Takes a few minutes cold; cached in $PREFLIGHT_CACHE.
set -euo pipefail
VERSION=v2.35.1
CACHE="${PREFLIGHT_CACHE:-$HOME/.cache/preflight}"
PLUGIN="$HOME/.docker/cli-plugins/docker-compose"
if docker compose version >/dev/null 2>&1; then echo "[compose] $(docker compose version)"; exit 0; fi
binary="$CACHE/compose-$VERSION/docker-compose"
if [ ! -x "$binary" ]; then
  echo "[compose] building docker compose $VERSION from Go modules (a few minutes)"
  export GOFLAGS=-mod=mod GOSUMDB=off CGO_ENABLED=0
  source_dir="$(go mod download -json "github.com/docker/compose/v2@$VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  work="$(mktemp -d)"
  cp -r "$source_dir/." "$work" && chmod -R u+w "$work"
  mkdir -p "$(dirname "$binary")"
  (cd "$work" && go build -trimpath -ldflags "-s -w" -o "$binary" ./cmd)
  rm -rf "$work"
fi
mkdir -p "$(dirname "$PLUGIN")"
ln -sf "$binary" "$PLUGIN"
echo "[compose] $(docker compose version)"
