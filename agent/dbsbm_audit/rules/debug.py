"""Debug left on in production (DBSBM-DEBUG-001 … 003).

bandit B201 finds Flask ``app.run(debug=True)`` (DBSBM-DEBUG-001). bandit has no rule for
DEBUG log levels nor for secrets handed to loggers, and detect-secrets looks at literals only,
so these are ours:

- DEBUG-002: ``logging.basicConfig(level=logging.DEBUG)`` / ``.setLevel(logging.DEBUG)`` not
  under an ``if`` (``if __name__ == "__main__"`` does not count: it runs in production), outside
  test modules, and ``LOG_LEVEL=DEBUG`` in a production config file;
- DEBUG-003: a secret-named variable, attribute, ``os.environ["..._TOKEN"]`` or
  ``os.getenv("..._PASSWORD")`` reaching a logger call (through f-strings, ``%``, ``+``,
  ``.format`` or as a lazy ``%s`` argument). Values wrapped in other calls (``len(token)``,
  ``mask(token)``) or sliced (``key[:4]``) are not reported.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from dbsbm_audit.rules.credentials import is_strong_name


@dataclass(frozen=True)
class DebugHit:
    rule_id: str
    line: int
    message: str


_LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
_PASS_THROUGH_CALLS = {"str", "repr", "format"}


def _is_debug_level(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute) and node.attr == "DEBUG":
        return True
    if isinstance(node, ast.Constant):
        return node.value == 10 or (isinstance(node.value, str) and node.value.upper() == "DEBUG")
    return False


def _is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__")


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    return ""


def _secret_refs(node: ast.AST) -> Iterator[str]:
    """Secret-named values flowing into a log message."""
    if isinstance(node, ast.Name) and is_strong_name(node.id):
        yield node.id
    elif isinstance(node, ast.Attribute):
        if is_strong_name(node.attr):
            yield _dotted(node)
    elif isinstance(node, ast.Subscript):
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and is_strong_name(key.value):
            yield key.value
    elif isinstance(node, ast.Call):
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if fname in {"getenv", "get"} and node.args:
            first = node.args[0]
            if (isinstance(first, ast.Constant) and isinstance(first.value, str)
                    and is_strong_name(first.value)
                    and (fname == "getenv" or "environ" in _dotted(func))):
                yield first.value
        elif fname in _PASS_THROUGH_CALLS:
            if isinstance(func, ast.Attribute):  # "...{}".format(token)
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    yield from _secret_refs(arg)
            else:
                for arg in node.args:
                    yield from _secret_refs(arg)
    elif isinstance(node, (ast.JoinedStr, ast.FormattedValue, ast.BinOp, ast.Tuple, ast.List,
                           ast.Dict, ast.IfExp, ast.Starred)):
        for child in ast.iter_child_nodes(node):
            yield from _secret_refs(child)


class _Visitor(ast.NodeVisitor):
    def __init__(self, check_levels: bool) -> None:
        self.check_levels = check_levels
        self.guards = 0
        self.hits: list[DebugHit] = []

    def visit_If(self, node: ast.If) -> None:
        guarded = not _is_main_guard(node.test)
        self.guards += guarded
        self.generic_visit(node)
        self.guards -= guarded

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.guards += 1
        self.generic_visit(node)
        self.guards -= 1

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if self.check_levels and not self.guards:
            if name == "basicConfig" and any(
                k.arg == "level" and _is_debug_level(k.value) for k in node.keywords
            ):
                self.hits.append(DebugHit("DBSBM-DEBUG-002", node.lineno,
                                          "logging.basicConfig(level=DEBUG) set unconditionally"))
            elif name == "setLevel" and node.args and _is_debug_level(node.args[0]):
                self.hits.append(DebugHit("DBSBM-DEBUG-002", node.lineno,
                                          f"{_dotted(func)}(DEBUG) set unconditionally"))
        if (isinstance(func, ast.Attribute) and func.attr in _LOG_METHODS
                and "log" in _dotted(func.value).lower()):
            refs = sorted({r for arg in node.args for r in _secret_refs(arg)})
            if refs:
                self.hits.append(DebugHit(
                    "DBSBM-DEBUG-003", node.lineno,
                    f"secret-named value {', '.join(repr(r) for r in refs)} passed to "
                    f"{_dotted(func)}()"))
        self.generic_visit(node)


def python_findings(
    tree: ast.AST, bandit_hits: list[tuple[str, int]], is_test: bool = False
) -> list[DebugHit]:
    """``is_test``: test modules never run in production, so their log levels are theirs."""
    visitor = _Visitor(check_levels=not is_test)
    visitor.visit(tree)
    hits = visitor.hits
    hits += [DebugHit("DBSBM-DEBUG-001", line, "Flask app run with debug=True")
             for test_id, line in bandit_hits if test_id == "B201"]
    return hits


# --- config files ---------------------------------------------------------------------------
_PRODUCTION_PATH = re.compile(r"(^|[^a-z])prod(uction)?([^a-z]|$)", re.IGNORECASE)
_PRODUCTION_SETTING = re.compile(
    r"""^\s*(export\s+)?["']?(DBSBM_ENV|ENV|ENVIRONMENT|APP_ENV|DEPLOYMENT_ENVIRONMENT)["']?"""
    r"""\s*[:=]\s*["']?prod(uction)?["']?\s*,?\s*(#.*)?$""", re.IGNORECASE)
_DEBUG_LEVEL = re.compile(
    r"""^\s*(export\s+)?["']?([A-Za-z_]*log_?level|level)["']?\s*[:=]\s*["']?debug["']?\s*,?\s*(#.*)?$""",
    re.IGNORECASE)
_DEBUG_MODE = re.compile(
    r"""^\s*(export\s+)?["']?(debug|flask_debug|[A-Za-z]+_debug)["']?\s*[:=]\s*["']?(true|1|yes|on)["']?\s*,?\s*(#.*)?$""",
    re.IGNORECASE)


def is_production_config(rel_path: str, lines: list[str]) -> bool:
    """Production by name (``.env.production``, ``config/prod.yaml``) or by its own
    ``DBSBM_ENV=production``."""
    return bool(_PRODUCTION_PATH.search(rel_path)) or any(
        _PRODUCTION_SETTING.match(line) for line in lines)


def config_findings(rel_path: str, lines: list[str]) -> list[DebugHit]:
    if not is_production_config(rel_path, lines):
        return []
    hits = []
    for lineno, line in enumerate(lines, start=1):
        if _DEBUG_LEVEL.match(line):
            hits.append(DebugHit("DBSBM-DEBUG-002", lineno, "DEBUG log level in a production config"))
        elif _DEBUG_MODE.match(line):
            hits.append(DebugHit("DBSBM-DEBUG-001", lineno, "debug mode on in a production config"))
    return hits
