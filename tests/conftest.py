"""Shared fixtures: real services from the dev stack (tests/services.py), torn down after use.

Session-scoped servers serve tests that only read and write; tests that stop, kill or
pause a server take a private one from the ``*_factory`` fixtures. Every test that uses
one of them (directly or through another fixture) is marked ``dev_services``: CI runs
those a second time with ``DBSBM_SERVICES=docker``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Concatenate, ParamSpec, Protocol, TypeVar

import pytest

from tests import services

SERVER_FIXTURES = frozenset(
    {"redis_server", "redis_factory", "mysql_server", "mysql_factory", "prometheus_factory"}
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dev_services: uses Redis, MySQL or Prometheus from the dev stack (added by "
        "tests/conftest.py; CI runs these again with DBSBM_SERVICES=docker)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.dev_services)


class _Service(Protocol):
    def close(self) -> None: ...


P = ParamSpec("P")
S = TypeVar("S", bound=_Service)


@contextmanager
def _started(start: Callable[Concatenate[Path, P], S], name: str) -> Iterator[Callable[P, S]]:
    """A maker of services, each in a folder of its own; all closed and removed at exit."""
    started: list[S] = []
    dirs: list[Path] = []

    def make(*args: P.args, **kwargs: P.kwargs) -> S:
        workdir = services.service_dir(name)
        dirs.append(workdir)
        service = start(workdir, *args, **kwargs)
        started.append(service)
        return service

    try:
        yield make
    finally:
        for service in reversed(started):
            service.close()
        for workdir in dirs:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_factory() -> Iterator[Callable[[], services.RedisService]]:
    with _started(services.start_redis, "redis") as make:
        yield make


@pytest.fixture(scope="session")
def redis_server() -> Iterator[services.RedisService]:
    with _started(services.start_redis, "redis") as make:
        yield make()


@pytest.fixture
def mysql_factory() -> Iterator[Callable[[], services.MySQLService]]:
    with _started(services.start_mysql, "mysql") as make:
        yield make


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[services.MySQLService]:
    with _started(services.start_mysql, "mysql") as make:
        yield make()


@pytest.fixture
def prometheus_factory() -> Iterator[Callable[..., services.PrometheusService]]:
    with _started(services.start_prometheus, "prometheus") as make:
        yield make


@pytest.fixture
def collector_factory() -> Iterator[Callable[..., services.CollectorService]]:
    with _started(services.start_collector, "otelcol") as make:
        yield make
