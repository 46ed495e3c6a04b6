"""Write every generated deploy file, or with ``--check`` report the stale ones.

Usage: ``python deploy/mixin/generate.py [--check]``. ``--check`` writes nothing and exits 1
naming each file that differs from what slo.py, config.py and semconv.py produce (CI and
tests/deploy/test_mixin.py run it), so a changed number cannot ship without its rules.
Files in the generated folders that the mixin no longer produces count as stale too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: make ``deploy.mixin`` importable
    sys.path.insert(0, str(REPO))

from deploy.mixin import dashboards, docs, grafana, prometheus  # noqa: E402

RULES_DIR = REPO / "deploy/prometheus/rules"
PROVISIONING = REPO / "deploy/grafana/provisioning"
DASHBOARDS_DIR = PROVISIONING / "dashboards" / dashboards.DASHBOARDS_DIR


def outputs() -> dict[Path, str]:
    files = {RULES_DIR / name: text for name, text in prometheus.rule_files().items()}
    files[PROVISIONING / "alerting/alerts.yaml"] = grafana.alerting()
    files[PROVISIONING / "datasources/datasources.yaml"] = grafana.datasources()
    files[PROVISIONING / "dashboards/dbsbm.yaml"] = dashboards.provider()
    files.update(
        {DASHBOARDS_DIR / name: text for name, text in dashboards.dashboard_files().items()}
    )
    files[REPO / "docs/runbook.md"] = docs.runbook()
    files[REPO / "docs/thresholds.md"] = docs.thresholds_table()
    return files


def _leftovers(expected: dict[Path, str]) -> list[Path]:
    """Generated-folder files nothing produces any more (a renamed area or dashboard)."""
    found = [*RULES_DIR.glob("*.yml"), *DASHBOARDS_DIR.glob("*.json")]
    return sorted(p for p in found if p not in expected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale files, write none")
    args = parser.parse_args(argv)
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
