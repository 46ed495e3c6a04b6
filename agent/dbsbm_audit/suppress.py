"""Inline suppression: ``# dbsbm-audit: ignore[RULE-ID, ...]``, bare ``# dbsbm-audit: ignore``,
and bandit's ``# nosec`` (bare, or listing rule IDs / bandit test IDs) for compatibility."""

from __future__ import annotations

import re

_OURS = re.compile(r"#\s*dbsbm-audit:\s*ignore(?:\[([^\]]*)\])?", re.IGNORECASE)
_NOSEC = re.compile(r"#\s*nosec\b:?([ \t,A-Za-z0-9\-]*)", re.IGNORECASE)
_ID = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*-\d+|B\d{3}")

ALL = frozenset({"*"})


def suppressions(lines: list[str]) -> dict[int, frozenset[str]]:
    """Line number -> suppressed IDs (``ALL`` for every rule)."""
    result: dict[int, frozenset[str]] = {}
    for lineno, line in enumerate(lines, start=1):
        if "#" not in line:
            continue
        ids: set[str] = set()
        matched = False
        for m in _OURS.finditer(line):
            matched = True
            ids |= set(_ID.findall(m.group(1) or "")) or set(ALL)
        for m in _NOSEC.finditer(line):
            matched = True
            ids |= set(_ID.findall(m.group(1) or "")) or set(ALL)
        if matched:
            result[lineno] = frozenset(i.upper() for i in ids)
    return result


def is_suppressed(rule_id: str, engine_ids: frozenset[str], ids: frozenset[str]) -> bool:
    """``engine_ids``: the bandit test IDs behind the rule, so ``# nosec B105`` works."""
    return "*" in ids or rule_id in ids or bool(engine_ids & ids)
