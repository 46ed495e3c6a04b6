"""Traffic without Discord: gateway payloads fed to discord.py's own parsers.

``ConnectionState.parse_message_create`` and ``parse_interaction_create`` are what the
gateway calls for MESSAGE_CREATE and INTERACTION_CREATE, so prefix commands, listeners and
the slash-command tree run exactly as they would online. The bot needs a ``ClientUser``
and an application id; nothing here talks to Discord's servers.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import discord

from examples.demo_bot.bot import DemoBot
from examples.demo_bot.sports_api import LEAGUES, fixtures_for

log = logging.getLogger("dbsbm.demo.traffic")

APPLICATION_ID = 1_100_000_000_000_000_001
BOT_USER_ID = 1_100_000_000_000_000_002
GUILD_IDS = (1_200_000_000_000_000_001, 1_200_000_000_000_000_002, 1_200_000_000_000_000_003)
CHANNEL_ID = 1_300_000_000_000_000_001
USER_IDS = tuple(1_400_000_000_000_000_000 + i for i in range(1, 21))
CHAT = ("anyone watching tonight?", "that ref though", "gl all", "odds look soft", "gg")

# Option types of Discord's application-command payloads.
_INTEGER, _STRING, _NUMBER = 4, 3, 10


def username(user_id: int) -> str:
    return f"punter{user_id % 100}"


def _user(user_id: int) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": username(user_id),
        "discriminator": "0",
        "avatar": None,
        "global_name": None,
    }


def _member(user_id: int | None = None) -> dict[str, Any]:
    member: dict[str, Any] = {
        "roles": [],
        "joined_at": "2026-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": "0",
    }
    if user_id is not None:
        member["user"] = _user(user_id)
    return member


class TrafficGenerator:
    """Sends a weighted mix of commands and chat at ``rate`` per second."""

    def __init__(self, bot: DemoBot, rate: float, rng: random.Random | None = None) -> None:
        self.bot = bot
        self.rate = rate
        self.rng = rng or random.Random()
        self.sent = 0
        self._ids = itertools.count()
        self._game_ids = [f["fixture"]["id"] for league in LEAGUES for f in fixtures_for(league)]
        self._mix: list[tuple[Callable[[], None], int]] = [
            (self.slash_odds, 30),
            (self.slash_schedule, 25),
            (self.prefix_stats, 15),
            (self.chat, 15),
            (self.slash_bet, 8),
            (self.prefix_leaderboard, 7),
        ]

    @staticmethod
    def attach(bot: DemoBot) -> None:
        """Give the connection state what the gateway's READY would: our user and app id."""
        state = bot._connection
        data: Any = {**_user(BOT_USER_ID), "bot": True}
        state.user = discord.ClientUser(state=state, data=data)
        state.application_id = APPLICATION_ID

    def _snowflake(self) -> int:
        return discord.utils.time_snowflake(datetime.now(UTC)) + next(self._ids) % 4096

    def message(self, content: str) -> None:
        user_id = self.rng.choice(USER_IDS)
        now = datetime.now(UTC).isoformat()
        payload: Any = {
            "id": str(self._snowflake()),
            "channel_id": str(CHANNEL_ID),
            "guild_id": str(self.rng.choice(GUILD_IDS)),
            "author": _user(user_id),
            "member": _member(),
            "content": content,
            "timestamp": now,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
        }
        self.bot._connection.parse_message_create(payload)

    def interaction(self, name: str, options: list[dict[str, Any]]) -> None:
        guild_id = self.rng.choice(GUILD_IDS)
        payload: Any = {
            "id": str(self._snowflake()),
            "application_id": str(APPLICATION_ID),
            "type": 2,
            "version": 1,
            "guild_id": str(guild_id),
            "token": "offline-demo",  # dbsbm-audit: ignore[DBSBM-CRED-001] not a secret
            "channel_id": str(CHANNEL_ID),
            "channel": {
                "id": str(CHANNEL_ID),
                "type": 0,
                "guild_id": str(guild_id),
                "name": "betting",
                "position": 0,
            },
            "member": _member(self.rng.choice(USER_IDS)),
            "attachment_size_limit": 8_388_608,
            "locale": "en-US",
            "data": {"id": str(APPLICATION_ID + 1), "name": name, "type": 1, "options": options},
        }
        self.bot._connection.parse_interaction_create(payload)

    def slash_bet(self) -> None:
        self.interaction(
            "bet",
            [
                {"name": "game", "type": _INTEGER, "value": self.rng.choice(self._game_ids)},
                {
                    "name": "pick",
                    "type": _STRING,
                    "value": self.rng.choice(("Home", "Draw", "Away")),
                },
                {"name": "amount", "type": _NUMBER, "value": self.rng.choice((5, 10, 25, 50))},
            ],
        )

    def slash_odds(self) -> None:
        league = self._cold() or self.rng.choice(list(LEAGUES))
        self.interaction("odds", [{"name": "league", "type": _INTEGER, "value": league}])

    def _cold(self) -> int | None:
        """An id nothing has cached yet, when the ``cold_read_rate`` fault says so: traffic
        that busts the cache (a scraper walking ids), so the hit ratio falls."""
        if self.bot.faults.roll(self.bot.faults.cold_read_rate):
            return self.rng.randrange(10**9, 10**12)
        return None

    def slash_schedule(self) -> None:
        league = self._cold() or self.rng.choice(list(LEAGUES))
        self.interaction("schedule", [{"name": "league", "type": _INTEGER, "value": league}])

    def prefix_stats(self) -> None:
        cold = self._cold()
        self.message("!stats" if cold is None else f"!stats {cold}")

    def prefix_leaderboard(self) -> None:
        self.message("!leaderboard")

    def chat(self) -> None:
        self.message(self.rng.choice(CHAT))

    def send_one(self) -> None:
        actions, weights = zip(*self._mix, strict=True)
        self.rng.choices(actions, weights)[0]()
        self.sent += 1

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set; discord.py runs each command in its own task."""
        interval = 1.0 / self.rate
        while not stop.is_set():
            try:
                self.send_one()
            except Exception:  # a payload bug must not end the demo silently
                log.exception("traffic generator could not send an event")
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass
