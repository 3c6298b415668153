#!/usr/bin/env bash
# Make sure a Docker engine answers; start a root dockerd where none runs (build machines ship
# the client only), and stop only an engine this script started.
#   scripts/docker-engine.sh start|stop|status
set -euo pipefail
STATE="${PREFLIGHT_CACHE:-$HOME/.cache/preflight}/dockerd"
PIDFILE="$STATE/dockerd.pid"

answers() { docker info >/dev/null 2>&1; }

start() {
  if answers; then echo "[docker] engine already answering"; return 0; fi
  if ! command -v dockerd >/dev/null; then
    if [ "$(id -u)" != 0 ]; then
      echo "[docker] no Docker engine answers and dockerd is not installed; install Docker (or run as root so" \
           "this script can apt-get install docker.io)" >&2
      exit 1
    fi
    echo "[docker] installing docker.io from Debian"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  fi
  mkdir -p "$STATE"
  for driver in overlay2 vfs; do
    echo "[docker] starting dockerd (storage driver $driver)"
    dockerd --iptables=false --storage-driver="$driver" --data-root="$STATE/data-$driver" \
      --pidfile="$PIDFILE" >"$STATE/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do
      if answers; then echo "[docker] engine up"; return 0; fi
      if ! kill -0 "$!" 2>/dev/null; then break; fi
      sleep 1
    done
    kill "$!" 2>/dev/null || true
    wait "$!" 2>/dev/null || true
  done
  echo "[docker] dockerd did not start; see $STATE/dockerd.log" >&2
  tail -20 "$STATE/dockerd.log" >&2
  exit 1
}

stop() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")"
    echo "[docker] stopped the engine this script started"
  fi
}

case "${1:-status}" in
  start) start ;;
  stop) stop ;;
  status) answers && echo "[docker] answering" || { echo "[docker] not answering"; exit 1; } ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
