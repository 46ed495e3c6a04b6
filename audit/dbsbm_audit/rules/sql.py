"""SQL injection (DBSBM-SQL-001).

Our own rule instead of bandit's B608, because B608 judges the string alone: it flags
``db_manager.fetch_one("SELECT ... WHERE id = %s", uid)`` (parameterized, safe) exactly like
``cur.execute("... WHERE id = %s" % uid)`` (injectable). Here the query argument of a DB call
(aiomysql/PyMySQL/sqlite3 ``execute``/``executemany``, asyncpg ``fetch*``/``fetchval``, DBSBM's
``db_manager.execute/fetch_one/fetch_all/fetchval``) is classified:

- literal, concatenation of literals, or of module/function constants (a ``for`` variable
  over a literal tuple/list of constants counts) → safe;
- an f-string, ``%``, ``+`` or ``.format()`` with a non-constant operand → finding;
- a variable → followed back through its assignments (and ``+=``, and tuple unpacking)
  earlier in the same function, so ``query = f"..."; await cur.execute(query)`` is caught;
- a call of a function or method defined in the same module → judged by what that function
  returns (``return f"..."``, ``return sql, params``), so SQL built in one function and
  executed in another is caught at the execute call;
- a parameter that reaches a DB call → the callers in the module are judged instead: the
  finding is where a built string is passed in (``run_sql(db, f"... {name}")``);
- anything else (a call into another module, ``" AND ".join(...)`` even inside a
  concatenation) → not judged: we report only what we can show, so the rule can gate CI.

Each finding carries its path (built, assigned, returned, passed, executed) for SARIF
``codeFlows``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from dbsbm_audit.rules.scopes import Function, Scopes

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


Step = tuple[int, str]  # (line, what happened to the value there)


@dataclass
class Verdict:
    kind: str
    text: str = ""  # the literal SQL text we could see, to confirm it is SQL
    how: str = ""  # "f-string", "% formatting", "+ concatenation", ".format()"
    path: list[Step] = field(default_factory=list)  # how a dynamic value got here
    param: str = ""  # UNKNOWN because it is this parameter of the function


@dataclass
class _Scope:
    """Assignments of one function (or the module), by name, in source order."""

    # name -> [(line, assigned value)]; `q += x` counts as an assignment of x
    assigns: dict[str, list[tuple[int, ast.expr]]] = field(default_factory=dict)


def _collect(nodes: list[ast.AST]) -> _Scope:
    """``nodes``: the scope's own nodes (``Scopes.own``)."""
    scope = _Scope()
    for child in nodes:
        if isinstance(child, ast.Assign):
            for target in child.targets:
                if isinstance(target, ast.Name):
                    scope.assigns.setdefault(target.id, []).append((child.lineno, child.value))
                elif isinstance(target, ast.Tuple):
                    # sql, args = build(...): element i of whatever the value is
                    for i, elt in enumerate(target.elts):
                        if isinstance(elt, ast.Name):
                            element = ast.Subscript(child.value, ast.Constant(i), ast.Load())
                            ast.copy_location(element, child.value)
                            scope.assigns.setdefault(elt.id, []).append((child.lineno, element))
        elif isinstance(child, ast.AnnAssign) and isinstance(child.target, ast.Name):
            if child.value is not None:
                scope.assigns.setdefault(child.target.id, []).append((child.lineno, child.value))
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
    for entries in scope.assigns.values():
        entries.sort(key=lambda e: e[0])
    return scope


class _Module:
    """What the classifiers of one module share: its functions, scopes and return verdicts."""

    def __init__(self, tree: ast.Module, nodes: list[ast.AST], scopes: Scopes) -> None:
        self.scopes = scopes
        self.scope = _collect(scopes.own(tree))
        self.functions: dict[str, Function] = {}  # module-level functions
        self.methods: dict[str, list[Function]] = {}  # method name -> definitions
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions[node.name] = node
        for cls in nodes:
            if isinstance(cls, ast.ClassDef):
                for item in cls.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.methods.setdefault(item.name, []).append(item)
        self._scopes: dict[int, _Scope] = {}
        self._returns: dict[tuple[int, int | None], Verdict] = {}

    def local(self, fn: ast.AST) -> _Scope:
        if id(fn) not in self._scopes:
            self._scopes[id(fn)] = _collect(self.scopes.own(fn))
        return self._scopes[id(fn)]

    def callee(self, call: ast.Call) -> tuple[Function, bool] | None:
        """The function a call runs, if it is defined here: (definition, bound method)."""
        func = call.func
        if isinstance(func, ast.Name) and func.id in self.functions:
            return self.functions[func.id], False
        if isinstance(func, ast.Attribute) and len(self.methods.get(func.attr, [])) == 1:
            method = self.methods[func.attr][0]
            static = any(
                isinstance(d, ast.Name) and d.id == "staticmethod" for d in method.decorator_list
            )
            return method, not static
        return None

    def returns(self, fn: Function, element: int | None, depth: int) -> Verdict:
        """What ``fn`` returns (or element ``element`` of the tuple it returns)."""
        key = (id(fn), element)
        if key in self._returns:
            return self._returns[key]
        self._returns[key] = Verdict(UNKNOWN)  # recursion: not judged
        classifier = _Classifier(self.local(fn), self, fn)
        parts = []
        for node in self.scopes.own(fn):
            if not isinstance(node, ast.Return) or node.value is None:
                continue
            value: ast.expr | None = node.value
            if element is not None:
                value = (
                    node.value.elts[element]
                    if isinstance(node.value, ast.Tuple) and element < len(node.value.elts)
                    else None
                )
            if value is None:
                parts.append(Verdict(UNKNOWN))
                continue
            v = classifier.expr(value, node.lineno, depth + 1)
            if v.kind == DYNAMIC:
                v.path = [*v.path, (node.lineno, f"returned by {fn.name}()")]
            parts.append(v)
        verdict = _Classifier.merge(parts) if parts else Verdict(UNKNOWN)
        self._returns[key] = verdict
        return verdict


class _Classifier:
    def __init__(self, local: _Scope, module: _Module, owner: ast.AST | None = None) -> None:
        self.local = local
        self.module = module
        self.params = _params(owner)
        self.checked = _allow_listed(module.scopes.own(owner)) if owner is not None else {}

    def name(self, name: str, before: int, depth: int) -> Verdict:
        if self.checked.get(name, before) < before:
            return Verdict(STATIC)  # checked against an allow-list first
        entries = [e for e in self.local.assigns.get(name, []) if e[0] < before]
        if not entries and self.local is not self.module.scope:
            module_entries = self.module.scope.assigns.get(name, [])
            if len(module_entries) == 1:  # a module constant: assigned exactly once
                entries = module_entries
        if not entries:
            # a parameter or global: not built here
            return Verdict(UNKNOWN, param=name if name in self.params else "")
        verdicts = []
        for line, value in entries:
            v = self.expr(value, line, depth + 1)
            if v.kind == DYNAMIC:
                v.path = [*v.path, (line, f"assigned to '{name}'")]
            verdicts.append(v)
        return self.merge(verdicts)

    @staticmethod
    def merge(verdicts: list[Verdict]) -> Verdict:
        """Several possible values (assignments, returns): dynamic if any one is."""
        kind, how, texts, path = STATIC, "", [], []
        for v in verdicts:
            texts.append(v.text)
            if v.kind == DYNAMIC:
                if kind != DYNAMIC:
                    path = v.path
                kind, how = DYNAMIC, how or v.how
            elif v.kind == UNKNOWN and kind == STATIC:
                kind, how = UNKNOWN, v.how
            elif v.kind == UNKNOWN and kind == UNKNOWN and v.how != how:
                how = ""
        param = verdicts[0].param if len(verdicts) == 1 else ""
        return Verdict(kind, " ".join(texts), how, path, param)

    def operand(self, node: ast.expr, before: int, depth: int) -> Verdict:
        """Inside a string-building expression: anything not provably constant is data."""
        v = self.expr(node, before, depth)
        if v.kind == DYNAMIC or v.kind == STATIC or v.how == _JOIN:
            return v
        return Verdict(DYNAMIC, v.text, v.how)

    def expr(self, node: ast.expr, before: int, depth: int = 0) -> Verdict:
        if depth > 20:
            return Verdict(UNKNOWN)
        v = self._expr(node, before, depth)
        if v.kind == DYNAMIC and not v.path:
            v.path = [(node.lineno, f"SQL built with {v.how or 'string building'}")]
        return v

    def _expr(self, node: ast.expr, before: int, depth: int) -> Verdict:
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
            if left.kind == STATIC and _numeric_only(left.text):
                return Verdict(STATIC, left.text)  # "%d" raises on anything but a number
            parts = [left] + [self.operand(r, before, depth) for r in right]
            return self._combine(parts, "% formatting")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _NUMERIC_CALLS
        ):
            return Verdict(STATIC)  # int(x), len(rows): a number cannot inject SQL
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
        if isinstance(node, ast.Await):
            return self.expr(node.value, before, depth)
        if self._allow_list_lookup(node, before):
            return Verdict(STATIC)
        if isinstance(node, ast.Call):
            target = self.module.callee(node)
            if target:
                return self.module.returns(target[0], None, depth)
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
        ):
            inner = node.value.value if isinstance(node.value, ast.Await) else node.value
            if isinstance(inner, ast.Call) and (target := self.module.callee(inner)):
                return self.module.returns(target[0], node.slice.value, depth)
            if isinstance(inner, ast.Tuple) and node.slice.value < len(inner.elts):
                return self.expr(inner.elts[node.slice.value], before, depth)
        return Verdict(UNKNOWN)

    def _allow_list_lookup(self, node: ast.expr, before: int) -> bool:
        """``ALLOWED[col]`` or ``ALLOWED.get(col, "x")`` on a dict of constant strings: the
        result is one of those strings whatever the key (or a KeyError)."""
        if isinstance(node, ast.Subscript):
            mapping, default = node.value, None
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and len(node.args) == 2
        ):
            mapping, default = node.func.value, node.args[1]
        else:
            return False
        if default is not None and not isinstance(default, ast.Constant):
            return False
        if isinstance(mapping, ast.Name):
            entries = [e for e in self.local.assigns.get(mapping.id, []) if e[0] < before]
            entries = entries or self.module.scope.assigns.get(mapping.id, [])
            if len(entries) != 1:
                return False
            mapping = entries[0][1]
        return isinstance(mapping, ast.Dict) and all(
            isinstance(v, ast.Constant) and isinstance(v.value, str) for v in mapping.values
        )

    @staticmethod
    def _combine(parts: list[Verdict], how: str) -> Verdict:
        text = " ".join(p.text for p in parts)
        dynamic = [p for p in parts if p.kind == DYNAMIC]
        if dynamic:
            inner = next((p.how for p in dynamic if p.how), "")
            path = next((p.path for p in dynamic if p.path), [])
            return Verdict(DYNAMIC, text, inner or how, path)
        unknown = [p for p in parts if p.kind == UNKNOWN]
        if unknown:
            return Verdict(UNKNOWN, text, _JOIN if all(p.how == _JOIN for p in unknown) else "")
        return Verdict(STATIC, text)


_NUMERIC_CALLS = {"int", "float", "len", "bool", "round", "abs"}
_CONVERSION = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\d+|\*)?(?:\.\d+)?([a-zA-Z%])")


def _numeric_only(text: str) -> bool:
    """A %-template whose every conversion is numeric (``%d``, ``%.2f``)."""
    kinds = [k for k in _CONVERSION.findall(text) if k != "%"]
    return bool(kinds) and all(k in "diouxXeEfFgG" for k in kinds)


def _allow_listed(nodes: list[ast.AST]) -> dict[str, int]:
    """Names checked against a collection before use, with the line of the check:
    ``if col not in ALLOWED: raise``/``return``, ``assert col in ALLOWED``, and the body of
    ``if col in ALLOWED:``."""
    checked: dict[str, int] = {}
    for node in nodes:
        test = node.test if isinstance(node, (ast.If, ast.Assert)) else None
        if not (
            isinstance(test, ast.Compare)
            and isinstance(test.left, ast.Name)
            and len(test.ops) == 1
            and isinstance(test.ops[0], (ast.In, ast.NotIn))
        ):
            continue
        negative = isinstance(test.ops[0], ast.NotIn)
        if isinstance(node, ast.Assert) and not negative:
            checked.setdefault(test.left.id, node.lineno)
        elif isinstance(node, ast.If) and not negative:
            checked.setdefault(test.left.id, node.lineno)
        elif (
            isinstance(node, ast.If)
            and negative
            and node.body
            and isinstance(node.body[-1], (ast.Raise, ast.Return, ast.Continue))
        ):
            checked.setdefault(test.left.id, node.lineno)
    return checked


@dataclass(frozen=True)
class SqlHit:
    line: int
    message: str
    flow: tuple[Step, ...] = ()


def _query_arg(call: ast.Call) -> ast.expr | None:
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg in _QUERY_KWARGS), None)


def _receiver(func: ast.Attribute) -> str:
    text = ast.unparse(func.value)
    return text if len(text) <= 60 else text[:57] + "..."


def _params(owner: ast.AST | None) -> list[str]:
    if not isinstance(owner, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    a = owner.args
    return [p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs]]


def _is_sql(verdict: Verdict) -> bool:
    # a string, but not SQL (e.g. a shell or template runner), is not this rule's business
    return not verdict.text.strip() or bool(_SQL_WORDS.search(verdict.text))


def check(tree: ast.Module, nodes: list[ast.AST], scopes: Scopes | None = None) -> Iterator[SqlHit]:
    """``nodes``: every node of ``tree`` (one ``ast.walk`` shared by the rule families)."""
    scopes = scopes or Scopes(tree)
    module = _Module(tree, nodes, scopes)
    owners = scopes.owners
    # function -> {parameter: (sink line, sink text)} for parameters that reach a DB call
    sink_params: dict[int, dict[str, Step]] = {}
    classifiers: list[tuple[ast.AST, _Classifier]] = []
    for owner in owners:
        local = module.scope if owner is tree else module.local(owner)
        classifier = _Classifier(local, module, owner)
        classifiers.append((owner, classifier))
        for call in _calls(scopes.own(owner)):
            if not (isinstance(call.func, ast.Attribute) and call.func.attr in SINKS):
                continue
            query = _query_arg(call)
            if query is None:
                continue
            verdict = classifier.expr(query, call.lineno)
            sink = f"reaches {_receiver(call.func)}.{call.func.attr}()"
            if verdict.kind == UNKNOWN and verdict.param:
                sink_params.setdefault(id(owner), {})[verdict.param] = (call.lineno, sink)
            if verdict.kind != DYNAMIC or not _is_sql(verdict):
                continue
            via = f" via '{query.id}'" if isinstance(query, ast.Name) else ""
            yield SqlHit(
                call.lineno,
                f"SQL built with {verdict.how or 'string building'}{via} {sink}",
                (*verdict.path, (call.lineno, sink)),
            )
    if sink_params:
        yield from _callers(module, classifiers, sink_params)


def _passed(
    module: _Module,
    classifiers: list[tuple[ast.AST, _Classifier]],
    sink_params: dict[int, dict[str, Step]],
) -> Iterator[tuple[ast.AST, _Classifier, ast.Call, Function, str, ast.expr]]:
    """(caller, its classifier, call, callee, parameter, argument) for every argument passed
    to a parameter of ours that reaches a DB call."""
    for owner, classifier in classifiers:
        for call in _calls(module.scopes.own(owner)):
            target = module.callee(call)
            if target is None or id(target[0]) not in sink_params:
                continue
            fn, bound = target
            params = _params(fn)[1:] if bound else _params(fn)
            reached = sink_params[id(fn)]
            passed = list(zip(params, call.args, strict=False))
            passed += [(k.arg, k.value) for k in call.keywords if k.arg]
            for param, arg in passed:
                if param in reached and not isinstance(arg, ast.Starred):
                    yield owner, classifier, call, fn, param, arg


def _callers(
    module: _Module,
    classifiers: list[tuple[ast.AST, _Classifier]],
    sink_params: dict[int, dict[str, Step]],
) -> Iterator[SqlHit]:
    """Calls that pass a built string to a parameter of ours that reaches a DB call,
    through any number of our helpers (``run(sql)`` calling ``_execute(sql)``)."""
    for _ in range(4):  # a parameter handed on to a helper's parameter also reaches the sink
        grew = False
        for owner, classifier, call, fn, param, arg in _passed(module, classifiers, sink_params):
            verdict = classifier.expr(arg, call.lineno)
            mine = sink_params.setdefault(id(owner), {})
            if verdict.kind == UNKNOWN and verdict.param and verdict.param not in mine:
                mine[verdict.param] = sink_params[id(fn)][param]
                grew = True
        if not grew:
            break
    for _owner, classifier, call, fn, param, arg in _passed(module, classifiers, sink_params):
        verdict = classifier.expr(arg, call.lineno)
        if verdict.kind != DYNAMIC or not _is_sql(verdict):
            continue
        sink_line, sink = sink_params[id(fn)][param]
        step = f"passed to {fn.name}() as '{param}'"
        yield SqlHit(
            call.lineno,
            f"SQL built with {verdict.how or 'string building'} is {step}, which "
            f"{sink.replace('reaches', 'hands it to')} (line {sink_line})",
            (*verdict.path, (call.lineno, step), (sink_line, sink)),
        )


def _calls(nodes: list[ast.AST]) -> Iterator[ast.Call]:
    return (n for n in nodes if isinstance(n, ast.Call))
