"""The agent's configuration: one YAML file, then DBSBM's environment variables.

Like blackbox_exporter's ``config.go``: defaults are applied first, then every value is
validated as it is read, unknown keys are rejected, and each problem is reported as one
exact line naming the file and the key::

    config error: agent.yaml: probes.redis.timeout: must be a positive number, got -1

Environment variables override the file with the names the bot already uses
(``MYSQL_*``, ``REDIS_URL`` or ``REDIS_*``, ``DISCORD_TOKEN``), so the agent reads the
same ``.env`` as the bot; they apply to every probe of that kind. Secrets are kept out
of ``repr`` so a logged config never shows them.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import yaml

from dbsbm_instrumentation import slo

KINDS = ("discord", "host", "http", "mysql", "redis")
DEFAULT_LISTEN = "127.0.0.1:9464"
DISCORD_API = "https://discord.com/api/v10"

_COMMON_KEYS = {"kind", "interval", "timeout", "depends_on", "required"}
_KIND_KEYS = {
    "mysql": {"host", "port", "user", "password", "database", "latency_warn"},
    "redis": {"url", "host", "port", "username", "password", "db", "key", "latency_warn"},
    "http": {"url", "method", "expected_status", "headers", "headers_from_env", "latency_warn"},
    "discord": {"base_url", "token", "latency_warn"},
    "host": {"path", "warn_ratio", "fail_ratio"},
}
# Readiness means "the bot can serve commands": it cannot without its database or
# Discord. Redis is optional because the cache falls back to its local tier; external
# APIs and host pressure degrade the bot without stopping it.
# How often each kind probes, as DBSBM's own health checker meant to, in seconds.
PROBE_INTERVAL_SECONDS = {
    "mysql": 30.0,
    "redis": 30.0,
    "http": 60.0,
    "discord": 30.0,
    "host": 60.0,
}
PROBE_TIMEOUT_SECONDS = 5.0
# Host memory, CPU and disk use: above the first a probe warns (degraded), above the
# second it fails (unhealthy).
RESOURCE_WARN_RATIO = 0.80
RESOURCE_FAIL_RATIO = 0.90
_REQUIRED_BY_DEFAULT = {"mysql", "discord"}
_LATENCY_WARN_DEFAULT = {
    "mysql": slo.DB_QUERY_P95_MAX_SECONDS,
    "http": slo.API_LATENCY_P95_MAX_SECONDS,
}
_HTTP_METHODS = {"GET", "HEAD", "POST"}
# Probe names become the ``component`` of /health's ``component:measurement`` keys and
# a metric attribute, so a ':' (or a space) in one would make those keys ambiguous.
_PROBE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class ConfigError(Exception):
    """A configuration problem; ``str()`` is the one line shown to the operator."""


@dataclass(frozen=True)
class ProbeConfig:
    """One probe: blackbox's module and target in one place.

    ``target`` is what the probe reaches (``host:port``, a URL without credentials, a
    disk path); credentials and tokens live in fields that ``repr`` hides.
    """

    name: str
    kind: str
    target: str
    interval: float
    timeout: float
    depends_on: tuple[str, ...] = ()
    required: bool = False
    latency_warn: float | None = None
    # mysql / redis
    host: str = ""
    port: int = 0
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None
    db: int = 0
    key: str = ""
    # http: the full URL may carry an API key in its query, so repr hides it
    url: str = field(default="", repr=False)
    method: str = "GET"
    expected_status: tuple[int, ...] = ()  # empty: any 2xx
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    # discord
    token: str | None = field(default=None, repr=False)
    # host
    warn_ratio: float = RESOURCE_WARN_RATIO
    fail_ratio: float = RESOURCE_FAIL_RATIO


@dataclass(frozen=True)
class AgentConfig:
    """The whole file; ``order`` lists probes so that dependencies come first."""

    source: str
    listen: str
    probes: Mapping[str, ProbeConfig]
    order: tuple[str, ...]


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read, override from ``environ`` (default ``os.environ``), validate; or ConfigError."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config error: {source}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config error: {source}: not UTF-8: byte "
            f"0x{exc.object[exc.start]:02x} at offset {exc.start}"
        ) from None
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"config error: {source}: {where}invalid YAML: {problem}") from None
    return _Parser(source, os.environ if environ is None else environ).parse(document)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key repeated in one mapping.

    PyYAML silently keeps the last of two equal keys, so a second ``interval:`` further
    down a probe would quietly override the first. Merge keys (``<<: *base``) may still
    be overridden: they are checked before PyYAML expands them.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # SafeLoader reports unhashable keys itself
            if key in first_line:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first on line {first_line[key]})",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _Parser:
    def __init__(self, source: str, environ: Mapping[str, str]) -> None:
        self.source = source
        self.environ = environ

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"config error: {self.source}: {key}: {message}")

    def env_fail(self, name: str, message: str) -> ConfigError:
        return ConfigError(f"config error: environment: {name}: {message}")

    def parse(self, document: Any) -> AgentConfig:
        if not isinstance(document, dict):
            raise ConfigError(
                f"config error: {self.source}: must be a mapping with a 'probes' key, "
                f"got {_describe(document)}"
            )
        self.reject_unknown(document, {"listen", "probes"}, "")
        listen = document.get("listen", DEFAULT_LISTEN)
        parse_listen(listen, lambda message: self.fail("listen", message))
        raw_probes = document.get("probes")
        if not isinstance(raw_probes, dict):
            raise self.fail(
                "probes", f"must map probe names to settings, got {_describe(raw_probes)}"
            )
        if not raw_probes:
            raise self.fail("probes", "must name at least one probe")
        for name in raw_probes:
            if not _PROBE_NAME.fullmatch(str(name)):
                raise self.fail(
                    "probes",
                    f"probe name {str(name)!r} may only use letters, digits, '_', '.' and '-'",
                )
        probes = {str(name): self.probe(str(name), raw) for name, raw in raw_probes.items()}
        for probe in probes.values():
            for dependency in probe.depends_on:
                if dependency not in probes:
                    raise self.fail(
                        f"probes.{probe.name}.depends_on", f"unknown probe {dependency!r}"
                    )
        return AgentConfig(self.source, listen, probes, self.order(probes))

    def reject_unknown(
        self, raw: Mapping[str, Any], allowed: set[str], prefix: str, kind: str | None = None
    ) -> None:
        for key in raw:
            if key not in allowed:
                raise self.fail(
                    f"{prefix}{key}", f"unknown key for a {kind} probe" if kind else "unknown key"
                )

    def probe(self, name: str, raw: Any) -> ProbeConfig:
        at = f"probes.{name}"
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise self.fail(at, f"must be a mapping, got {_describe(raw)}")
        kind = raw.get("kind", name if name in KINDS else None)
        if kind is None:
            raise self.fail(f"{at}.kind", f"required (the name {name!r} is not a probe kind)")
        if kind not in KINDS:
            raise self.fail(
                f"{at}.kind", f"unknown probe kind {kind!r} (known: {', '.join(KINDS)})"
            )
        self.reject_unknown(raw, _COMMON_KEYS | _KIND_KEYS[kind], f"{at}.", kind)
        raw = {**raw, **self.env_overrides(kind)}
        interval = self.positive(raw, "interval", at, PROBE_INTERVAL_SECONDS[kind])
        # A short interval shortens the default timeout rather than failing validation.
        timeout = self.positive(raw, "timeout", at, min(PROBE_TIMEOUT_SECONDS, interval))
        if timeout > interval:
            raise self.fail(
                f"{at}.timeout", f"must not exceed the interval ({interval:g}), got {timeout:g}"
            )
        depends_on = raw.get("depends_on", [])
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            raise self.fail(
                f"{at}.depends_on", f"must be a list of probe names, got {_describe(depends_on)}"
            )
        if name in depends_on:
            raise self.fail(f"{at}.depends_on", "a probe cannot depend on itself")
        required = raw.get("required", kind in _REQUIRED_BY_DEFAULT)
        if not isinstance(required, bool):
            raise self.fail(f"{at}.required", f"must be true or false, got {_describe(required)}")
        common: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "interval": interval,
            "timeout": timeout,
            "depends_on": tuple(depends_on),
            "required": required,
        }
        if kind != "host":
            common["latency_warn"] = self.positive(
                raw, "latency_warn", at, _LATENCY_WARN_DEFAULT.get(kind)
            )
        settings: dict[str, Any] = getattr(self, f"{kind}_settings")(raw, at)
        return ProbeConfig(**common, **settings)

    # --- per-kind settings ---------------------------------------------------------

    def mysql_settings(self, raw: Mapping[str, Any], at: str) -> dict[str, Any]:
        host = self.string(raw, "host", at, "127.0.0.1")
        port = self.port(raw, "port", at, 3306)
        return {
            "target": f"{host}:{port}",
            "host": host,
            "port": port,
            "user": self.string(raw, "user", at, None),
            "password": self.string(raw, "password", at, None),
            "database": self.string(raw, "database", at, None),
        }

    def redis_settings(self, raw: Mapping[str, Any], at: str) -> dict[str, Any]:
        host, port, db = "127.0.0.1", 6379, 0
        username: str | None = None
        password: str | None = None
        url = self.string(raw, "url", at, None)
        if url is not None:
            host, port, db, username, password = _parse_redis_url(
                url, lambda message: self.fail(f"{at}.url", message)
            )
        host = self.string(raw, "host", at, host)
        port = self.port(raw, "port", at, port)
        db = self.integer(raw, "db", at, db, minimum=0)
        username = self.string(raw, "username", at, username)
        password = self.string(raw, "password", at, password)
        key = self.string(raw, "key", at, None)
        if key is None:
            # One key per agent process, so two agents never read each other's value.
            key = f"dbsbm-agent:probe:{os.uname().nodename}:{os.getpid()}"
        return {
            "target": f"redis://{_host_port(host, port)}/{db}",
            "host": host,
            "port": port,
            "db": db,
            "user": username,
            "password": password,
            "key": key,
        }

    def http_settings(self, raw: Mapping[str, Any], at: str) -> dict[str, Any]:
        url = self.string(raw, "url", at, None)
        if url is None:
            raise self.fail(f"{at}.url", "required for kind http")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.fail(f"{at}.url", f"must be an http(s) URL, got {url!r}")
        method = self.string(raw, "method", at, "GET").upper()
        if method not in _HTTP_METHODS:
            raise self.fail(
                f"{at}.method", f"must be one of {', '.join(sorted(_HTTP_METHODS))}, got {method!r}"
            )
        expected = raw.get("expected_status", [])
        if not isinstance(expected, list) or not all(
            isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599
            for code in expected
        ):
            raise self.fail(
                f"{at}.expected_status",
                f"must be a list of HTTP status codes 100-599, got {expected!r}",
            )
        headers = dict(self.string_map(raw, "headers", at))
        for header, variable in self.string_map(raw, "headers_from_env", at).items():
            if variable not in self.environ:
                raise self.fail(
                    f"{at}.headers_from_env.{header}", f"environment variable {variable} is not set"
                )
            headers[header] = self.environ[variable]
        # The target is shown in /health and logs: drop credentials and query strings,
        # where API keys tend to hide.
        target = urlunsplit(
            (parts.scheme, _host_port(parts.hostname, parts.port), parts.path, "", "")
        )
        return {
            "target": target,
            "method": method,
            "expected_status": tuple(expected),
            "headers": headers,
            "url": url,
        }

    def discord_settings(self, raw: Mapping[str, Any], at: str) -> dict[str, Any]:
        base_url = self.string(raw, "base_url", at, DISCORD_API).rstrip("/")
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise self.fail(f"{at}.base_url", f"must be an http(s) URL, got {base_url!r}")
        token = self.string(raw, "token", at, None)
        return {"target": base_url, "token": token or None}

    def host_settings(self, raw: Mapping[str, Any], at: str) -> dict[str, Any]:
        path = self.string(raw, "path", at, "/")
        warn = self.ratio(raw, "warn_ratio", at, RESOURCE_WARN_RATIO)
        fail = self.ratio(raw, "fail_ratio", at, RESOURCE_FAIL_RATIO)
        if warn >= fail:
            raise self.fail(
                f"{at}.warn_ratio", f"must be below fail_ratio ({fail:g}), got {warn:g}"
            )
        return {"target": path, "warn_ratio": warn, "fail_ratio": fail}

    # --- environment -----------------------------------------------------------------

    def env_overrides(self, kind: str) -> dict[str, Any]:
        """DBSBM's variables as if written in the file (they win over it)."""
        env = self.environ
        out: dict[str, Any] = {}
        if kind == "mysql":
            names = {
                "MYSQL_HOST": "host",
                "MYSQL_USER": "user",
                "MYSQL_PASSWORD": "password",
                "MYSQL_DB": "database",
            }
            out = {key: env[var] for var, key in names.items() if var in env}
            if "MYSQL_PORT" in env:
                out["port"] = self.env_port("MYSQL_PORT")
        elif kind == "redis":
            if "REDIS_URL" in env:
                # Checked here so a bad port or db is blamed on REDIS_URL, not on the file.
                _parse_redis_url(
                    env["REDIS_URL"], lambda message: self.env_fail("REDIS_URL", message)
                )
                out["url"] = env["REDIS_URL"]
            names = {
                "REDIS_HOST": "host",
                "REDIS_USERNAME": "username",
                "REDIS_PASSWORD": "password",
            }
            out.update({key: env[var] for var, key in names.items() if var in env})
            if "REDIS_PORT" in env:
                out["port"] = self.env_port("REDIS_PORT")
            if "REDIS_DB" in env:
                db = _decimal(env["REDIS_DB"])
                if db is None:
                    raise self.env_fail("REDIS_DB", f"must be a number, got {env['REDIS_DB']!r}")
                out["db"] = db
        elif kind == "discord" and env.get("DISCORD_TOKEN"):
            out["token"] = env["DISCORD_TOKEN"]
        return out

    def env_port(self, name: str) -> int:
        value = self.environ[name]
        port = _decimal(value)
        if port is None or not 1 <= port <= 65535:
            raise self.env_fail(name, f"must be a port number 1-65535, got {value!r}")
        return port

    # --- value readers ------------------------------------------------------------------

    def positive(self, raw: Mapping[str, Any], key: str, at: str, default: float | None) -> Any:
        value = raw.get(key, default)
        if value is None:
            return None
        # The range also rejects .inf (an interval after which the probe would never run
        # again), .nan (false in every comparison) and integers too large for float().
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 < value <= sys.float_info.max
        ):
            raise self.fail(f"{at}.{key}", f"must be a positive number, got {_describe(value)}")
        return float(value)

    def ratio(self, raw: Mapping[str, Any], key: str, at: str, default: float) -> float:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise self.fail(
                f"{at}.{key}", f"must be a ratio between 0 and 1, got {_describe(value)}"
            )
        return float(value)

    def integer(self, raw: Mapping[str, Any], key: str, at: str, default: int, minimum: int) -> int:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(
                f"{at}.{key}", f"must be an integer >= {minimum}, got {_describe(value)}"
            )
        return value

    def port(self, raw: Mapping[str, Any], key: str, at: str, default: int) -> int:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            raise self.fail(f"{at}.{key}", f"must be a port number 1-65535, got {_describe(value)}")
        return value

    def string(self, raw: Mapping[str, Any], key: str, at: str, default: Any) -> Any:
        value = raw.get(key, default)
        if value is not None and not isinstance(value, str):
            raise self.fail(f"{at}.{key}", f"must be a string, got {_describe(value)}")
        return value

    def string_map(self, raw: Mapping[str, Any], key: str, at: str) -> dict[str, str]:
        value = raw.get(key, {})
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self.fail(f"{at}.{key}", f"must map names to strings, got {_describe(value)}")
        return value

    def order(self, probes: Mapping[str, ProbeConfig]) -> tuple[str, ...]:
        """Dependencies first (depth-first topological sort); a cycle is an error."""
        done: list[str] = []
        visiting: list[str] = []

        def visit(name: str) -> None:
            if name in done:
                return
            if name in visiting:
                cycle = " -> ".join([*visiting[visiting.index(name) :], name])
                raise self.fail(
                    f"probes.{visiting[visiting.index(name)]}.depends_on",
                    f"dependency cycle {cycle}",
                )
            visiting.append(name)
            for dependency in probes[name].depends_on:
                visit(dependency)
            visiting.pop()
            done.append(name)

        for name in probes:
            visit(name)
        return tuple(done)


def parse_listen(value: Any, fail: Any) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) as a (host, port) pair."""
    match = re.fullmatch(r"\[?([^\[\]]*?)\]?:(\d{1,5})", value) if isinstance(value, str) else None
    if match is None or not match.group(1) or not 1 <= int(match.group(2)) <= 65535:
        raise fail(f"must be HOST:PORT, got {_describe(value)}")
    return match.group(1), int(match.group(2))


def _parse_redis_url(
    url: str,
    fail: Callable[[str], Exception],
) -> tuple[str, int, int, str | None, str | None]:
    """``redis://[USER:PASSWORD@]HOST[:PORT][/DB]`` as (host, port, db, user, password)."""
    parts = urlsplit(url)
    try:
        port = 6379 if parts.port is None else parts.port
    except ValueError:  # the port is not a number 0-65535
        port = 0
    db = _decimal(parts.path.strip("/") or "0")
    if parts.scheme != "redis" or not parts.hostname or port == 0 or db is None:
        raise fail("must be a redis://HOST:PORT/DB URL")
    return (
        parts.hostname,
        port,
        db,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


def _decimal(text: str) -> int | None:
    """ASCII digits as an int, else None: ``str.isdigit`` also accepts '²', which int() refuses."""
    return int(text) if text.isascii() and text.isdigit() else None


def _host_port(host: str, port: int | None) -> str:
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


def _describe(value: Any) -> str:
    """A value as it reads in the YAML file (``-1``, ``'abc'``, ``a list``)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else "-.inf" if value < 0 else ".inf"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return repr(value)
    return f"a {type(value).__name__.replace('dict', 'mapping')}"
