"""SARIF 2.1.0 output checked against the structure code-scanning UIs require."""

from __future__ import annotations

import json

import jsonschema
from dbsbm_audit.findings import RULES

from tests.audit.conftest import CORPUS

# The parts of the SARIF 2.1.0 schema (sarif-schema-2.1.0.json) that GitHub code scanning
# requires of an upload; the full schema is not shipped offline.
SARIF_SUBSET = {
    "type": "object",
    "required": ["version", "$schema", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "$schema": {"type": "string", "pattern": "sarif-2\\.1\\.0"},
        "runs": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["tool", "results"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {
                    "driver": {"type": "object", "required": ["name", "rules"], "properties": {
                        "rules": {"type": "array", "items": {
                            "type": "object", "required": ["id", "shortDescription"],
                        }},
                    }},
                }},
                "results": {"type": "array", "items": {
                    "type": "object",
                    "required": ["ruleId", "level", "message", "locations"],
                    "properties": {
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "message": {"type": "object", "required": ["text"]},
                        "locations": {"type": "array", "minItems": 1, "items": {
                            "type": "object", "required": ["physicalLocation"],
                            "properties": {"physicalLocation": {
                                "type": "object", "required": ["artifactLocation"],
                                "properties": {
                                    "artifactLocation": {"type": "object", "required": ["uri"]},
                                    "region": {"type": "object", "required": ["startLine"],
                                               "properties": {"startLine": {"type": "integer",
                                                                            "minimum": 1}}},
                                },
                            }},
                        }},
                    },
                }},
            },
        }},
    },
}


def test_sarif_shape(run_audit) -> None:
    """Every result has ruleId, level, message and a file location with a start line."""
    code, out, _ = run_audit(CORPUS, "--format", "sarif")
    assert code == 1
    doc = json.loads(out)
    jsonschema.validate(doc, SARIF_SUBSET)
    run = doc["runs"][0]
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
    notes = json.loads(out)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert "SyntaxError line 1" in notes[0]["message"]["text"]
