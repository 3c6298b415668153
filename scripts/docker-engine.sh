#!/usr/bin/env bash
# Make sure a Docker engine answers; start a root dockerd where none runs (build machines ship
# the client only), and stop only an engine this script started.
#   scripts/docker-engine.sh start|stop|status|owns
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

owns() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

stop() {
  if owns; then
    local pid; pid="$(cat "$PIDFILE")"
    kill "$pid"
    # dockerd stops its containers first (their stop timeouts); wait, so a start that follows
    # does not find the old engine still answering.
    for _ in $(seq 1 90); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    echo "[docker] stopped the engine this script started"
  fi
}

case "${1:-status}" in
  start) start ;;
  stop) stop ;;
  owns) owns ;;  # exit 0 when the running engine is one this script started (tests may restart it)
  status) answers && echo "[docker] answering" || { echo "[docker] not answering"; exit 1; } ;;
  *) echo "usage: $0 start|stop|status|owns" >&2; exit 2 ;;
esac
