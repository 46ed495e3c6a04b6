"""Zero-code set-up: ``opentelemetry-instrument python bot.py`` with no change to the bot.

``opentelemetry-instrument`` runs ``sitecustomize``, which loads one distro (entry-point
group ``opentelemetry_distro``), one configurator (``opentelemetry_configurator``), then
every ``opentelemetry_instrumentor`` not in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``.
Ours are declared in pyproject as ``dbsbm``:

* :class:`DbsbmDistro` checks the ``OTEL_*`` variables the SDK reads before anything
  imports the SDK (:func:`dbsbm_instrumentation.bootstrap.check_settings`), and makes
  sure our configurator is the one chosen when another package (opentelemetry-distro)
  also declares one: it sets ``OTEL_PYTHON_CONFIGURATOR=dbsbm`` unless the user chose. It
  cannot choose itself among several distros (the first entry point wins unless
  ``OTEL_PYTHON_DISTRO`` is set), so deployments set ``OTEL_PYTHON_DISTRO=dbsbm`` too
  (docs/, docker-compose).
* ``DbsbmConfigurator`` (:class:`dbsbm_instrumentation.configurator.DbsbmConfigurator`,
  named here for the entry point) runs :func:`~dbsbm_instrumentation.bootstrap.configure_telemetry`,
  so the zero-code path gets exactly what a manual call gets. It is imported when
  first asked for: it subclasses the SDK's configurator, and importing the SDK reads
  (and fails on) some of the variables the distro checks first.
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

from __future__ import annotations

import logging
import os
from typing import Any

from opentelemetry.instrumentation._semconv import OTEL_SEMCONV_STABILITY_OPT_IN
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]  # *
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_CONFIGURATOR

from dbsbm_instrumentation.aiohttp_client.util import strip_query
from dbsbm_instrumentation.bootstrap import check_settings

ENTRY_POINT_NAME = "dbsbm"
# Upstream instrumentors whose job configure_telemetry does (differently, see above).
REPLACED_INSTRUMENTORS = ("logging", "system_metrics")
AIOHTTP_CLIENT = "aiohttp-client"  # contrib's entry-point name

_logger = logging.getLogger(__name__)


# * Upstream's distro module opens with a file-wide ``# type: ignore``, so to mypy it is
# empty and BaseDistro is Any.
class DbsbmDistro(BaseDistro):  # type: ignore[misc]  # see * above
    """Checks the SDK's variables, selects our configurator, and keeps upstream
    logging/system-metrics out of the way."""

    def _configure(self, **kwargs: Any) -> None:
        check_settings()
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


def __getattr__(name: str) -> Any:
    # DbsbmConfigurator on first use, after DbsbmDistro.configure() (see the module doc).
    if name == "DbsbmConfigurator":
        from dbsbm_instrumentation.configurator import DbsbmConfigurator

        return DbsbmConfigurator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
