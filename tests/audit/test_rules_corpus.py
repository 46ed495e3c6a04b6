"""Precision and recall of every line-based rule on the labelled corpus (tests/audit/corpus).

Vulnerable lines carry ``# expect: RULE-ID[, RULE-ID]``; JSON files, which cannot hold
comments, list theirs in ``<file>.expect`` as ``LINE: RULE-ID``. Files without expectations
are safe code and must produce nothing. Findings not tied to a line (file mode, git tracking,
required variables) are covered by test_environment.py.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from dbsbm_audit.findings import RULES
from dbsbm_audit.scanner import ScanOptions, scan

from tests.audit.conftest import CORPUS

_EXPECT = re.compile(r"#\s*expect:\s*([A-Z0-9\-, ]+)")
# Rules judged per line; the ENV-001/003/004 checks are about files and environments.
LINE_RULES = sorted(set(RULES) - {"DBSBM-ENV-001", "DBSBM-ENV-003", "DBSBM-ENV-004"})
MIN_PRECISION = 1.0
MIN_RECALL = 1.0


def _expectations() -> set[tuple[str, int, str]]:
    expected = set()
    for path in CORPUS.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(CORPUS).as_posix()
        if path.suffix == ".expect":
            for line in path.read_text().splitlines():
                if line.strip() and not line.startswith("#"):
                    lineno, rule = line.split(":", 1)
                    expected.add((rel.removesuffix(".expect"), int(lineno), rule.strip()))
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), start=1):
            m = _EXPECT.search(line)
            if m:
                for rule in filter(None, (r.strip() for r in m.group(1).split(","))):
                    expected.add((rel, lineno, rule))
    return expected


@pytest.fixture(scope="module")
def scores() -> dict[str, tuple[int, int, int]]:
    expected = _expectations()
    result = scan(ScanOptions(paths=[CORPUS]))
    assert not result.skipped, result.skipped
    found = {(f.rel_path, f.line, f.rule_id) for f in result.findings if f.line > 0}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # tp, fp, fn
    for item in found | expected:
        c = counts[item[2]]
        if item in found and item in expected:
            c[0] += 1
        elif item in found:
            c[1] += 1
        else:
            c[2] += 1
    for rule, (tp, fp, fn) in sorted(counts.items()):
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"{rule}: tp={tp} fp={fp} fn={fn} precision={precision:.2f} recall={recall:.2f}")
    mistakes = sorted(found ^ expected)
    print("mismatches:", mistakes)
    return {rule: tuple(c) for rule, c in counts.items()}  # type: ignore[misc]


@pytest.mark.parametrize("rule_id", LINE_RULES)
def test_rule_precision_and_recall(rule_id: str, scores: dict[str, tuple[int, int, int]]) -> None:
    """Every line rule finds all its labelled lines and nothing else in the corpus."""
    tp, fp, fn = scores.get(rule_id, (0, 0, 0))
    assert tp > 0, f"{rule_id} has no labelled example in the corpus"
    assert tp / (tp + fp) >= MIN_PRECISION, f"{rule_id}: {fp} false positives"
    assert tp / (tp + fn) >= MIN_RECALL, f"{rule_id}: {fn} missed"


def test_safe_files_are_silent() -> None:
    """Files with no expectations (the safe snippets) produce no line findings at all."""
    labelled = {rel for rel, _, _ in _expectations()}
    safe = [p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".expect"
            and p.relative_to(CORPUS).as_posix() not in labelled]
    assert len(safe) >= 6
    result = scan(ScanOptions(paths=safe))
    assert [f for f in result.findings if f.line > 0] == []


def test_dbsbm_shapes_are_in_the_corpus() -> None:
    """The corpus holds the shapes the issue names, so the scores above cover them."""
    text = {p.name: p.read_text() for p in CORPUS.rglob("*.py")}
    assert '{"x-apisports-key": "' in text["vuln_credentials.py"]
    assert 'API_KEYS = {' in text["vuln_credentials.py"]
    assert 'fetch_one("SELECT * FROM users WHERE id = %s", user_id)' in text["safe_sql.py"]
    assert 'f"SELECT * FROM {table}' in text["vuln_sql.py"]
    assert ".format(" in text["vuln_sql.py"]
    assert "logging.basicConfig(level=logging.DEBUG" in text["main.py"]


def test_bandit_b608_is_replaced() -> None:
    """bandit's B608 would flag the parameterized queries of safe_sql.py; our rule does not."""
    from bandit.core import config, manager

    mgr = manager.BanditManager(config.BanditConfig(), "file", quiet=True,
                                profile={"include": {"B608"}, "exclude": set()})
    mgr.files_list = [str(CORPUS / "sql" / "safe_sql.py")]
    mgr.run_tests()
    bandit_flags = len(mgr.get_issue_list())
    ours = scan(ScanOptions(paths=[CORPUS / "sql" / "safe_sql.py"])).findings
    assert bandit_flags > 0 and ours == []
