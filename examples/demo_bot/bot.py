"""The bot: a discord.py ``commands.Bot`` whose cogs are loaded as extensions, like DBSBM's."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from examples.demo_bot.database import DatabaseManager
from examples.demo_bot.faults import Faults, InjectedCommandError
from examples.demo_bot.sports_api import SportsAPIClient

log = logging.getLogger("dbsbm.demo.bot")

EXTENSIONS = (
    "examples.demo_bot.cogs.betting",
    "examples.demo_bot.cogs.stats",
    "examples.demo_bot.cogs.events",
)


@dataclass
class ReplySink:
    """Where replies go instead of Discord's REST API (the demo never connects to Discord)."""

    recent: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=50))
    counts: Counter[str] = field(default_factory=Counter)

    def deliver(self, command: str, text: str) -> None:
        self.recent.append((command, text))
        self.counts[command] += 1


class DemoBot(commands.Bot):
    """DBSBM-shaped bot: services hang off the bot object and cogs reach them there."""

    def __init__(
        self,
        *,
        db: DatabaseManager,
        cache: Any,
        api: SportsAPIClient,
        faults: Faults,
        sink: ReplySink,
    ) -> None:
        # The demo never joins voice: skip discord.py's warnings about voice libraries.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(command_prefix="!", intents=intents, help_command=None)
        self.db = db
        self.cache = cache
        self.api = api
        self.faults = faults
        self.sink = sink
        self.tree.error(self._on_app_command_error)

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)

    def reply(self, command: str, text: str) -> None:
        """Send a command's answer (to the sink: awaiting Discord's REST API would hang)."""
        self.sink.deliver(command, text)

    async def maybe_fail(self, command: str) -> None:
        """Where a command meets the injected faults: a stall, then maybe a failure."""
        if self.faults.command_stall:
            await asyncio.sleep(self.faults.command_stall)
        if self.faults.roll(self.faults.command_error_rate):
            raise InjectedCommandError(f"injected failure in {command}")

    async def on_command_error(
        self, context: commands.Context[Any], exception: commands.CommandError
    ) -> None:
        error = getattr(exception, "original", exception)
        name = context.command.qualified_name if context.command else "unknown"
        log.error(
            "prefix command %s failed: %s",
            name,
            error,
            exc_info=(type(error), error, error.__traceback__),
        )
        self.reply(name, "Something went wrong.")

    async def _on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original = getattr(error, "original", error)
        name = interaction.command.qualified_name if interaction.command else "unknown"
        log.error(
            "slash command /%s failed: %s",
            name,
            original,
            exc_info=(type(original), original, original.__traceback__),
        )
        self.reply(name, "Something went wrong.")
