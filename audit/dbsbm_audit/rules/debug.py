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
from dbsbm_audit.rules.scopes import Scopes


@dataclass(frozen=True)
class DebugHit:
    rule_id: str
    line: int
    message: str
    flow: tuple[tuple[int, str], ...] = ()


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
        owner = node.value.id if isinstance(node.value, ast.Name) else ""
        if (
            isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and is_strong_name(key.value)
        ):
            yield key.value
        elif owner and is_strong_name(owner) and not isinstance(key, ast.Slice):
            yield f"{owner}[...]"  # API_KEYS["football"]: an entry of a credential map
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


def python_findings(
    tree: ast.Module,
    is_test: bool = False,
    rel: str = "",
    lines: list[str] | None = None,
    scopes: Scopes | None = None,
) -> list[DebugHit]:
    """``is_test``: test modules never run in production, so their levels and switches are
    theirs. ``rel``: the module's path, which says whether it is production settings or an
    entry point."""
    visitor = _Visitor(check_levels=not is_test)
    visitor.visit(tree)
    named = {h.line for h in visitor.hits if h.rule_id == "DBSBM-DEBUG-003"}
    logged = _logged_dicts(scopes or Scopes(tree))
    hits = visitor.hits + [h for h in logged if h.line not in named]
    if not is_test:
        hits += _settings_debug(tree, rel, lines or [])
        hits += _asyncio_debug(tree, rel)
    return hits


# --- DEBUG = True in production settings --------------------------------------------------
_SETTINGS_DIRS = {"settings", "config", "configs", "conf", "configuration"}


def _is_production_settings(rel: str, lines: list[str]) -> bool:
    """``settings/production.py``, ``config/prod.py``, ``prod_settings.py``, or a module that
    declares ``ENVIRONMENT = "production"`` itself."""
    parts = rel.lower().split("/")
    stem = parts[-1].rsplit(".", 1)[0]
    by_name = bool(_PRODUCTION_PATH.search(stem)) or (
        bool(_SETTINGS_DIRS & set(parts[:-1]) or "settings" in stem or "config" in stem)
        and bool(_PRODUCTION_PATH.search(rel))
    )
    return by_name or any(_PRODUCTION_SETTING.match(line) for line in lines)


def _is_debug_switch(name: str) -> bool:
    ws = words(name)
    return "debug" in ws and ws[-1] in {"debug", "mode"}


def _is_on(node: ast.expr | None) -> bool:
    if not isinstance(node, ast.Constant):
        return False
    value = node.value
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return value is True or value == 1


def _debug_assignments(body: list[ast.stmt]) -> Iterator[tuple[int, str]]:
    """Unconditional ``DEBUG = True`` statements of a module or class body."""
    for stmt in body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign):
            targets, value = [stmt.target], stmt.value
        for target in targets:
            if isinstance(target, ast.Name) and _is_debug_switch(target.id) and _is_on(value):
                yield stmt.lineno, target.id


_NOT_PRODUCTION = {"dev", "development", "develop", "local", "test", "testing", "debug", "ci"}


def _settings_debug(tree: ast.Module, rel: str, lines: list[str]) -> list[DebugHit]:
    """Module-level switches of a production settings module, and class-level ones of its
    classes (bar ``DevelopmentConfig``-style ones) or of any ``Prod*`` class."""
    hits = []
    production = _is_production_settings(rel, lines)
    if production:
        for line, name in _debug_assignments(tree.body):
            message = f"{name} = True in production settings ({rel.rsplit('/', 1)[-1]})"
            hits.append(DebugHit("DBSBM-DEBUG-001", line, message))
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        ws = {w.lower() for w in words(node.name)}
        if "prod" in {w[:4] for w in ws} or (production and not ws & _NOT_PRODUCTION):
            for line, name in _debug_assignments(node.body):
                message = f"{name} = True in production settings class {node.name}"
                hits.append(DebugHit("DBSBM-DEBUG-001", line, message))
    return hits


# --- asyncio debug mode in an entry point --------------------------------------------------
_ENTRY_MODULES = {
    "__main__",
    "main",
    "bot",
    "run",
    "app",
    "launcher",
    "start",
    "server",
    "manage",
    "wsgi",
    "asgi",
    "cli",
}
_ASYNCIO_DEBUG_ENV = "PYTHONASYNCIODEBUG"


def _is_entry_point(tree: ast.Module, rel: str) -> bool:
    stem = rel.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    return stem in _ENTRY_MODULES or any(
        isinstance(n, ast.If) and _is_main_guard(n.test) for n in tree.body
    )


def _module_true(tree: ast.Module) -> set[str]:
    """Module names bound once, to True (``DEBUG = True`` then ``debug=DEBUG``)."""
    values: dict[str, list[ast.expr]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    values.setdefault(target.id, []).append(stmt.value)
    return {name for name, vs in values.items() if len(vs) == 1 and _is_true(vs[0])}


def _asyncio_switch(node: ast.Call, true_names: set[str]) -> str | None:
    """How this call turns asyncio's debug mode on, if it does."""

    def on(value: ast.expr) -> bool:
        return _is_true(value) or (isinstance(value, ast.Name) and value.id in true_names)

    func = _dotted(node.func)
    name = func.rsplit(".", 1)[-1]
    debug_kw = next((k.value for k in node.keywords if k.arg == "debug"), None)
    if func in {"asyncio.run", "asyncio.Runner", "Runner"} and debug_kw and on(debug_kw):
        return f"{func}(debug=True)"
    if name == "set_debug" and node.args and on(node.args[0]):
        return f"{func}(True)"
    env_args = [a for a in node.args if isinstance(a, ast.Constant)]
    if (
        name in {"setdefault", "putenv"}
        and len(env_args) == 2
        and env_args[0].value == _ASYNCIO_DEBUG_ENV
        and _is_on(env_args[1])
    ):
        return f"{func}({_ASYNCIO_DEBUG_ENV!r}, ...)"
    return None


def _asyncio_debug(tree: ast.Module, rel: str) -> list[DebugHit]:
    if not _is_entry_point(tree, rel):
        return []
    true_names = _module_true(tree)
    hits = []

    def visit(node: ast.AST, guarded: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = guarded
            if isinstance(child, ast.If) and not _is_main_guard(child.test):
                inner = True
            elif isinstance(child, ast.IfExp):
                inner = True
            if not guarded and isinstance(child, ast.Call):
                how = _asyncio_switch(child, true_names)
                if how:
                    hits.append(
                        DebugHit("DBSBM-DEBUG-001", child.lineno, f"asyncio debug mode on: {how}")
                    )
            if not guarded and isinstance(child, ast.Assign):
                for target in child.targets:
                    if (
                        isinstance(target, ast.Subscript)
                        and "environ" in _dotted(target.value)
                        and isinstance(target.slice, ast.Constant)
                        and target.slice.value == _ASYNCIO_DEBUG_ENV
                        and _is_on(child.value)
                    ):
                        hits.append(
                            DebugHit(
                                "DBSBM-DEBUG-001",
                                child.lineno,
                                f"asyncio debug mode on: {_ASYNCIO_DEBUG_ENV} set",
                            )
                        )
            visit(child, inner)

    visit(tree, False)
    return hits


# --- secret-bearing dicts handed to a logger -----------------------------------------------
def _secret_key(node: ast.Dict) -> str | None:
    """The first credential-named key of a dict literal (nested dicts included) whose value
    is not a placeholder."""
    for key, value in zip(node.keys, node.values, strict=True):
        name = _str_key(key)
        if name and is_strong_name(name) and not _masked(value):
            return name
        if isinstance(value, ast.Dict) and (inner := _secret_key(value)):
            return inner
    return None


def _masked(value: ast.expr) -> bool:
    return isinstance(value, ast.Constant) and (
        value.value is None
        or (isinstance(value.value, str) and (not value.value.strip("*x. ") or "*" in value.value))
    )


def _secret_dict_value(node: ast.expr) -> str | None:
    """The credential key a dict-valued expression holds: a literal, ``dict(token=...)``,
    or the process environment (``os.environ``, ``dict(os.environ)``, ``environ.copy()``)."""
    if isinstance(node, ast.Dict):
        return _secret_key(node)
    if isinstance(node, ast.DictComp) and any(
        _dotted(g.iter).endswith("environ.items") for g in node.generators
    ):
        return "the process environment"
    dotted = _dotted(node)
    if isinstance(node, ast.Attribute) and dotted.endswith("environ"):
        return "the process environment"
    if isinstance(node, ast.Call):
        func = _dotted(node.func)
        if func == "dict":
            for k in node.keywords:
                if k.arg and is_strong_name(k.arg) and not _masked(k.value):
                    return k.arg
            if node.args and _secret_dict_value(node.args[0]) == "the process environment":
                return "the process environment"
        if func.endswith("environ.copy"):
            return "the process environment"
    return None


class _DictBindings:
    """Names and ``self.`` attributes bound to secret-bearing dicts, per function."""

    def __init__(self) -> None:
        self.names: dict[str, tuple[int, str]] = {}  # name -> (line, credential key)

    def learn(self, node: ast.AST, target: ast.expr, key: str) -> None:
        label = _dotted(target)
        if label and label not in self.names:
            self.names[label] = (getattr(node, "lineno", 0), key)

    def scan(self, nodes: list[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                key = _secret_dict_value(node.value)
                for target in targets:
                    if key:
                        self.learn(node, target, key)
                    # headers["Authorization"] = f"Bot {TOKEN}"
                    if isinstance(target, ast.Subscript):
                        name = _str_key(target.slice)
                        if name and is_strong_name(name) and not _masked(node.value):
                            self.learn(node, target.value, name)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "update"
            ):
                keys = [k.arg for k in node.keywords if k.arg and is_strong_name(k.arg)]
                keys += [k for a in node.args if (k := _secret_dict_value(a))]
                if keys:
                    self.learn(node, node.func.value, keys[0])


def _is_log_call(node: ast.Call) -> bool:
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr in _LOG_METHODS
        and "log" in _dotted(func.value).lower()
    )


_LOG_OPTIONS = {"exc_info", "stack_info", "stacklevel"}


def _logged_dicts(scopes: Scopes) -> list[DebugHit]:
    """A dict holding a credential (headers, a config, the environment) passed whole to a
    logger call, as an argument, inside an f-string or ``%``, or under ``extra=``."""
    log_calls = {
        id(owner): [n for n in scopes.own(owner) if isinstance(n, ast.Call) and _is_log_call(n)]
        for owner in scopes.owners
    }
    if not any(log_calls.values()):
        return []
    module = _DictBindings()
    module.scan(scopes.own(scopes.tree))
    attrs = _DictBindings()  # self.<attr> from any method
    for fn in scopes.functions:
        attrs.scan(scopes.own(fn))
    attrs.names = {k: v for k, v in attrs.names.items() if k.startswith(("self.", "cls."))}
    hits = []
    for owner in scopes.owners:
        if not log_calls[id(owner)]:
            continue
        local = _DictBindings()
        if owner is not scopes.tree:
            local.scan(scopes.own(owner))
        for call in log_calls[id(owner)]:
            # extra= (logging), or any field keyword (structlog, loguru's bind-style calls)
            values = [*call.args, *(k.value for k in call.keywords if k.arg not in _LOG_OPTIONS)]
            for value in values:
                found = _logged_dict(value, local, module, attrs)
                if found is None:
                    continue
                shown, line, key = found
                what = "holds" if key == "the process environment" else "holds key"
                step = f"passed to {_dotted(call.func)}()"
                flow = ((line, f"'{shown}' {what} {key!r}"),) if line else ()
                hits.append(
                    DebugHit(
                        "DBSBM-DEBUG-003",
                        call.lineno,
                        f"dict '{shown}' ({what} {key!r}) {step}",
                        (*flow, (call.lineno, step)),
                    )
                )
                break
    return hits


def _logged_dict(node: ast.expr, *scopes: _DictBindings) -> tuple[str, int, str] | None:
    """(shown, line bound, credential key) when ``node`` puts a secret-bearing dict in the
    message: the dict itself, or inside an f-string, ``%``, ``+``, ``str()``, a tuple."""
    key = _secret_dict_value(node)
    if key:
        return ast.unparse(node)[:40], 0, key
    if isinstance(node, (ast.Name, ast.Attribute)):
        label = _dotted(node)
        for scope in scopes:
            if label in scope.names:
                line, key = scope.names[label]
                return label, line, key
        return None
    children: list[ast.expr] = []
    if isinstance(node, ast.JoinedStr):
        children = [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
    elif isinstance(node, ast.BinOp):
        children = [node.left, node.right]
    elif isinstance(node, (ast.Tuple, ast.List)):
        children = list(node.elts)
    elif isinstance(node, ast.Call) and _dotted(node.func) in {"str", "repr", "json.dumps"}:
        children = list(node.args[:1])
    elif isinstance(node, ast.Dict):
        # {**HEADERS, "x-apisports-key": "***"} overrides the secret: a redacted copy
        overrides = any(_str_key(k) and is_strong_name(_str_key(k) or "") for k in node.keys)
        children = [v for k, v in zip(node.keys, node.values, strict=True) if k or not overrides]
    for child in children:
        found = _logged_dict(child, *scopes)
        if found:
            return found
    return None


# --- config files ---------------------------------------------------------------------------
_PRODUCTION_PATH = re.compile(r"(^|[^a-z])prod(uction)?([^a-z]|$)", re.IGNORECASE)
_PRODUCTION_SETTING = re.compile(
    r"""^\s*(?:-\s*)?(export\s+)?["']?(DBSBM_ENV|ENV|ENVIRONMENT|APP_ENV|DEPLOYMENT_ENVIRONMENT)["']?"""
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
    _KEY
    + r"""(?:debug|[A-Za-z]+_debug|pythonasynciodebug)["']?\s*[:=]\s*["']?(?:true|1|yes|on)"""
    + _VALUE_END,
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
