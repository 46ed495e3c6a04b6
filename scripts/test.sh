#!/usr/bin/env bash
# What CI runs (.ci/run) and `make test`: install what is missing, run the gates
# (scripts/lint.sh: ruff, mypy --strict, promtool check rules, mixin up to date), then the
# whole suite. A gate that fails fails the run, after the tests have still run.
#
# Usage: scripts/test.sh [pytest args...]   e.g. scripts/test.sh tests/deploy -q
# With pytest arguments only pytest runs (a quick loop); the gates, the Docker setup
# (scripts/ci-docker.sh) and parallel workers are for full runs.
# pytest's exit code 5 ("no tests collected") is turned into a failure: a run that tests
# nothing must not pass.
#
# A full run from a cold cache builds the collector (Go, minutes) beside the Docker setup
# (engine, images, Compose v2), and runs pytest in DBSBM_TEST_WORKERS processes (default
# 4, pytest-xdist, one test file per worker at a time): most of the suite waits on servers,
# alert timers and scrapes, not on the CPU.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo" || exit 1
python="${PYTHON:-python}"

if (($# > 0)); then
  bash scripts/install-deps.sh || exit $?
  "$python" -m pytest "$@"
  status=$?
  if [[ $status -eq 5 ]]; then
    echo "test.sh: pytest collected no tests; treating that as a failure" >&2
    exit 1
  fi
  exit $status
fi

workers="${DBSBM_TEST_WORKERS:-4}"
[[ "$workers" =~ ^[1-9][0-9]*$ ]] \
  || { echo "test.sh: DBSBM_TEST_WORKERS must be a whole number >= 1, got '$workers'" >&2; exit 2; }

bash scripts/install-deps.sh --no-collector || exit $?
collector_log="$(mktemp)"
trap 'rm -f "$collector_log"' EXIT
start=$SECONDS
bash scripts/build-collector.sh --print-path >"$collector_log" 2>&1 &
collector_pid=$!
# The container tests' engine, Docker Compose v2 and local images (cached; a Docker engine
# that already answers is used as is). A failed step leaves DOCKER_HOST unset: the tests
# that need Docker then fail under CI with the step's reason, and skip elsewhere.
docker_env="$(bash scripts/ci-docker.sh)" && eval "$docker_env"

lint_status=0
bash scripts/lint.sh || lint_status=$?
wait "$collector_pid"
collector_status=$?
grep -v '^/' "$collector_log" >&2  # its progress lines; the path is for the callers
echo "test.sh: collector ready after $((SECONDS - start))s (status $collector_status)" >&2
# A failed build is not fatal here: the tests that need the collector fail, naming it.

"$python" -m pytest -n "$workers" --dist loadfile
status=$?
if [[ $status -eq 5 ]]; then
  echo "test.sh: pytest collected no tests; treating that as a failure" >&2
  exit 1
fi
# The tests that use the dev stack's servers (marked dev_services) once more, as
# testcontainers from the local images (CONTRIBUTING.md, "The dev stack").
(set -a && . ./.env.local-images && set +a \
  && DBSBM_SERVICES=docker "$python" -m pytest -n "$workers" --dist loadfile -m dev_services -q)
docker_status=$?
((status != 0)) || status=$docker_status
if ((status == 0 && lint_status != 0)); then
  echo "test.sh: the tests passed but a gate failed (see 'lint: failed' above)" >&2
  exit "$lint_status"
fi
exit $status
