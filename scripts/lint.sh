#!/usr/bin/env bash
# The gates CI runs before the tests (scripts/test.sh calls this on a full run):
#   ruff (lint and format check), mypy --strict on every package, promtool check rules on
#   the generated rules, and the mixin's staleness check.
# Each gate runs even when an earlier one failed, so one run lists every problem; the exit
# code is non-zero when any gate failed.
#
# Usage: scripts/lint.sh
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo" || exit 1
python="${PYTHON:-python}"
failed=()

gate() {  # gate NAME COMMAND...: run one gate, remember its name when it fails
  local name="$1"
  shift
  echo "lint: $name" >&2
  "$@" || failed+=("$name")
}

promtool_bin() {
  command -v promtool 2>/dev/null || { [[ -x /usr/bin/promtool ]] && echo /usr/bin/promtool; }
}

gate "ruff check" "$python" -m ruff check .
gate "ruff format" "$python" -m ruff format --check .
gate "mypy --strict" "$python" -m mypy
if promtool="$(promtool_bin)"; then
  gate "promtool check rules" "$promtool" check rules deploy/prometheus/rules/*.yml
else
  echo "lint: promtool not found (install Debian's prometheus package)" >&2
  failed+=("promtool check rules")
fi
gate "mixin up to date" "$python" deploy/mixin/generate.py --check

if ((${#failed[@]})); then
  printf 'lint: failed: %s\n' "$(IFS=,; echo "${failed[*]}")" >&2
  exit 1
fi
echo "lint: ok" >&2
