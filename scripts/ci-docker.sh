#!/usr/bin/env bash
# Everything the container tests need, from a cold machine: a Docker engine
# (scripts/docker-engine.sh), then Docker Compose v2 (scripts/docker-compose.sh) beside the
# local images (scripts/docker-images.sh), each step timed on stderr. Every step is
# cached, so a warm run takes seconds.
#
# stdout is one line, `export DOCKER_HOST=...`, for the tests that follow (testcontainers
# and tests/deploy/test_compose_up.py read it):
#   eval "$(bash scripts/ci-docker.sh)"
# A step that fails prints its one-line reason and exits non-zero; the tests that need
# the engine then fail with that reason under CI, and skip elsewhere.
# Usage: scripts/ci-docker.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -eq 0 ]] || { echo "ci-docker: no arguments expected (usage: $0)" >&2; exit 2; }

step() {  # step LABEL SCRIPT ARGS...: run scripts/SCRIPT, time it, keep its last stdout line
  local label=$1 script=$2 start=$SECONDS
  shift 2
  last="$(bash "$repo/scripts/$script" "$@" | tail -n 1)" \
    || { echo "ci-docker: $label failed (see above)" >&2; exit 1; }
  echo "ci-docker: $label: $((SECONDS - start))s" >&2
}

step "engine" docker-engine.sh start
host="$last"
export DOCKER_HOST="$host"
# Compose's cold build is CPU (Go), the images' mostly downloads: run them side by side.
compose_log="$(mktemp)"
trap 'rm -f "$compose_log"' EXIT
(step "docker compose" docker-compose.sh --print-path) 2>"$compose_log" &
compose_pid=$!
images_status=0
(step "images" docker-images.sh) || images_status=$?
compose_status=0
wait "$compose_pid" || compose_status=$?
cat "$compose_log" >&2
((images_status == 0 && compose_status == 0)) || exit 1
printf 'export DOCKER_HOST=%q\n' "$host"
