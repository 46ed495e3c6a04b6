"""Baseline files: accepted findings, matched by fingerprint (rule + file + normalized line
text, no line number) so they survive code moving up or down the file."""

from __future__ import annotations

import json
from pathlib import Path

from dbsbm_audit.findings import Finding

FORMAT_VERSION = 1


class BaselineError(Exception):
    """The baseline file is missing or not a dbsbm-audit baseline."""


def write(path: Path, findings: list[Finding]) -> None:
    entries = sorted(
        (
            {
                "fingerprint": f.fingerprint,
                "rule_id": f.rule_id,
                "file": f.rel_path or f.file,
                "message": f.message,
            }
            for f in findings
        ),
        key=lambda e: (e["file"], e["rule_id"], e["fingerprint"]),
    )
    doc = {"tool": "dbsbm-audit", "version": FORMAT_VERSION, "findings": entries}
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def load(path: Path) -> frozenset[str]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BaselineError(f"baseline {path} is not JSON: {exc}") from None
    if not (
        isinstance(doc, dict)
        and doc.get("version") == FORMAT_VERSION
        and isinstance(doc.get("findings"), list)
    ):
        raise BaselineError(
            f"baseline {path} is not a dbsbm-audit baseline (version {FORMAT_VERSION})"
        )
    try:
        return frozenset(str(e["fingerprint"]) for e in doc["findings"])
    except (KeyError, TypeError):
        raise BaselineError(f"baseline {path}: every finding needs a 'fingerprint'") from None


def apply(findings: list[Finding], accepted: frozenset[str]) -> tuple[list[Finding], int]:
    """Findings not in the baseline, and how many were."""
    kept = [f for f in findings if f.fingerprint not in accepted]
    return kept, len(findings) - len(kept)
