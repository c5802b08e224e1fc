#!/usr/bin/env bash
# The programs `npm test` runs besides Node: redis-server (tests stop and start a Redis of
# their own to check what survives an outage), promtool (Prometheus's linter judges /metrics),
# Chromium (the hosted pages are tested in a real browser, driven by playwright-core: no
# browser download) and Python 3 with PyJWT, cryptography, FastAPI and httpx (the Python
# example is run against the service). `npm test` installs the missing ones first where it can
# (root with apt-get, as on a fresh machine of ours and in CI), and says how otherwise.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || [ -x "${REDIS_SERVER_BIN:-}" ] || missing+=(redis-server)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v "${CHROMIUM_PATH:-chromium}" >/dev/null 2>&1 || missing+=(chromium)
# Debian's python3, not whichever python3 comes first on PATH (a pyenv shim has none of these).
/usr/bin/python3 -c 'import jwt, cryptography, fastapi, httpx' >/dev/null 2>&1 ||
  missing+=(python3-jwt python3-cryptography python3-fastapi python3-httpx)
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
