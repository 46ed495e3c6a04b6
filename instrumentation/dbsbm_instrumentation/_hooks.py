"""The one hook runner our instrumentors share (contrib's ``_execute_hook`` pattern)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

_logger = logging.getLogger(__name__)


def run_hook(hook: Callable[..., None] | None, *args: Any) -> None:
    """Run a user hook; a failing hook is logged at WARNING, never breaks the traced call."""
    if hook is None:
        return
    try:
        hook(*args)
    except Exception:
        _logger.warning("Exception raised by hook %r", hook, exc_info=True)
