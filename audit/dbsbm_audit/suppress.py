"""Inline suppression: ``# dbsbm-audit: ignore[RULE-ID, ...]``, bare ``# dbsbm-audit: ignore``,
and bandit's ``# nosec`` (bare, or listing rule IDs / bandit test IDs) for compatibility."""

from __future__ import annotations

import io
import re
import tokenize

_OURS = re.compile(r"#\s*dbsbm-audit:\s*ignore(?:\[([^\]]*)\])?", re.IGNORECASE)
_NOSEC = re.compile(r"#\s*nosec\b:?([ \t,A-Za-z0-9\-]*)", re.IGNORECASE)
_ID = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*-\d+|B\d{3}")

ALL = frozenset({"*"})


def suppressions(lines: list[str]) -> dict[int, frozenset[str]]:
    """Line number -> suppressed IDs (``ALL`` for every rule).

    A comment on any line of a statement that spans several lines covers all of them:
    findings are reported on a call's first line, but formatters put the comment on the
    last one.
    """
    by_line = _comment_suppressions(lines)
    if not by_line:
        return by_line
    result = dict(by_line)
    for first, last in _logical_lines(lines):
        ids = frozenset().union(*(by_line.get(n, frozenset()) for n in range(first, last + 1)))
        if ids:
            for n in range(first, last + 1):
                result[n] = ids
    return result


def _logical_lines(lines: list[str]) -> list[tuple[int, int]]:
    """(first, last) physical lines of each multi-line Python statement; [] if untokenizable."""
    spans: list[tuple[int, int]] = []
    start = None
    try:
        for token in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
            if token.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                continue
            if start is None:
                start = token.start[0]
            if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if token.start[0] > start:
                    spans.append((start, token.start[0]))
                start = None
    except (tokenize.TokenError, SyntaxError):
        return spans
    return spans


def _comment_suppressions(lines: list[str]) -> dict[int, frozenset[str]]:
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
