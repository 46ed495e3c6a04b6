"""Helpers shared by the audit tests: run the CLI in-process and read its JSON report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dbsbm_audit.cli import main

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture
def run_audit(capsys: pytest.CaptureFixture[str]):
    """Call ``dbsbm-audit`` in-process; returns (exit code, stdout, stderr)."""

    def run(*argv: str | Path) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def audit_json(run_audit):
    """Scan and return the parsed JSON report."""

    def run(*argv: str | Path) -> dict[str, Any]:
        _, out, _ = run_audit(*argv, "--format", "json")
        return json.loads(out)

    return run


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Precision and recall per rule on the labelled corpus, after every run that scored it."""
    from tests.audit.test_rules_corpus import SCORES, score_line

    if SCORES:
        terminalreporter.section("dbsbm-audit precision and recall per rule")
        for rule in sorted(SCORES):
            terminalreporter.write_line(score_line(rule, SCORES[rule]))
