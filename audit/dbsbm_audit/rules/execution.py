"""eval/exec on non-literal input (DBSBM-EXEC-001/002).

bandit B307 (eval) and B102 (exec) find the calls; they report every call, so we drop the ones
whose argument is a string literal (``eval("1 + 1")`` runs fixed code, nothing injectable).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

_BANDIT_TO_RULE = {"B307": ("DBSBM-EXEC-001", "eval"), "B102": ("DBSBM-EXEC-002", "exec")}


@dataclass(frozen=True)
class ExecHit:
    rule_id: str
    line: int
    message: str


def _literal_calls(nodes: list[ast.AST]) -> set[tuple[str, int]]:
    found = set()
    for node in nodes:
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in {"eval", "exec"} and node.args and isinstance(node.args[0], ast.Constant):
                found.add((name, node.lineno))
    return found


def python_findings(nodes: list[ast.AST], bandit_hits: Iterable[tuple[str, int]]) -> list[ExecHit]:
    literal = _literal_calls(nodes)
    hits = []
    for test_id, line in bandit_hits:
        if test_id in _BANDIT_TO_RULE:
            rule_id, name = _BANDIT_TO_RULE[test_id]
            if (name, line) not in literal:
                hits.append(ExecHit(rule_id, line, f"{name}() on non-literal input"))
    return hits
