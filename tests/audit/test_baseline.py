"""Baselines: write, re-read, survive lines moving, and let new findings through."""

from __future__ import annotations

import json
from pathlib import Path


def test_baseline_round_trip(run_audit, audit_json, tmp_path: Path) -> None:
    """Accepted findings stay hidden after code shifts; a new one still fails the run."""
    tree = tmp_path / "bot"
    tree.mkdir()
    src = tree / "db.py"
    body = (
        'async def q(db_manager, t):\n    return await db_manager.fetch_all(f"SELECT * FROM {t}")\n'
    )
    src.write_text(body)
    baseline = tmp_path / "baseline.json"
    code, _, err = run_audit(tree, "--write-baseline", baseline)
    assert code == 0 and "wrote 1 findings" in err
    stored = json.loads(baseline.read_text())
    assert stored["version"] == 1 and stored["findings"][0]["rule_id"] == "DBSBM-SQL-001"
    assert stored["findings"][0]["file"] == "db.py"

    src.write_text('"""Moved down by a docstring."""\n\n\n' + body)
    code, out, _ = run_audit(tree, "--baseline", baseline)
    assert code == 0, out
    assert "1 in baseline" in out

    src.write_text(
        body + "async def r(db_manager, t):\n"
        '    return await db_manager.execute(f"DELETE FROM {t}")\n'
    )
    doc = audit_json(tree, "--baseline", baseline)
    assert [f["line"] for f in doc["findings"]] == [4]
    assert doc["summary"]["baselined"] == 1


def test_fingerprint_ignores_whitespace_and_suppression_text(tmp_path: Path) -> None:
    """Re-indenting a line keeps its fingerprint; a different line changes it."""
    from dbsbm_audit.findings import Finding

    a = Finding("DBSBM-SQL-001", "x/db.py", 3, "m", "db.py", "    cur.execute(q)")
    b = Finding("DBSBM-SQL-001", "y/db.py", 9, "m", "db.py", "cur.execute(q)   ")
    c = Finding("DBSBM-SQL-001", "x/db.py", 3, "m", "db.py", "cur.execute(q2)")
    assert a.fingerprint == b.fingerprint != c.fingerprint
