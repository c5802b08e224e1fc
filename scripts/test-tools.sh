#!/usr/bin/env bash
# The two programs `npm test` runs besides Node: redis-server (tests stop and start a Redis of
# their own to check what survives an outage) and promtool (Prometheus's linter judges
# /metrics). A test that needs a missing one fails, so `npm test` installs them first where it
# can (root with apt-get, as on a fresh machine of ours and in CI), and says how otherwise.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || [ -x "${REDIS_SERVER_BIN:-}" ] || missing+=(redis-server)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test tools: installing ${missing[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "test tools missing: install ${missing[*]} (e.g. apt-get install --no-install-recommends ${missing[*]})" >&2
exit 1
