"""Zero-code set-up: ``opentelemetry-instrument python bot.py`` with no change to the bot.

``opentelemetry-instrument`` runs ``sitecustomize``, which loads one distro (entry-point
group ``opentelemetry_distro``), one configurator (``opentelemetry_configurator``), then
every ``opentelemetry_instrumentor`` not in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``.
Ours are declared in pyproject as ``dbsbm``:

* :class:`DbsbmConfigurator` calls :func:`dbsbm_instrumentation.bootstrap.configure_telemetry`,
  so the zero-code path gets exactly what a manual call gets (validated ``OTEL_*``,
  guarded exporters, redaction, bounded exit) instead of the SDK's ``_OTelSDKConfigurator``
  defaults.
* :class:`DbsbmDistro` makes sure that configurator is the one chosen when another
  package (opentelemetry-distro) also declares one: it sets ``OTEL_PYTHON_CONFIGURATOR=dbsbm``
  unless the user chose. It cannot choose itself among several distros (the first entry
  point wins unless ``OTEL_PYTHON_DISTRO`` is set), so deployments set
  ``OTEL_PYTHON_DISTRO=dbsbm`` too (docs/, docker-compose).
* Two upstream instrumentors are replaced, not loaded: ``logging`` (it puts its OTLP
  handler on the root logger before the bot runs ``logging.basicConfig(...)``; ours
  exports without a root handler, see :mod:`dbsbm_instrumentation.logs`) and
  ``system_metrics`` (all ``system.*`` series by default; ours is ``process.*`` only).
  Listing either in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` turns ours off as well.
* The contrib aiohttp client instrumentation runs on the stable HTTP conventions (so
  ``http.client.request.duration`` exists) and gets a URL filter that drops query strings:
  contrib redacts only cloud-signature parameters, and sports APIs take keys in the query
  (WeatherAPI's ``key=``).
"""

# ruff: noqa: I001 - bootstrap first: it quiets SDK warnings emitted at SDK import time.
from __future__ import annotations

from dbsbm_instrumentation.bootstrap import configure_telemetry

import logging
import os
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.instrumentation.environment_variables import (
    OTEL_PYTHON_CONFIGURATOR,
    OTEL_PYTHON_DISABLED_INSTRUMENTATIONS,
)
from opentelemetry.instrumentation._semconv import OTEL_SEMCONV_STABILITY_OPT_IN
from opentelemetry.sdk._configuration import _BaseConfigurator

from dbsbm_instrumentation.aiohttp_client.util import strip_query

ENTRY_POINT_NAME = "dbsbm"
# Upstream instrumentors whose job configure_telemetry does (differently, see above).
REPLACED_INSTRUMENTORS = ("logging", "system_metrics")
AIOHTTP_CLIENT = "aiohttp-client"  # contrib's entry-point name

_logger = logging.getLogger(__name__)


def disabled_instrumentations() -> set[str]:
    """Names in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` (``*`` means all)."""
    raw = os.environ.get(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _enabled(name: str, disabled: set[str]) -> bool:
    return "*" not in disabled and name not in disabled


class DbsbmDistro(BaseDistro):  # type: ignore[misc]
    """Selects our configurator and keeps upstream logging/system-metrics out of the way."""

    def _configure(self, **kwargs: Any) -> None:
        os.environ.setdefault(OTEL_PYTHON_CONFIGURATOR, ENTRY_POINT_NAME)
        os.environ.setdefault(OTEL_SEMCONV_STABILITY_OPT_IN, "http")

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        if entry_point.name in REPLACED_INSTRUMENTORS:
            _logger.debug(
                "%s instrumentation is provided by dbsbm's configurator", entry_point.name
            )
            return
        if entry_point.name == AIOHTTP_CLIENT:
            kwargs.setdefault("url_filter", strip_query)
        super().load_instrumentor(entry_point, **kwargs)


class DbsbmConfigurator(_BaseConfigurator):
    """Runs :func:`configure_telemetry` for ``opentelemetry-instrument``."""

    def _configure(self, **kwargs: Any) -> None:
        disabled = disabled_instrumentations()
        configure_telemetry(
            system_metrics=_enabled("system_metrics", disabled),
            logs=_enabled("logging", disabled),
        )
