"""Debug left on in production (DBSBM-DEBUG-001 … 003).

All three are ours. bandit's B201 (Flask ``app.run(debug=True)``) fires only when the same
file imports flask, so ``from bot.web import app; app.run(debug=True)`` goes unseen, and it has
no check for ``app.debug = True`` or ``app.config["DEBUG"] = True``; bandit has no rule for
DEBUG log levels nor for secrets handed to loggers, and detect-secrets looks at literals only:

- DEBUG-001: ``<x>.run(debug=True)`` (any receiver but ``asyncio``, whose debug is the event
  loop's), ``<app>.debug = True``, ``<x>.config["DEBUG"] = True``,
  ``<x>.config.update(DEBUG=True)``, and ``debug: true`` in a production config file;
- DEBUG-002: ``logging.basicConfig(level=logging.DEBUG)`` / ``.setLevel(logging.DEBUG)``, or a
  level read with a DEBUG default (``os.getenv("LOG_LEVEL", "DEBUG")``), not under an ``if``
  (``if __name__ == "__main__"`` does not count: it runs in production), outside test modules,
  and ``LOG_LEVEL=DEBUG`` / ``"level": "DEBUG"`` in a production config file;
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

from dbsbm_audit.rules.credentials import is_strong_name, words


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


def _debug_default(level: ast.expr) -> ast.Call | None:
    """``os.getenv("LOG_LEVEL", "DEBUG")`` / ``os.environ.get(...)`` in a level expression (also
    inside ``.upper()`` or ``getattr(logging, ...)``): DEBUG wherever the variable is unset."""
    for node in ast.walk(level):
        if not (isinstance(node, ast.Call) and len(node.args) == 2):
            continue
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if (
            fname == "getenv" or (fname == "get" and "environ" in _dotted(func))
        ) and _is_debug_level(node.args[1]):
            return node
    return None


def _str_key(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_true(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _is_app(node: ast.expr) -> bool:
    """``app``, ``flask_app``, ``self.web_app``, ``application``: ``x.debug = True`` on
    anything else (an options object, ``self``) is not a web framework's switch."""
    return bool({"app", "application"} & set(words(_dotted(node).rsplit(".", 1)[-1])))


def _is_config(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "config"


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
    )


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
        if (
            isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and is_strong_name(key.value)
        ):
            yield key.value
    elif isinstance(node, ast.Call):
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if fname in {"getenv", "get"} and node.args:
            first = node.args[0]
            if (
                isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and is_strong_name(first.value)
                and (fname == "getenv" or "environ" in _dotted(func))
            ):
                yield first.value
        elif fname in _PASS_THROUGH_CALLS:
            if isinstance(func, ast.Attribute):  # "...{}".format(token)
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    yield from _secret_refs(arg)
            else:
                for arg in node.args:
                    yield from _secret_refs(arg)
    elif isinstance(
        node,
        (
            ast.JoinedStr,
            ast.FormattedValue,
            ast.BinOp,
            ast.Tuple,
            ast.List,
            ast.Dict,
            ast.IfExp,
            ast.Starred,
        ),
    ):
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

    def visit_Assign(self, node: ast.Assign) -> None:
        if _is_true(node.value):
            for target in node.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "debug"
                    and _is_app(target.value)
                ):
                    self._flask_debug(node, f"{_dotted(target)} = True")
                elif (
                    isinstance(target, ast.Subscript)
                    and _is_config(target.value)
                    and isinstance(target.slice, ast.Constant)
                    and target.slice.value == "DEBUG"
                ):
                    self._flask_debug(node, f'{_dotted(target.value)}["DEBUG"] = True')
        self.generic_visit(node)

    def _flask_debug(self, node: ast.stmt | ast.expr, shape: str) -> None:
        self.hits.append(DebugHit("DBSBM-DEBUG-001", node.lineno, f"Flask debug mode on: {shape}"))

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if (
            name == "run"
            and _dotted(func) != "asyncio.run"
            and any(k.arg == "debug" and _is_true(k.value) for k in node.keywords)
        ):
            self._flask_debug(node, f"{_dotted(func)}(debug=True)")
        elif name == "update" and isinstance(func, ast.Attribute) and _is_config(func.value):
            # app.config.update(DEBUG=True) or app.config.update({"DEBUG": True})
            pairs = [(k.arg, k.value) for k in node.keywords]
            for arg in node.args:
                if isinstance(arg, ast.Dict):
                    pairs += [(_str_key(k), v) for k, v in zip(arg.keys, arg.values, strict=True)]
            if any(key == "DEBUG" and _is_true(value) for key, value in pairs):
                self._flask_debug(node, f"{_dotted(func)}(DEBUG=True)")
        if self.check_levels and not self.guards:
            level = None
            if name == "basicConfig":
                level = next((k.value for k in node.keywords if k.arg == "level"), None)
            elif name == "setLevel" and node.args:
                level = node.args[0]
            default = _debug_default(level) if level is not None else None
            if level is not None and (_is_debug_level(level) or default):
                shown = "level=DEBUG" if name == "basicConfig" else "DEBUG"
                when = (
                    f"unless {ast.unparse(default.args[0])} is set"
                    if default
                    else "set unconditionally"
                )
                self.hits.append(
                    DebugHit("DBSBM-DEBUG-002", node.lineno, f"{_dotted(func)}({shown}) {when}")
                )
        if (
            isinstance(func, ast.Attribute)
            and func.attr in _LOG_METHODS
            and "log" in _dotted(func.value).lower()
        ):
            refs = sorted({r for arg in node.args for r in _secret_refs(arg)})
            if refs:
                self.hits.append(
                    DebugHit(
                        "DBSBM-DEBUG-003",
                        node.lineno,
                        f"secret-named value {', '.join(repr(r) for r in refs)} passed to "
                        f"{_dotted(func)}()",
                    )
                )
        self.generic_visit(node)


def python_findings(tree: ast.AST, is_test: bool = False) -> list[DebugHit]:
    """``is_test``: test modules never run in production, so their log levels are theirs."""
    visitor = _Visitor(check_levels=not is_test)
    visitor.visit(tree)
    return visitor.hits


# --- config files ---------------------------------------------------------------------------
_PRODUCTION_PATH = re.compile(r"(^|[^a-z])prod(uction)?([^a-z]|$)", re.IGNORECASE)
_PRODUCTION_SETTING = re.compile(
    r"""^\s*(export\s+)?["']?(DBSBM_ENV|ENV|ENVIRONMENT|APP_ENV|DEPLOYMENT_ENVIRONMENT)["']?"""
    r"""\s*[:=]\s*["']?prod(uction)?["']?\s*,?\s*(#.*)?$""",
    re.IGNORECASE,
)
# A key/value pair anywhere in the line, so one-line mappings count too
# ("logging": {"level": "DEBUG"},): the key starts the line or follows a space, {, [, "," or ;
# and its value ends at the line's end, a comma, a closing bracket or a comment.
_KEY = r"""(?:^|[\s{\[,;])(?:export\s+)?["']?"""
_VALUE_END = r"""["']?(?=\s*(?:[,}\];#]|$))"""
_DEBUG_LEVEL = re.compile(
    _KEY + r"""(?:[A-Za-z_]*log_?level|level)["']?\s*[:=]\s*["']?debug""" + _VALUE_END,
    re.IGNORECASE,
)
_DEBUG_MODE = re.compile(
    _KEY + r"""(?:debug|[A-Za-z]+_debug)["']?\s*[:=]\s*["']?(?:true|1|yes|on)""" + _VALUE_END,
    re.IGNORECASE,
)
_COMMENT = re.compile(r"(?:^|\s)(?:#|;|//).*")  # "level: INFO  # level: DEBUG to debug" is INFO


def is_production_config(rel_path: str, lines: list[str]) -> bool:
    """Production by name (``.env.production``, ``config/prod.yaml``) or by its own
    ``DBSBM_ENV=production``."""
    return bool(_PRODUCTION_PATH.search(rel_path)) or any(
        _PRODUCTION_SETTING.match(line) for line in lines
    )


def config_findings(rel_path: str, lines: list[str]) -> list[DebugHit]:
    if not is_production_config(rel_path, lines):
        return []
    hits = []
    for lineno, line in enumerate(lines, start=1):
        line = _COMMENT.sub("", line)
        if _DEBUG_LEVEL.search(line):
            hits.append(
                DebugHit("DBSBM-DEBUG-002", lineno, "DEBUG log level in a production config")
            )
        if _DEBUG_MODE.search(line):
            hits.append(DebugHit("DBSBM-DEBUG-001", lineno, "debug mode on in a production config"))
    return hits
