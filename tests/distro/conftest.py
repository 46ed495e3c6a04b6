"""Fixtures: the stand-in OTLP receiver (tests/bootstrap/support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bootstrap.support import OtlpHttpStandIn


@pytest.fixture
def otlp_stand_in() -> Iterator[OtlpHttpStandIn]:
    receiver = OtlpHttpStandIn()
    yield receiver
    receiver.close()
