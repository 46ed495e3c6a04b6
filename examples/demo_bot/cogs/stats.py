"""Prefix commands: ``!stats [user_id]`` and ``!leaderboard``."""

from __future__ import annotations

from typing import Any

from discord.ext import commands

from examples.demo_bot.bot import DemoBot
from examples.demo_bot.ttl import LEADERBOARD_TTL, STATS_TTL, spread


class Stats(commands.Cog):
    def __init__(self, bot: DemoBot) -> None:
        self.bot = bot

    # Aggregates are cached under the ``stats`` prefix with a short TTL, not under
    # ``database``: every bet would invalidate them there, and a minute-old total is fine.

    @commands.command(name="stats")
    async def stats(self, ctx: commands.Context[Any], user_id: int | None = None) -> None:
        await self.bot.maybe_fail("stats")
        target = user_id or ctx.author.id
        row = await self.bot.cache.get("stats", f"user:{target}")
        if row is None:
            row = await self.load_stats(target)
        messages = await self.bot.cache.get("user", f"activity:{target}") or 0
        self.bot.reply(
            "stats",
            f"{target}: {row['bets']} bets, {row['staked']:.2f} staked, {messages} messages.",
        )

    @commands.command(name="leaderboard")
    async def leaderboard(self, ctx: commands.Context[Any]) -> None:
        await self.bot.maybe_fail("leaderboard")
        rows = await self.bot.cache.get("stats", "leaderboard")
        if rows is None:
            rows = await self.load_leaderboard()
        self.bot.reply(
            "leaderboard",
            "\n".join(f"{i}. {r['username']} {r['balance']:.2f}" for i, r in enumerate(rows, 1)),
        )

    async def load_stats(self, user_id: int) -> dict[str, Any]:
        """A user's bet totals from the database, cached (also how start-up warms them)."""
        row = await self.bot.db.fetch_one(
            "SELECT COUNT(*) AS bets, COALESCE(SUM(amount), 0) AS staked "
            "FROM bets WHERE user_id = %s",
            user_id,
            cache=False,
        )
        assert row is not None  # an aggregate always returns one row
        await self.bot.cache.set("stats", f"user:{user_id}", row, ttl=spread(STATS_TTL))
        return row

    async def load_leaderboard(self) -> list[dict[str, Any]]:
        rows = await self.bot.db.fetch_all(
            "SELECT username, balance FROM users ORDER BY balance DESC LIMIT %s", 5, cache=False
        )
        await self.bot.cache.set("stats", "leaderboard", rows, ttl=spread(LEADERBOARD_TTL))
        return rows


async def setup(bot: DemoBot) -> None:
    await bot.add_cog(Stats(bot))
