"""Shared fixtures: real services from tests/services.py, torn down after use.

Session-scoped servers serve tests that only read and write; tests that stop, kill or
pause a server take a private one from the ``*_factory`` fixtures.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import services


def _factory(start: Callable[..., object], name: str) -> Iterator[Callable[..., object]]:
    started: list[object] = []
    dirs: list[Path] = []

    def make(*args: object, **kwargs: object) -> object:
        workdir = services.service_dir(name)
        dirs.append(workdir)
        service = start(workdir, *args, **kwargs)
        started.append(service)
        return service

    yield make
    for service in reversed(started):
        service.close()  # type: ignore[attr-defined]
    for workdir in dirs:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_factory() -> Iterator[Callable[..., services.RedisService]]:
    yield from _factory(services.start_redis, "redis")  # type: ignore[misc]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[services.RedisService]:
    for make in _factory(services.start_redis, "redis"):
        yield make()  # type: ignore[misc]


@pytest.fixture
def mysql_factory() -> Iterator[Callable[..., services.MySQLService]]:
    yield from _factory(services.start_mysql, "mysql")  # type: ignore[misc]


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[services.MySQLService]:
    for make in _factory(services.start_mysql, "mysql"):
        yield make()  # type: ignore[misc]


@pytest.fixture
def prometheus_factory() -> Iterator[Callable[..., services.PrometheusService]]:
    yield from _factory(services.start_prometheus, "prometheus")  # type: ignore[misc]


@pytest.fixture
def collector_factory() -> Iterator[Callable[..., services.CollectorService]]:
    yield from _factory(services.start_collector, "otelcol")  # type: ignore[misc]
