#!/usr/bin/env bash
# What CI runs (.ci/run) and `make test`: install what is missing, then the whole suite.
#
# Usage: scripts/test.sh [pytest args...]   e.g. scripts/test.sh tests/deploy -q
# pytest's exit code 5 ("no tests collected") is turned into a failure: a run that tests
# nothing must not pass.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo" || exit 1
bash scripts/install-deps.sh || exit $?

python="${PYTHON:-python}"
"$python" -m pytest "$@"
status=$?
if [[ $status -eq 5 ]]; then
  echo "test.sh: pytest collected no tests; treating that as a failure" >&2
  exit 1
fi
exit $status
