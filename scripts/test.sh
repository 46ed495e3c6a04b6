#!/usr/bin/env bash
# What CI runs (.ci/run) and `make test`: install what is missing, run the gates
# (scripts/lint.sh: ruff, mypy --strict, promtool check rules, mixin up to date), then the
# whole suite. A gate that fails fails the run, after the tests have still run.
#
# Usage: scripts/test.sh [pytest args...]   e.g. scripts/test.sh tests/deploy -q
# With pytest arguments only pytest runs (a quick local loop); the gates and the Docker
# setup (scripts/ci-docker.sh) run on full runs.
# pytest's exit code 5 ("no tests collected") is turned into a failure: a run that tests
# nothing must not pass.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo" || exit 1
bash scripts/install-deps.sh || exit $?
# The container tests' engine, Docker Compose v2 and local images (cached; a Docker engine
# that already answers is used as is). A failed step leaves DOCKER_HOST unset: the tests
# that need Docker then fail under CI with the step's reason, and skip elsewhere.
if (($# == 0)); then
  docker_env="$(bash scripts/ci-docker.sh)" && eval "$docker_env"
fi

python="${PYTHON:-python}"
lint_status=0
if (($# == 0)); then
  bash scripts/lint.sh || lint_status=$?
fi
"$python" -m pytest "$@"
status=$?
if [[ $status -eq 5 ]]; then
  echo "test.sh: pytest collected no tests; treating that as a failure" >&2
  exit 1
fi
# The tests that use the dev stack's servers (marked dev_services) once more, as
# testcontainers from the local images (CONTRIBUTING.md, "The dev stack").
if (($# == 0)); then
  (set -a && . ./.env.local-images && set +a \
    && DBSBM_SERVICES=docker "$python" -m pytest -m dev_services -q)
  docker_status=$?
  ((status != 0)) || status=$docker_status
fi
if ((status == 0 && lint_status != 0)); then
  echo "test.sh: the tests passed but a gate failed (see 'lint: failed' above)" >&2
  exit "$lint_status"
fi
exit $status
