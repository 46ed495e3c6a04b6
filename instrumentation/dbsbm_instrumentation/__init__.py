"""OpenTelemetry instrumentation and resilience for DBSBM and other discord.py bots."""

from dbsbm_instrumentation.version import __version__

__all__ = ["__version__"]
