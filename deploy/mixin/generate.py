"""Write every generated deploy file, or with ``--check`` report the stale ones.

Usage: ``python deploy/mixin/generate.py [--check]`` (or ``make generate``). ``--check``
writes nothing and exits 1 naming each file that differs from what the definitions in
``dbsbm_mixin`` produce (CI and tests/deploy/test_mixin.py run it), so a changed number
cannot ship without its rules. Files in the generated folders that nothing produces any
more count as stale too.

``--time-factor N --output-dir DIR`` writes instead the time-compressed Prometheus rules that
live tests run (every duration divided by N) into DIR, and nothing else.

``dbsbm_mixin`` imports because Python puts this script's folder on ``sys.path``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from dbsbm_mixin import collector, dashboards, docs, grafana, notify, prometheus, promtool

REPO = Path(__file__).resolve().parents[2]

# Every output: each producer returns {repo-relative path: text}. A new output is one entry.
PRODUCERS: tuple[Callable[[], dict[Path, str]], ...] = (
    prometheus.rule_files,
    promtool.test_files,
    grafana.files,
    dashboards.files,
    docs.files,
    notify.files,
    collector.files,
)
# Folders holding only generated files: whatever nothing produces there is removed.
GENERATED_GLOBS = (
    prometheus.RULES_DIR / "*.yml",
    promtool.TESTS_DIR / "*-test.yaml",
    dashboards.PROVISIONING / dashboards.DASHBOARDS_DIR / "*.json",
)


def outputs() -> dict[Path, str]:
    """``{absolute path: text}`` of every generated file."""
    files: dict[Path, str] = {}
    for produce in PRODUCERS:
        produced = produce()
        clash = files.keys() & {REPO / p for p in produced}
        assert not clash, f"produced twice: {sorted(map(str, clash))}"
        files.update({REPO / path: text for path, text in produced.items()})
    return files


def _leftovers(expected: dict[Path, str]) -> list[Path]:
    """Generated-folder files nothing produces any more (a renamed area or dashboard)."""
    found = [path for pattern in GENERATED_GLOBS for path in REPO.glob(str(pattern))]
    return sorted(p for p in found if p not in expected)


def _write_compressed(factor: int, output_dir: Path) -> int:
    try:
        files = prometheus.rule_files(time_factor=factor)
    except ValueError as exc:
        print(f"generate.py: --time-factor {factor}: {exc}", file=sys.stderr)
        return 2
    output_dir.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        (output_dir / path.name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} rule files compressed {factor}x to {output_dir}")
    return 0


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line naming the culprit, without argparse's usage block."""
        self.exit(2, f"generate.py: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale files, write none")
    parser.add_argument(
        "--time-factor", type=_positive, help="write the rules with durations divided by this"
    )
    parser.add_argument("--output-dir", type=Path, help="where --time-factor writes its rules")
    args = parser.parse_args(argv)
    if (args.time_factor is None) != (args.output_dir is None):
        parser.error("--time-factor and --output-dir go together")
    if args.time_factor is not None:
        if args.check:
            parser.error("--check does not go with --time-factor")
        return _write_compressed(args.time_factor, args.output_dir)
    expected = outputs()
    stale = [
        path
        for path, text in expected.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    leftovers = _leftovers(expected)
    if args.check:
        for path in [*stale, *leftovers]:
            print(f"stale: {path.relative_to(REPO)}", file=sys.stderr)
        if stale or leftovers:
            print("run `python deploy/mixin/generate.py` and commit the result", file=sys.stderr)
            return 1
        return 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected[path], encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
    for path in leftovers:
        path.unlink()
        print(f"removed {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
