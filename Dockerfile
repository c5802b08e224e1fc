# syntax=docker/dockerfile:1

# Hyperion Auth: build with `docker build -t hyperion-auth .`, run with
#   docker run -p 8000:8000 -v hyperion-data:/data hyperion-auth
# (embedded PostgreSQL in /data) or with DATABASE_URL / REDIS_URL set. See docs/operations.md.

# ---- build: compile TypeScript and the native modules (argon2, bcrypt) ----
# Both stages use the same Debian release, so the native modules built here match the glibc
# of the runtime image (the musl-based Alpine images would need other binaries).
FROM node:22-bookworm-slim AS build
# node-gyp's toolchain, for argon2 and bcrypt where no prebuilt binary fits the platform.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# Dependencies in their own layer, so that a change to src/ does not reinstall them.
# `npm install`, not `npm ci`: the lock file records the optional per-platform packages
# only for the platform that wrote it, and `npm ci` refuses it elsewhere (see .ci/run).
# --ignore-scripts skips the package's own `prepare` (tsc, which needs src/, copied below);
# the two native modules then run their install scripts through `npm rebuild`.
COPY package.json package-lock.json ./
# The npm workspace (packages/verify, the token verification kit) must be known to the install.
COPY packages/verify/package.json ./packages/verify/package.json
RUN npm install --no-audit --no-fund --ignore-scripts \
    && npm rebuild argon2 bcrypt

COPY tsconfig.json ./
COPY src ./src
# The build compiles the kit too (`npm run build`); the service itself never imports it.
COPY packages/verify/tsconfig.json ./packages/verify/tsconfig.json
COPY packages/verify/src ./packages/verify/src
# Build, then drop the dev dependencies; what is left is copied into the runtime image.
RUN npm run build \
    && npm prune --omit=dev --no-audit --no-fund

# ---- runtime ----
FROM node:22-bookworm-slim AS runtime
ENV HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data
WORKDIR /app

# package.json is needed at run time: it makes dist/*.js ES modules ("type": "module").
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The common-password list the password policy reads (dist/../assets).
COPY assets ./assets
COPY scripts/start.sh ./scripts/start.sh

# The embedded database (used when DATABASE_URL is unset) lives in DATA_DIR; the image's
# `node` user (uid 1000) owns it, and a named volume mounted there inherits that owner.
# The application files stay owned by root, so the service cannot change its own code.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node

EXPOSE 8000

# Liveness: /health answers without touching the database. No curl in the slim image, so
# node's own fetch does it. The first start of the embedded database takes some seconds.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Node runs as PID 1 on purpose: the service installs its own SIGTERM/SIGINT handlers
# (stop accepting, finish in-flight requests, drain the workers, exit within 10 s), so no
# init process is needed to forward the signal. It starts no child processes to reap.
# Give `docker stop` more than those 10 s: `docker stop -t 15`, or stop_grace_period.
STOPSIGNAL SIGTERM
# The runtime defaults (memory) `npm start` and the bench use; sh execs node, which stays PID 1.
CMD ["sh", "scripts/start.sh"]
