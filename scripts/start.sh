#!/bin/sh
# Starts the built service with the runtime defaults that keep its memory bounded; `npm start`,
# the container image and `npm run bench` all start it through this file, so what is measured
# is what ships. Each default gives way to a value already in the environment.
#
# glibc malloc: an argon2id hash allocates 19 MiB on a libuv worker thread.
# MALLOC_ARENA_MAX: every thread that allocates gets an arena of its own, and an arena that
#   ever hashed keeps those 19 MiB; libuv's four workers take turns hashing, so four arenas
#   held 76 MiB though at most one hash per core runs at once. Two arenas hold what the
#   concurrent hashes need.
# MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_: fixed, so that the hashes' blocks come
#   from the arenas and stay mapped between hashes. Left to glibc's dynamic thresholds, two
#   arenas gave the blocks back after nearly every hash and the next one faulted 19 MiB in
#   again: a tenth of a sign-in's CPU went to page faults.
# --max-semi-space-size: V8's young generation grows to three times this (in MiB) under
# load; requests make short-lived garbage, and the default lets it reach 48 MiB.
# Measured in docs/operations.md ("Memory").
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-33554432}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-67108864}"
# A flag of the same name in NODE_OPTIONS comes later and wins.
export NODE_OPTIONS="--max-semi-space-size=8${NODE_OPTIONS:+ $NODE_OPTIONS}"
# Arguments are more options for node (the bench passes --cpu-prof). The working directory
# stays the caller's: `.env` and ./data are read from it.
exec node "$@" "$(dirname "$0")/../dist/main.js"
