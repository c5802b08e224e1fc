#!/bin/sh
# Starts the built service with the runtime defaults that keep its memory bounded; `npm start`,
# the container image and `npm run bench` all start it through this file, so what is measured
# is what ships. Each default gives way to a value already in the environment.
#
# MALLOC_ARENA_MAX: glibc gives every thread that allocates its own arena and keeps the
# 19 MiB of an argon2id hash in each arena that ever hashed; libuv's four workers take turns
# hashing, so four arenas hold 76 MiB though at most one hash per core runs at once.
# Two arenas hold what the concurrent hashes need, without unmapping and faulting the memory
# back in on every hash (which a low MALLOC_MMAP_THRESHOLD_ does, and which slows hashing).
#
# --max-semi-space-size: V8's young generation grows to three times this (in MiB) under
# load; requests make short-lived garbage, and the default lets it reach 48 MiB.
# Measured in docs/operations.md ("Memory").
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
# A flag of the same name in NODE_OPTIONS comes later and wins.
export NODE_OPTIONS="--max-semi-space-size=8${NODE_OPTIONS:+ $NODE_OPTIONS}"
# Arguments are more options for node (the bench passes --cpu-prof). The working directory
# stays the caller's: `.env` and ./data are read from it.
exec node "$@" "$(dirname "$0")/../dist/main.js"
