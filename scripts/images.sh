#!/usr/bin/env bash
# Make sure every image the local stack names exists in the local Docker engine.
#   scripts/images.sh ensure        # the local stack's images
#   scripts/images.sh ensure-test   # and those only the tests use (the rehearsal servers)
# For each image: present and built from the current recipe -> nothing to do; else the official
# image, if a registry answers, tagged under our local name; else built from Debian's packages on
# a debootstrapped bookworm base (machines that reach package registries only). Images built
# here carry names of their own (preflight-local/...), never an official image's name.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${PREFLIGHT_CACHE:-$HOME/.cache/preflight}"
BASE=preflight-local/debian:bookworm
# The machine's own Debian mirror (its apt sources), unless DEBIAN_MIRROR names another.
apt_mirror() {
  { grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}'
    grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'; } | grep -v -- '-security' | head -1
}
MIRROR="${DEBIAN_MIRROR:-$(apt_mirror)}"

# local name | official image to try first | recipe dir under scripts/images | build context
IMAGES=(
  "preflight-local/postgres:15|postgres:15-bookworm|postgres|scripts/images/postgres"
  "preflight-local/redis:7|redis:7.0-bookworm|redis|scripts/images/redis"
  "preflight-local/caddy:2|caddy:2.8.4|caddy|scripts/images/caddy"
  "preflight-sample-app:0.1.0||app|examples/app"
  "preflight-local/backup:1||backup|scripts/images/backup"
  "preflight-local/monitoring:1||monitoring|scripts/images/monitoring"
)
# Only the tests need these: the rehearsal servers (tests/rehearsal).
TEST_IMAGES=(
  "preflight-local/rehearsal-server:bookworm||rehearsal|scripts/images/rehearsal"
)

log() { echo "[images] $*"; }
recipe_hash() { cat "scripts/images/$1"/* "$2"/* 2>/dev/null | sha256sum | cut -c1-16; }
has_image() { docker image inspect "$1" >/dev/null 2>&1; }
label_of() { docker image inspect --format "{{ index .Config.Labels \"preflight.recipe\" }}" "$1" 2>/dev/null || true; }

pull_official() {  # official local-name
  [ -n "$1" ] || return 1
  timeout 120 docker pull --quiet "$1" >/dev/null 2>&1 || return 1
  docker tag "$1" "$2" && log "$2: the official $1"
}

ensure_base() {
  has_image "$BASE" && return 0
  local rootfs="$CACHE/images/rootfs-bookworm"
  command -v debootstrap >/dev/null || {
    log "installing debootstrap"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  [ -n "$MIRROR" ] || { log "no Debian mirror in this machine's apt sources: set DEBIAN_MIRROR"; exit 1; }
  log "debootstrap bookworm (minbase) from $MIRROR: about a minute"
  rm -rf "$rootfs" && mkdir -p "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$CACHE/images/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/images/debootstrap.log" >&2; exit 1; }
  tar -C "$rootfs" -c . | docker import - "$BASE" >/dev/null
  rm -rf "$rootfs"
  log "$BASE imported"
}

build_from_debian() {  # local-name recipe context hash
  ensure_base
  log "$1: building from Debian packages"
  local build_log="$CACHE/images/build-$2.log"
  docker build --network host --build-arg BASE="$BASE" --label "preflight.recipe=$4" \
    -f "scripts/images/$2/Dockerfile" -t "$1" "$3" >"$build_log" 2>&1 \
    || { tail -30 "$build_log" >&2; log "$1: build failed (whole log: $build_log)"; exit 1; }
  log "$1: built"
}

ensure() {
  mkdir -p "$CACHE/images"
  for entry in "$@"; do
    IFS='|' read -r name official recipe context <<<"$entry"
    local hash; hash="$(recipe_hash "$recipe" "$context")"
    if has_image "$name"; then
      local label; label="$(label_of "$name")"
      # An image without our label came from a registry (or the user): keep it.
      if [ -z "$label" ] || [ "$label" = "$hash" ]; then log "$name: present"; continue; fi
    fi
    pull_official "$official" "$name" || build_from_debian "$name" "$recipe" "$context" "$hash"
  done
}

case "${1:-ensure}" in
  ensure) ensure "${IMAGES[@]}" ;;
  ensure-test) ensure "${IMAGES[@]}" "${TEST_IMAGES[@]}" ;;
  *) echo "usage: $0 ensure|ensure-test" >&2; exit 2 ;;
esac
