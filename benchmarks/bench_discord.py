"""A prefix command dispatched offline through discord.py: bare vs. instrumented.

The message goes through ``parse_message_create`` -> ``on_message`` -> ``process_commands``
-> the command, as from the gateway. Run: ``python benchmarks/bench_discord.py``.
"""

from __future__ import annotations

import asyncio

import discord
from _otel import compare, providers, report
from discord.ext import commands

from dbsbm_instrumentation.discord import DiscordInstrumentor
from dbsbm_instrumentation.discord.testing import (
    dispatch_message,
    dispatch_slash,
    offline,
)


async def main() -> None:
    tracer_provider, meter_provider = providers()
    instrumentor = DiscordInstrumentor()
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default())

    @bot.command()
    async def stats(ctx: commands.Context[commands.Bot]) -> None:
        return None

    @bot.tree.command(description="odds")
    async def odds(interaction: discord.Interaction, league: str) -> None:
        return None

    await offline(bot)
    try:
        for name, op in (
            (
                "discord prefix command !stats (event + command spans)",
                lambda: dispatch_message(bot, "!stats"),
            ),
            ("discord slash command /odds", lambda: dispatch_slash(bot, "odds", {"league": "nfl"})),
        ):
            bare, ours = await compare(
                op,
                lambda: instrumentor.instrument(
                    tracer_provider=tracer_provider, meter_provider=meter_provider
                ),
                instrumentor.uninstrument,
                n=300,
                rounds=15,
            )
            report(name, bare, ours)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
