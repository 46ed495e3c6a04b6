#!/usr/bin/env bash
# What CI runs (.ci/run) and `make test`: install what is missing, run the gates
# (scripts/lint.sh: ruff, mypy --strict, promtool check rules, mixin up to date), then the
# whole suite. A gate that fails fails the run, after the tests have still run.
#
# Usage: scripts/test.sh [pytest args...]   e.g. scripts/test.sh tests/deploy -q
# With pytest arguments only pytest runs (a quick local loop); the gates run on full runs.
# pytest's exit code 5 ("no tests collected") is turned into a failure: a run that tests
# nothing must not pass.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo" || exit 1
bash scripts/install-deps.sh || exit $?

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
if ((status == 0 && lint_status != 0)); then
  echo "test.sh: the tests passed but a gate failed (see 'lint: failed' above)" >&2
  exit "$lint_status"
fi
exit $status
