#!/usr/bin/env bash
# Installs, from Debian, the programs the integration tests run for real; the list of what is
# needed lives in tests/daemons.py.  Usage: scripts/test-deps.sh <python of the project venv>
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a need <<<"$("${1:-.venv/bin/python}" -m tests.daemons)"
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "[test-deps] the integration tests need: ${need[*]} (Debian package names); install them and rerun" >&2
  exit 1
fi
echo "[test-deps] installing ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
