"""Inline suppression comments: ours, bandit's # nosec, and IDs that do not match."""

from __future__ import annotations

from pathlib import Path

from dbsbm_audit.suppress import ALL, suppressions

LINES = [
    'password = "hunter2hunter"  # dbsbm-audit: ignore[DBSBM-CRED-001]',
    "x = 1  # nosec",
    "y = 2  # nosec B105, B106",
    "z = 3  # dbsbm-audit: ignore",
    "w = 4  # an ordinary comment",
]


def test_parse_suppressions() -> None:
    """Listed IDs are kept per line; bare forms suppress everything."""
    parsed = suppressions(LINES)
    assert parsed == {
        1: frozenset({"DBSBM-CRED-001"}),
        2: ALL,
        3: frozenset({"B105", "B106"}),
        4: ALL,
    }


def test_suppressed_findings_are_dropped(audit_json, tmp_path: Path) -> None:
    """A matching ID hides the finding, a different ID does not, # nosec <bandit id> works."""
    src = tmp_path / "bot.py"
    src.write_text(
        'password = "Tr0ub4dor&3xyz"  # dbsbm-audit: ignore[DBSBM-CRED-001]\n'
        'secret = "Tr0ub4dor&3xyz"  # dbsbm-audit: ignore[DBSBM-SQL-001]\n'
        "def q(cur, t):\n"
        '    cur.execute(f"SELECT * FROM {t}")  # nosec B608\n'
        '    cur.execute(f"DELETE FROM {t}")  # nosec\n'
        '    cur.execute(f"UPDATE {t} SET a = 1")\n'
    )
    found = {(f["line"], f["rule_id"]) for f in audit_json(src)["findings"]}
    assert found == {(2, "DBSBM-CRED-001"), (6, "DBSBM-SQL-001")}


def test_comment_on_last_line_of_a_multiline_call_covers_its_first_line() -> None:
    """A suppression written after a wrapped call applies to the finding on its first line."""
    lines = [
        "log.warning(",
        "    'token=%s', TOKEN)  # dbsbm-audit: ignore[DBSBM-DEBUG-003]",
        "other = 1",
    ]
    found = suppressions(lines)
    assert found[1] == frozenset({"DBSBM-DEBUG-003"})
    assert 3 not in found
