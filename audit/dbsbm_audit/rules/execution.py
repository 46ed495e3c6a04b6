"""eval/exec on non-literal input (DBSBM-EXEC-001/002).

bandit B307 (eval) and B102 (exec) find direct calls; they report every call, so we drop the
ones whose argument is a string literal (``eval("1 + 1")`` runs fixed code, nothing
injectable). bandit matches the names ``eval``/``exec`` only, so ours finds the builtins
reached another way: an alias (``run = eval``, ``self.run = exec``,
``from builtins import eval as e``), ``builtins.eval``, ``getattr(builtins, "eval")``,
``__builtins__["exec"]``, each called on input that is not a constant (a literal, or names
and concatenations that fold to one).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from dbsbm_audit.rules.folding import Folder
from dbsbm_audit.rules.scopes import Scopes

_BANDIT_TO_RULE = {"B307": ("DBSBM-EXEC-001", "eval"), "B102": ("DBSBM-EXEC-002", "exec")}
_RULE = {"eval": "DBSBM-EXEC-001", "exec": "DBSBM-EXEC-002"}
_BUILTINS_MODULES = {"builtins", "__builtins__"}
_CONSTANTS = Folder([])  # folds literals only: no names are bound


@dataclass(frozen=True)
class ExecHit:
    rule_id: str
    line: int
    message: str
    flow: tuple[tuple[int, str], ...] = ()


def _literal_calls(nodes: list[ast.AST]) -> set[tuple[str, int]]:
    found = set()
    for node in nodes:
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in {"eval", "exec"} and node.args and isinstance(node.args[0], ast.Constant):
                found.add((name, node.lineno))
    return found


class _Aliases:
    """Which expressions of one module are the eval/exec builtins."""

    def __init__(self, nodes: list[ast.AST]) -> None:
        self.modules = set(_BUILTINS_MODULES)  # names bound to the builtins module
        self.names: dict[str, tuple[str, int]] = {}  # alias -> (builtin, line bound)
        self.attrs: dict[str, tuple[str, int]] = {}  # self.<attr> -> (builtin, line bound)
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "builtins":
                        self.modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.ImportFrom) and node.module == "builtins":
                for alias in node.names:
                    if alias.name in _RULE and alias.asname:
                        self.names[alias.asname] = (alias.name, node.lineno)
        assigns = [n for n in nodes if isinstance(n, ast.Assign)]
        for _ in range(3):  # aliases of aliases (run = e; e = eval), in any order
            for node in assigns:
                if isinstance(node.value, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
                    builtin = self.builtin(node.value)
                    if builtin is None:
                        continue
                    for target in node.targets:
                        if isinstance(target, ast.Name) and target.id not in _RULE:
                            self.names.setdefault(target.id, (builtin, node.lineno))
                        elif isinstance(target, ast.Attribute):
                            self.attrs.setdefault(target.attr, (builtin, node.lineno))

    def builtin(self, node: ast.expr) -> str | None:
        """ "eval"/"exec" when ``node`` evaluates to that builtin."""
        if isinstance(node, ast.Name):
            if node.id in _RULE:
                return node.id
            return self.names[node.id][0] if node.id in self.names else None
        if isinstance(node, ast.Attribute):
            if self._is_builtins(node.value) and node.attr in _RULE:
                return node.attr
            if _is_self(node.value) and node.attr in self.attrs:
                return self.attrs[node.attr][0]
            return None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "getattr" and len(node.args) >= 2:
                name = _CONSTANTS.fold(node.args[1])  # "eval", or "ev" + "al"
                if self._is_builtins(node.args[0]) and name and name.value in _RULE:
                    return name.value
            return None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
            if key in _RULE and self._is_namespace(node.value):
                return str(key)
        return None

    def _is_builtins(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id in self.modules

    def _is_namespace(self, node: ast.expr) -> bool:
        """``__builtins__``, ``vars(builtins)``, ``builtins.__dict__``."""
        if self._is_builtins(node):
            return True
        if isinstance(node, ast.Attribute) and node.attr == "__dict__":
            return self._is_builtins(node.value)
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "vars"
            and len(node.args) == 1
            and self._is_builtins(node.args[0])
        )

    def bound_at(self, func: ast.expr) -> int | None:
        if isinstance(func, ast.Name) and func.id in self.names:
            return self.names[func.id][1]
        if isinstance(func, ast.Attribute) and _is_self(func.value) and func.attr in self.attrs:
            return self.attrs[func.attr][1]
        return None


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in {"self", "cls"}


def _alias_hits(scopes: Scopes, nodes: list[ast.AST]) -> list[ExecHit]:
    aliases = _Aliases(nodes)
    if not aliases.names and not aliases.attrs and not _mentions_builtins(nodes):
        return []
    module = Folder(scopes.own(scopes.tree))
    hits = []
    for owner in scopes.owners:
        own = scopes.own(owner)
        folder = module if owner is scopes.tree else module.scope(own)
        for call in (n for n in own if isinstance(n, ast.Call)):
            if isinstance(call.func, ast.Name) and call.func.id in _RULE:
                continue  # the builtin by its name: bandit's
            builtin = aliases.builtin(call.func)
            if builtin is None or not call.args or folder.fold(call.args[0]) is not None:
                continue
            shown = ast.unparse(call.func)
            shown = shown if len(shown) <= 50 else shown[:47] + "..."
            flow: tuple[tuple[int, str], ...] = ()
            bound = aliases.bound_at(call.func)
            if bound is not None:
                flow = ((bound, f"'{shown}' bound to {builtin}"),)
            flow += ((call.lineno, f"{shown}() called on non-literal input"),)
            hits.append(
                ExecHit(
                    _RULE[builtin],
                    call.lineno,
                    f"{builtin}() reached as '{shown}' on non-literal input",
                    flow,
                )
            )
    return hits


def _mentions_builtins(nodes: list[ast.AST]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in _BUILTINS_MODULES for n in nodes) or any(
        isinstance(n, ast.Import) and any(a.name == "builtins" for a in n.names) for n in nodes
    )


def python_findings(
    nodes: list[ast.AST], bandit_hits: Iterable[tuple[str, int]], scopes: Scopes | None = None
) -> list[ExecHit]:
    literal = _literal_calls(nodes)
    hits = []
    for test_id, line in bandit_hits:
        if test_id in _BANDIT_TO_RULE:
            rule_id, name = _BANDIT_TO_RULE[test_id]
            if (name, line) not in literal:
                hits.append(ExecHit(rule_id, line, f"{name}() on non-literal input"))
    if scopes is not None:
        seen = {(h.rule_id, h.line) for h in hits}
        hits += [h for h in _alias_hits(scopes, nodes) if (h.rule_id, h.line) not in seen]
    return hits
