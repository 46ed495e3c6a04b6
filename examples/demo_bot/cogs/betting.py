"""Betting commands: ``/bet``, ``/odds`` and ``/schedule`` (slash commands)."""

from __future__ import annotations

import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from examples.demo_bot.bot import DemoBot

log = logging.getLogger("dbsbm.demo.betting")

# Reads cached under the ``database`` prefix; start-up warms them with the same statements.
GAME_QUERY = "SELECT game_id, home_team, away_team, status FROM games WHERE game_id = %s"
SCHEDULE_QUERY = (
    "SELECT game_id, home_team, away_team, start_time FROM games "
    "WHERE league_id = %s AND status = %s ORDER BY start_time"
)
SCHEDULED = "NS"  # API-Sports' "not started"


class Betting(commands.Cog):
    def __init__(self, bot: DemoBot) -> None:
        self.bot = bot

    async def _ensure_user(self, user: discord.abc.User) -> None:
        """Register a bettor once; the ``user`` prefix remembers who is registered."""
        if await self.bot.cache.get("user", f"registered:{user.id}"):
            return
        await self.register(user.id, user.name)

    async def register(self, user_id: int, name: str) -> None:
        """Add a bettor and remember it in the cache (also how start-up warms it)."""
        await self.bot.db.execute(
            "INSERT INTO users (user_id, username) VALUES (%s, %s) "
            "ON DUPLICATE KEY UPDATE username = VALUES(username)",
            user_id,
            name,
        )
        await self.bot.cache.set("user", f"registered:{user_id}", True)

    @app_commands.command(name="bet", description="Bet on a game")
    async def bet(
        self,
        interaction: discord.Interaction,
        game: int,
        pick: Literal["Home", "Draw", "Away"],
        amount: float,
    ) -> None:
        await self.bot.maybe_fail("bet")
        found = await self.bot.db.fetch_one(GAME_QUERY, game)
        if found is None:
            self.bot.reply("bet", f"No game {game}.")
            return
        await self._ensure_user(interaction.user)
        odds = await self.bot.api.odds(game)
        values = odds["bookmakers"][0]["bets"][0]["values"]
        price = float(next(v["odd"] for v in values if v["value"] == pick))
        _, bet_id = await self.bot.db.execute(
            "INSERT INTO bets (user_id, guild_id, game_id, pick, amount, odds) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            interaction.user.id,
            interaction.guild_id,
            game,
            pick,
            amount,
            price,
        )
        await self.bot.db.execute(
            "UPDATE users SET balance = balance - %s WHERE user_id = %s",
            amount,
            interaction.user.id,
        )
        log.info(
            "bet placed",
            extra={
                "bet_id": bet_id,
                "game_id": game,
                "pick": pick,
                "amount": amount,
                "odds": price,
            },
        )
        self.bot.reply(
            "bet",
            f"Bet #{bet_id}: {amount:.2f} on {pick} "
            f"({found['home_team']} v {found['away_team']}) at {price}.",
        )

    @app_commands.command(name="odds", description="Odds for a league's next games")
    async def odds(self, interaction: discord.Interaction, league: int) -> None:
        await self.bot.maybe_fail("odds")
        fixtures = await self.bot.api.fixtures(league)
        lines = []
        for fixture in fixtures[:2]:
            odds = await self.bot.api.odds(fixture["fixture"]["id"])
            values = odds["bookmakers"][0]["bets"][0]["values"]
            teams = fixture["teams"]
            lines.append(
                f"{teams['home']['name']} v {teams['away']['name']}: "
                + " / ".join(v["odd"] for v in values)
            )
        self.bot.reply("odds", "\n".join(lines) or "No games.")

    @app_commands.command(name="schedule", description="A league's upcoming games")
    async def schedule(self, interaction: discord.Interaction, league: int) -> None:
        await self.bot.maybe_fail("schedule")
        games = await self.bot.db.fetch_all(SCHEDULE_QUERY, league, SCHEDULED)
        self.bot.reply(
            "schedule",
            "\n".join(
                f"#{g['game_id']} {g['start_time']}: {g['home_team']} v {g['away_team']}"
                for g in games
            )
            or "No games scheduled.",
        )


async def setup(bot: DemoBot) -> None:
    await bot.add_cog(Betting(bot))
