"""Text, JSON and SARIF 2.1.0 reports. Secret values never reach a report: messages name the
variable, not its value, and source lines are not copied."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import PurePath

from dbsbm_audit.findings import RULES, Finding, Severity
from dbsbm_audit.scanner import ScanResult
from dbsbm_instrumentation.version import __version__

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
}
# GitHub code scanning ranks alerts by this property (CVSS-like 0-10).
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
}


def _where(f: Finding) -> str:
    return f"{f.file}:{f.line}" if f.line else f.file


def _summary(result: ScanResult, baselined: int) -> dict[str, object]:
    counts = Counter(f.severity.label for f in result.findings)
    return {
        "findings": len(result.findings),
        **{s.label: counts.get(s.label, 0) for s in sorted(Severity, reverse=True)},
        "files_scanned": result.files_scanned,
        "not_scanned": len(result.skipped),
        "skipped": len(result.skipped),
        "baselined": baselined,
        "env_sources": result.env_sources,
    }


def render_text(result: ScanResult, baselined: int = 0) -> str:
    out: list[str] = []
    for severity in sorted(Severity, reverse=True):
        group = [f for f in result.findings if f.severity == severity]
        if not group:
            continue
        out.append(f"{severity.label.upper()} ({len(group)})")
        for f in group:
            out.append(f"  {_where(f)}  {f.rule_id}  {f.message}")
            if f.flow:
                out.append("      flow: " + " -> ".join(f"line {n}: {what}" for n, what in f.flow))
            out.append(f"      fix: {f.rule.fix}")
        out.append("")
    for s in result.skipped:
        out.append(f"skipped: {s.file}: {s.reason}")
    if result.skipped:
        out.append("")
    summary = _summary(result, baselined)
    counts = ", ".join(f"{summary[s.label]} {s.label}" for s in sorted(Severity, reverse=True))
    env = ", ".join(result.env_sources) or "none (pass --env-file or --process-env)"
    out.append(
        f"{len(result.findings)} findings ({counts}); {result.files_scanned} files "
        f"scanned, {len(result.skipped)} not scanned, {baselined} in baseline; "
        f"environment checked: {env}"
    )
    return "\n".join(out) + "\n"


def render_json(result: ScanResult, baselined: int = 0) -> str:
    doc = {
        "tool": {"name": "dbsbm-audit", "version": __version__},
        "summary": _summary(result, baselined),
        "findings": [
            {
                "rule_id": f.rule_id,
                "severity": f.severity.label,
                "file": f.file,
                "line": f.line,
                "message": f.message,
                "fix": f.rule.fix,
                "fingerprint": f.fingerprint,
                **({"flow": [{"line": n, "step": what} for n, what in f.flow]} if f.flow else {}),
            }
            for f in result.findings
        ],
        "skipped": [{"file": s.file, "reason": s.reason} for s in result.skipped],
    }
    return json.dumps(doc, indent=2) + "\n"


def _uri(path: str) -> str:
    return PurePath(path).as_posix()


def _code_flow(f: Finding) -> dict[str, object]:
    """The value's path, source first, as one SARIF thread flow in the finding's file."""
    return {
        "message": {"text": "where the value came from"},
        "threadFlows": [
            {
                "locations": [
                    {
                        "location": {
                            "physicalLocation": {
                                "artifactLocation": {"uri": _uri(f.file)},
                                "region": {"startLine": line},
                            },
                            "message": {"text": what},
                        },
                        "nestingLevel": 0,
                        "executionOrder": order,
                    }
                    for order, (line, what) in enumerate(f.flow, start=1)
                ]
            }
        ],
    }


def render_sarif(result: ScanResult, baselined: int = 0) -> str:
    rule_ids = sorted(RULES)
    rules = [
        {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": f"{rule.summary}. Detected by: {rule.engine}."},
            "help": {"text": rule.fix},
            "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
            "properties": {
                "security-severity": _SECURITY_SEVERITY[rule.severity],
                "tags": ["security"],
            },
        }
        for rule in (RULES[i] for i in rule_ids)
    ]
    results = []
    for f in result.findings:
        location: dict[str, object] = {"artifactLocation": {"uri": _uri(f.file)}}
        if f.line:
            location["region"] = {"startLine": f.line}
        sarif_result: dict[str, object] = {
            "ruleId": f.rule_id,
            "ruleIndex": rule_ids.index(f.rule_id),
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.message}. Fix: {f.rule.fix}"},
            "locations": [{"physicalLocation": location}],
            "partialFingerprints": {"dbsbmAudit/v1": f.fingerprint},
        }
        if f.flow:
            sarif_result["codeFlows"] = [_code_flow(f)]
        results.append(sarif_result)
    notifications = [
        {
            "level": "error",
            "message": {"text": f"skipped: {s.file}: {s.reason}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(s.file)}}}],
        }
        for s in result.skipped
    ]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "dbsbm-audit",
                        "version": __version__,
                        "informationUri": "https://github.com/dbsbm/dbsbm-observability",
                        "rules": rules,
                    }
                },
                "invocations": [
                    {"executionSuccessful": True, "toolExecutionNotifications": notifications}
                ],
                "results": results,
                "properties": {
                    "baselined": baselined,
                    "filesScanned": result.files_scanned,
                    "notScanned": len(result.skipped),
                },
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "sarif": render_sarif}
