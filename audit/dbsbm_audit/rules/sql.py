"""SQL injection (DBSBM-SQL-001).

Our own rule instead of bandit's B608, because B608 judges the string alone: it flags
``db_manager.fetch_one("SELECT ... WHERE id = %s", uid)`` (parameterized, safe) exactly like
``cur.execute("... WHERE id = %s" % uid)`` (injectable). Here the query argument of a DB call
(aiomysql/PyMySQL/sqlite3 ``execute``/``executemany``, asyncpg ``fetch*``/``fetchval``, DBSBM's
``db_manager.execute/fetch_one/fetch_all/fetchval``) is classified:

- literal, concatenation of literals, or of module/function constants (a ``for`` variable
  over a literal tuple/list of constants counts) → safe;
- an f-string, ``%``, ``+`` or ``.format()`` with a non-constant operand → finding;
- a variable → followed back through its assignments (and ``+=``) earlier in the same
  function, so ``query = f"..."; await cur.execute(query)`` is caught;
- anything else (a parameter, a call result, ``" AND ".join(...)`` even inside a
  concatenation) → not judged: we report only what we can show, so the rule can gate CI.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

SINKS = {
    "execute",
    "executemany",
    "executescript",
    "fetch",
    "fetchrow",
    "fetchval",
    "fetch_one",
    "fetch_all",
    "fetch_val",
    "fetch_many",
    "mogrify",
}
_QUERY_KWARGS = {"query", "sql", "operation", "statement"}
_SQL_WORDS = re.compile(
    r"\b(select|insert|update|delete|replace|create|drop|alter|truncate|where|values|call)\b",
    re.IGNORECASE,
)

STATIC, DYNAMIC, UNKNOWN = "static", "dynamic", "unknown"
_JOIN = "str.join"


@dataclass
class Verdict:
    kind: str
    text: str = ""  # the literal SQL text we could see, to confirm it is SQL
    how: str = ""  # "f-string", "% formatting", "+ concatenation", ".format()"


@dataclass
class _Scope:
    """Assignments of one function (or the module), by name, in source order."""

    # name -> [(line, assigned value)]; `q += x` counts as an assignment of x
    assigns: dict[str, list[tuple[int, ast.expr]]] = field(default_factory=dict)


def _collect(body_owner: ast.AST) -> _Scope:
    scope = _Scope()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue  # their own scope
            if isinstance(child, ast.Assign):
                for target in child.targets:
                    if isinstance(target, ast.Name):
                        scope.assigns.setdefault(target.id, []).append((child.lineno, child.value))
            elif isinstance(child, ast.AnnAssign) and isinstance(child.target, ast.Name):
                if child.value is not None:
                    scope.assigns.setdefault(child.target.id, []).append(
                        (child.lineno, child.value)
                    )
            elif isinstance(child, ast.AugAssign) and isinstance(child.target, ast.Name):
                scope.assigns.setdefault(child.target.id, []).append((child.lineno, child.value))
            elif (
                isinstance(child, (ast.For, ast.AsyncFor))
                and isinstance(child.target, ast.Name)
                and isinstance(child.iter, (ast.Tuple, ast.List, ast.Set))
                and all(isinstance(e, ast.Constant) for e in child.iter.elts)
            ):
                # `for col in ("a", "b")` assigns each constant in turn. Dated the line before
                # the `for`: its body may share the line (`for c in (...): cur.execute(...)`).
                scope.assigns.setdefault(child.target.id, []).extend(
                    (child.lineno - 1, e) for e in child.iter.elts
                )
            visit(child)

    visit(body_owner)
    return scope


class _Classifier:
    def __init__(self, local: _Scope, module: _Scope) -> None:
        self.local = local
        self.module = module

    def name(self, name: str, before: int, depth: int) -> Verdict:
        entries = [e for e in self.local.assigns.get(name, []) if e[0] < before]
        if not entries and self.local is not self.module:
            module_entries = self.module.assigns.get(name, [])
            if len(module_entries) == 1:  # a module constant: assigned exactly once
                entries = module_entries
        if not entries:
            return Verdict(UNKNOWN)  # a parameter or global: not built here
        kind, how, texts = STATIC, "", []
        for line, value in entries:
            v = self.expr(value, line, depth + 1)
            texts.append(v.text)
            if v.kind == DYNAMIC:
                kind, how = DYNAMIC, how or v.how
            elif v.kind == UNKNOWN and kind == STATIC:
                kind, how = UNKNOWN, v.how
            elif v.kind == UNKNOWN and kind == UNKNOWN and v.how != how:
                how = ""
        return Verdict(kind, " ".join(texts), how)

    def operand(self, node: ast.expr, before: int, depth: int) -> Verdict:
        """Inside a string-building expression: anything not provably constant is data."""
        v = self.expr(node, before, depth)
        return v if v.kind == STATIC or v.how == _JOIN else Verdict(DYNAMIC, v.text, v.how)

    def expr(self, node: ast.expr, before: int, depth: int = 0) -> Verdict:
        if depth > 20:
            return Verdict(UNKNOWN)
        if isinstance(node, ast.Constant):
            return Verdict(STATIC, node.value if isinstance(node.value, str) else "")
        if isinstance(node, ast.Name):
            return self.name(node.id, before, depth)
        if isinstance(node, ast.JoinedStr):
            parts = [
                self.operand(v.value, before, depth)
                if isinstance(v, ast.FormattedValue)
                else self.expr(v, before, depth)
                for v in node.values
            ]
            return self._combine(parts, "f-string")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            parts = [
                self.operand(node.left, before, depth),
                self.operand(node.right, before, depth),
            ]
            return self._combine(parts, "+ concatenation")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            left = self.expr(node.left, before, depth)
            right = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
            parts = [left] + [self.operand(r, before, depth) for r in right]
            return self._combine(parts, "% formatting")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
        ):
            base = self.expr(node.func.value, before, depth)
            args = [self.operand(a, before, depth) for a in node.args]
            args += [self.operand(k.value, before, depth) for k in node.keywords]
            return self._combine([base] + args, ".format()")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "join"
        ):
            # ", ".join("%s" for _ in ids) builds placeholder lists; what a join holds is
            # out of reach of this intra-function analysis, so it is not judged.
            return Verdict(UNKNOWN, "", _JOIN)
        if isinstance(node, ast.IfExp):
            return self._combine(
                [self.expr(node.body, before, depth), self.expr(node.orelse, before, depth)],
                "conditional",
            )
        return Verdict(UNKNOWN)

    @staticmethod
    def _combine(parts: list[Verdict], how: str) -> Verdict:
        text = " ".join(p.text for p in parts)
        dynamic = [p for p in parts if p.kind == DYNAMIC]
        if dynamic:
            inner = next((p.how for p in dynamic if p.how), "")
            return Verdict(DYNAMIC, text, inner or how)
        unknown = [p for p in parts if p.kind == UNKNOWN]
        if unknown:
            return Verdict(UNKNOWN, text, _JOIN if all(p.how == _JOIN for p in unknown) else "")
        return Verdict(STATIC, text)


@dataclass(frozen=True)
class SqlHit:
    line: int
    message: str


def _query_arg(call: ast.Call) -> ast.expr | None:
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg in _QUERY_KWARGS), None)


def _receiver(func: ast.Attribute) -> str:
    text = ast.unparse(func.value)
    return text if len(text) <= 60 else text[:57] + "..."


def check(tree: ast.Module, nodes: list[ast.AST]) -> Iterator[SqlHit]:
    """``nodes``: every node of ``tree`` (one ``ast.walk`` shared by the rule families)."""
    module = _collect(tree)
    owners: list[ast.AST] = [tree] + [
        n for n in nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    for owner in owners:
        local = module if owner is tree else _collect(owner)
        classifier = _Classifier(local, module)
        for call in _calls_in(owner):
            if not (isinstance(call.func, ast.Attribute) and call.func.attr in SINKS):
                continue
            query = _query_arg(call)
            if query is None:
                continue
            verdict = classifier.expr(query, call.lineno)
            if verdict.kind != DYNAMIC:
                continue
            if verdict.text.strip() and not _SQL_WORDS.search(verdict.text):
                continue  # a string, but not SQL (e.g. a shell or template runner)
            via = f" via '{query.id}'" if isinstance(query, ast.Name) else ""
            yield SqlHit(
                call.lineno,
                f"SQL built with {verdict.how or 'string building'}{via} "
                f"reaches {_receiver(call.func)}.{call.func.attr}()",
            )


def _calls_in(owner: ast.AST) -> Iterator[ast.Call]:
    """Calls belonging to this scope (not to nested functions, which are their own owners)."""
    stack = list(ast.iter_child_nodes(owner))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.Call):
            yield node
        stack.extend(ast.iter_child_nodes(node))
