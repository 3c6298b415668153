#!/usr/bin/env bash
# Programs the integration tests run for real; installed from Debian where missing.
set -euo pipefail
need=()
command -v caddy >/dev/null || need+=(caddy)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v runuser >/dev/null || need+=(util-linux)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "[test-deps] the integration tests need: ${need[*]} (Debian package names); install them and rerun" >&2
  exit 1
fi
echo "[test-deps] installing ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
