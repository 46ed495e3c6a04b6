"""Hook signatures accepted by :class:`DiscordInstrumentor`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.trace import Span

# request_hook(span, source): runs when a command's span starts; ``source`` is the
# ``commands.Context`` of a prefix command or the ``discord.Interaction`` of a slash command.
RequestHook = Callable[[Span, Any], None]
