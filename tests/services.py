"""The dev stack (``devstack/``) as tests use it: the same services, pytest's reporting.

A missing program or engine fails the test with a message saying what to install when
``CI`` is set, and skips it with that message otherwise: it never passes silently.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

import pytest

from devstack import collector, mysql, process, prometheus, redis
from devstack.collector import SINK_CONFIG, CollectorService
from devstack.containers import compose_image, docker_available
from devstack.mysql import MySQLService
from devstack.process import (
    LOOPBACK,
    REPO,
    Missing,
    free_port,
    http_ok,
    port_open,
    service_dir,
    wait_for,
)
from devstack.prometheus import PROMETHEUS_FLAGS, PrometheusService
from devstack.redis import RedisService

__all__ = [
    "LOCALHOST",
    "PROMETHEUS_FLAGS",
    "REPO",
    "SINK_CONFIG",
    "CollectorService",
    "MySQLService",
    "PrometheusService",
    "RedisService",
    "collector_binary",
    "compose_image",
    "docker_available",
    "free_port",
    "http_ok",
    "missing",
    "port_open",
    "require_binary",
    "service_dir",
    "start_collector",
    "start_mysql",
    "start_prometheus",
    "start_redis",
    "start_sink",
    "wait_for",
]

LOCALHOST = LOOPBACK

P = ParamSpec("P")
R = TypeVar("R")


def missing(message: str) -> NoReturn:
    """Fail under CI, skip elsewhere, with the message saying what to install."""
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _reported(start: Callable[P, R]) -> Callable[P, R]:
    """``start``, with :class:`devstack.process.Missing` reported through :func:`missing`."""

    @functools.wraps(start)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return start(*args, **kwargs)
        except Missing as exc:
            missing(str(exc))

    return wrapper


require_binary = _reported(process.require_binary)
collector_binary = _reported(collector.collector_binary)
start_redis = _reported(redis.start_redis)
start_mysql = _reported(mysql.start_mysql)
start_prometheus = _reported(prometheus.start_prometheus)
start_collector = _reported(collector.start_collector)
start_sink = _reported(collector.start_sink)
