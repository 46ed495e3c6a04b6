"""What our instrumentors share: the hook runner and the paired wrap/unwrap of targets."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import wrapt
from opentelemetry.instrumentation.utils import unwrap

_logger = logging.getLogger(__name__)

# ("module", "Class.method") pairs, as opentelemetry-python-contrib's instrumentors list them.
Targets = Iterable[tuple[str, str]]


def run_hook(hook: Callable[..., None] | None, *args: Any) -> None:
    """Run a user hook; a failing hook is logged at WARNING, never breaks the traced call."""
    if hook is None:
        return
    try:
        hook(*args)
    except Exception:
        _logger.warning("Exception raised by hook %r", hook, exc_info=True)


def wrap_targets(targets: Targets, wrappers: Mapping[str, Callable[..., Any]]) -> None:
    """Wrap each ``module.Class.method`` with ``wrappers["Class.method"]``."""
    for module, name in targets:
        wrapt.wrap_function_wrapper(module, name, wrappers[name])


def unwrap_targets(targets: Targets) -> None:
    """Undo :func:`wrap_targets` on the same targets."""
    for module, name in targets:
        cls, method = name.split(".")
        unwrap(f"{module}.{cls}", method)
