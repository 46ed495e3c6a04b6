"""The agent's configuration: one YAML file, then DBSBM's environment variables.

Like blackbox_exporter's ``config.go``: defaults are applied first, then every value is
validated as it is read, unknown keys are rejected, and each problem is reported as one
exact line naming the file and the key::

    config error: agent.yaml: probes.redis.timeout: must be a positive number, got -1

The keys every probe takes are read here; the rest belong to the probe's kind, whose
module under :mod:`dbsbm_agent.probers` declares them as a typed settings dataclass.
Environment variables override the file with the names the bot already uses
(``MYSQL_*``, ``REDIS_URL`` or ``REDIS_*``, ``DISCORD_TOKEN``), so the agent reads the
same ``.env`` as the bot; they apply to every probe of that kind. Secrets are kept out
of ``repr`` so a logged config never shows them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable, Mapping, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .probers import KINDS as _KINDS
from .probers.base import (
    DEFAULT_TIMEOUT_SECONDS,
    Invalid,
    InvalidSetting,
    ProbeConfig,
    describe,
    positive,
)
from .probers.host import RESOURCE_FAIL_RATIO, RESOURCE_WARN_RATIO

KINDS = tuple(_KINDS)
DEFAULT_LISTEN = "127.0.0.1:9464"

_COMMON_KEYS = {"kind", "interval", "timeout", "depends_on", "required"}
# Each kind's defaults, under the names the mixin and the docs read.
PROBE_INTERVAL_SECONDS = {name: kind.interval for name, kind in _KINDS.items()}
PROBE_TIMEOUT_SECONDS = DEFAULT_TIMEOUT_SECONDS
__all__ = [
    "KINDS",
    "PROBE_INTERVAL_SECONDS",
    "PROBE_TIMEOUT_SECONDS",
    "RESOURCE_FAIL_RATIO",
    "RESOURCE_WARN_RATIO",
    "AgentConfig",
    "ConfigError",
    "ProbeConfig",
    "load_config",
    "parse_listen",
]
# Probe names become the ``component`` of /health's ``component:measurement`` keys and
# a metric attribute, so a ':' (or a space) in one would make those keys ambiguous.
_PROBE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class ConfigError(Exception):
    """A configuration problem; ``str()`` is the one line shown to the operator."""


@dataclass(frozen=True)
class AgentConfig:
    """The whole file; ``order`` lists probes so that dependencies come first."""

    source: str
    listen: str
    probes: Mapping[str, ProbeConfig[Any]]
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

    def parse(self, document: Any) -> AgentConfig:
        if not isinstance(document, dict):
            raise ConfigError(
                f"config error: {self.source}: must be a mapping with a 'probes' key, "
                f"got {describe(document)}"
            )
        self.reject_unknown(document, {"listen", "probes"}, "")
        listen = document.get("listen", DEFAULT_LISTEN)
        parse_listen(listen, lambda message: self.fail("listen", message))
        raw_probes = document.get("probes")
        if not isinstance(raw_probes, dict):
            raise self.fail(
                "probes", f"must map probe names to settings, got {describe(raw_probes)}"
            )
        if not raw_probes:
            raise self.fail("probes", "must name at least one probe")
        for name in raw_probes:
            if not _PROBE_NAME.fullmatch(str(name)):
                raise self.fail(
                    "probes",
                    f"probe name {describe(str(name))} may only use letters, digits, "
                    "'_', '.' and '-'",
                )
        probes = {str(name): self.probe(str(name), raw) for name, raw in raw_probes.items()}
        for probe in probes.values():
            for dependency in probe.depends_on:
                if dependency not in probes:
                    raise self.fail(
                        f"probes.{probe.name}.depends_on", f"unknown probe {describe(dependency)}"
                    )
        return AgentConfig(self.source, listen, probes, self.order(probes))

    def reject_unknown(
        self, raw: Mapping[Any, Any], allowed: Set[str], prefix: str, kind: str | None = None
    ) -> None:
        for key in raw:
            if key not in allowed:
                raise self.fail(
                    f"{prefix}{_key(key)}",
                    f"unknown key for a {kind} probe" if kind else "unknown key",
                )

    def probe(self, name: str, raw: Any) -> ProbeConfig[Any]:
        at = f"probes.{name}"
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise self.fail(at, f"must be a mapping, got {describe(raw)}")
        kind_name = raw.get("kind", name if name in _KINDS else None)
        if kind_name is None:
            raise self.fail(f"{at}.kind", f"required (the name {name!r} is not a probe kind)")
        kind = _KINDS.get(kind_name) if isinstance(kind_name, str) else None
        if kind is None:
            raise self.fail(
                f"{at}.kind",
                f"unknown probe kind {describe(kind_name)} (known: {', '.join(KINDS)})",
            )
        self.reject_unknown(raw, _COMMON_KEYS | kind.keys(), f"{at}.", kind.name)
        try:
            raw = {**raw, **kind.env(self.environ)}
        except InvalidSetting as exc:
            raise ConfigError(f"config error: environment: {exc}") from None
        interval = self.number(raw, "interval", at, kind.interval)
        # A short interval shortens the default timeout rather than failing validation.
        timeout = self.number(raw, "timeout", at, min(kind.timeout, interval))
        if timeout > interval:
            raise self.fail(
                f"{at}.timeout", f"must not exceed the interval ({interval:g}), got {timeout:g}"
            )
        depends_on = raw.get("depends_on", [])
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            raise self.fail(
                f"{at}.depends_on", f"must be a list of probe names, got {describe(depends_on)}"
            )
        if name in depends_on:
            raise self.fail(f"{at}.depends_on", "a probe cannot depend on itself")
        required = raw.get("required", kind.required)
        if not isinstance(required, bool):
            raise self.fail(f"{at}.required", f"must be true or false, got {describe(required)}")
        settings_raw = {key: value for key, value in raw.items() if key not in _COMMON_KEYS}
        try:
            settings = kind.decode(settings_raw, self.environ)
        except InvalidSetting as exc:
            raise self.fail(f"{at}.{exc.key}", exc.message) from None
        return ProbeConfig(
            name=name,
            kind=kind.name,
            target=kind.target(settings),
            interval=interval,
            timeout=timeout,
            settings=settings,
            depends_on=tuple(depends_on),
            required=required,
        )

    def number(self, raw: Mapping[str, Any], key: str, at: str, default: float) -> float:
        if key not in raw:
            return default
        try:
            return positive(raw[key])
        except Invalid as exc:
            raise self.fail(f"{at}.{key}", str(exc)) from None

    def order(self, probes: Mapping[str, ProbeConfig[Any]]) -> tuple[str, ...]:
        """Dependencies first (depth-first topological sort); a cycle is an error."""
        done: dict[str, None] = {}
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
            done[name] = None

        for name in probes:
            visit(name)
        return tuple(done)


def parse_listen(value: Any, fail: Any) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) as a (host, port) pair."""
    match = re.fullmatch(r"\[?([^\[\]]*?)\]?:(\d{1,5})", value) if isinstance(value, str) else None
    if match is None or not match.group(1) or not 1 <= int(match.group(2)) <= 65535:
        raise fail(f"must be HOST:PORT, got {describe(value)}")
    return match.group(1), int(match.group(2))


def _key(key: Any) -> str:
    """A key as it can appear in a one-line message: odd ones quoted and shortened."""
    text = str(key)
    return text if _PROBE_NAME.fullmatch(text) and len(text) <= 80 else describe(text)
