"""``dbsbm-audit PATH [PATH...]``: scan, report, exit 0 (clean) / 1 (findings at or above
``--fail-on``) / 2 (usage or input error, one line on stderr, no traceback) / 3 (no such
finding, but some selected files were not scanned; ``--allow-unscanned`` accepts that)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from dbsbm_audit import baseline
from dbsbm_audit.findings import Severity
from dbsbm_audit.report import RENDERERS
from dbsbm_audit.scanner import ScanOptions, decode, read_regular, scan

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE, EXIT_UNSCANNED = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, exit 2: CI logs show the culprit without a usage block."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


# Exit 1 on findings at or above this severity unless --fail-on says otherwise.
AUDIT_FAIL_ON_DEFAULT = "high"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="dbsbm-audit", description=__doc__)
    p.add_argument(
        "paths", nargs="+", metavar="PATH", type=Path, help="files or directories to scan"
    )
    p.add_argument("--format", choices=sorted(RENDERERS), default="text")
    p.add_argument("--output", "-o", type=Path, help="write the report here instead of stdout")
    p.add_argument(
        "--fail-on",
        choices=[s.label for s in Severity],
        default=AUDIT_FAIL_ON_DEFAULT,
        help="exit 1 when a finding is at or above this severity (default: %(default)s)",
    )
    p.add_argument("--baseline", type=Path, help="ignore findings listed in this baseline file")
    p.add_argument(
        "--write-baseline",
        type=Path,
        metavar="FILE",
        help="write all current findings to FILE as the accepted baseline, exit 0",
    )
    p.add_argument(
        "--env-file",
        type=Path,
        action="append",
        default=[],
        help="check required variables and passwords in this .env (repeatable)",
    )
    p.add_argument(
        "--process-env",
        action="store_true",
        help="also check required variables and passwords in this process's environment",
    )
    p.add_argument(
        "--allow-unscanned",
        action="store_true",
        help="exit 0 even when some files could not be scanned (they are still listed)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip paths matching GLOB, relative to a scanned root (repeatable)",
    )
    return p


def _usage_error(message: str) -> int:
    print(f"dbsbm-audit: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for path in args.paths:
        if not path.exists():
            return _usage_error(f"path not found: {path}")
    for path in args.env_file:
        try:
            decode(read_regular(path))
        except OSError as exc:
            return _usage_error(f"--env-file {path}: {exc.strerror or exc}")
        except ValueError as exc:  # a FIFO, binary, not UTF-8: parsing it would invent variables
            return _usage_error(f"--env-file {path}: {exc}")
    accepted: frozenset[str] = frozenset()
    if args.baseline:
        try:
            accepted = baseline.load(args.baseline)
        except baseline.BaselineError as exc:
            return _usage_error(str(exc))

    result = scan(
        ScanOptions(
            paths=list(args.paths),
            env_files=list(args.env_file),
            process_env=dict(os.environ) if args.process_env else None,
            excludes=list(args.exclude),
        )
    )

    if args.write_baseline:
        try:
            baseline.write(args.write_baseline, result.findings)
        except OSError as exc:
            return _usage_error(
                f"cannot write baseline {args.write_baseline}: {exc.strerror or exc}"
            )
        print(
            f"dbsbm-audit: wrote {len(result.findings)} findings to {args.write_baseline}",
            file=sys.stderr,
        )
        return EXIT_CLEAN

    findings, baselined = baseline.apply(result.findings, accepted)
    result = replace(result, findings=findings)
    text = RENDERERS[args.format](result, baselined)
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            return _usage_error(f"cannot write {args.output}: {exc.strerror or exc}")
    else:
        sys.stdout.write(text)
    threshold = Severity.parse(args.fail_on)
    if any(f.severity >= threshold for f in findings):
        return EXIT_FINDINGS
    if result.skipped and not args.allow_unscanned:
        return EXIT_UNSCANNED
    return EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main())
