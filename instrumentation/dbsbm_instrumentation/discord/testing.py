"""Drive a discord.py bot's commands offline, through discord.py's own dispatch.

For tests and benchmarks: no gateway, no token, no Discord servers. Payloads shaped
like the gateway's MESSAGE_CREATE and INTERACTION_CREATE go to
``ConnectionState.parse_message_create`` / ``parse_interaction_create``, the functions
the gateway calls, so ``on_message``, prefix commands, the slash-command tree, checks,
converters, error handlers and listeners all run as in production (discord.py 2.7.1).
The awaitable helpers then wait for every task that dispatch started.

Commands driven this way must not await anything that calls Discord's REST API
(``ctx.send``, ``interaction.response.send_message``): there is no HTTP session.

.. code-block:: python

    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default())
    await offline(bot)
    await dispatch_message(bot, "!odds nfl")
    await dispatch_slash(bot, "bet", {"amount": 5}, subcommand="place")
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping
from typing import Any

import discord
from discord.types.user import User as UserPayload

from dbsbm_instrumentation.discord.util import DISCORD_EPOCH_MS

BOT_USER_ID = 100_000_000_000_000_001
USER_ID = 100_000_000_000_000_002
CHANNEL_ID = 100_000_000_000_000_003
APPLICATION_ID = 100_000_000_000_000_004

_sequence = itertools.count()
# Discord's application-command option types.
_OPTION_TYPES = {str: 3, int: 4, bool: 5, float: 10}
_SUB_COMMAND = 1


def snowflake(at: float | None = None) -> int:
    """A unique snowflake created ``at`` (epoch seconds, default now), as Discord makes them."""
    ms = int((time.time() if at is None else at) * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (next(_sequence) & 0xFFF)


def _user(user_id: int, name: str, bot: bool = False) -> UserPayload:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
    }


async def offline(bot: discord.Client, *, application_id: int = APPLICATION_ID) -> discord.Client:
    """Do what ``login`` and the gateway's READY would: bind the running loop, run
    ``setup_hook`` (where bots load cogs) and give the client its user and application id.
    """
    await bot._async_setup_hook()
    await bot.setup_hook()
    state = bot._connection
    state.user = discord.ClientUser(
        state=state,
        data=_user(BOT_USER_ID, "dbsbm-bot", True),
    )
    state.application_id = application_id
    return bot


def message_payload(
    content: str, *, author_id: int = USER_ID, channel_id: int = CHANNEL_ID
) -> dict[str, Any]:
    """A MESSAGE_CREATE payload (a direct message: no guild to cache)."""
    return {
        "id": str(snowflake()),
        "channel_id": str(channel_id),
        "type": 0,
        "content": content,
        "author": _user(author_id, "punter"),
        "timestamp": discord.utils.utcnow().isoformat(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
    }


def interaction_payload(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    subcommand: str | None = None,
    application_id: int = APPLICATION_ID,
    user_id: int = USER_ID,
    channel_id: int = CHANNEL_ID,
    created_at: float | None = None,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload for a slash command; ``options`` by Python type."""
    command_options: list[dict[str, Any]] = [
        {"name": key, "type": _OPTION_TYPES.get(type(value), 3), "value": value}
        for key, value in (options or {}).items()
    ]
    if subcommand is not None:
        command_options = [{"name": subcommand, "type": _SUB_COMMAND, "options": command_options}]
    return {
        "id": str(snowflake(created_at)),
        "application_id": str(application_id),
        "type": 2,
        "token": "offline-interaction-token",
        "version": 1,
        "channel_id": str(channel_id),
        "user": _user(user_id, "punter"),
        "locale": "en-US",
        "app_permissions": "0",
        "attachment_size_limit": 26_214_400,
        "data": {"id": str(snowflake()), "name": name, "type": 1, "options": command_options},
    }


async def dispatch_message(bot: discord.Client, content: str, **kwargs: Any) -> None:
    """Deliver a message as the gateway does and wait for its listeners and commands."""
    before = asyncio.all_tasks()
    payload = message_payload(content, **kwargs)
    bot._connection.parse_message_create(payload)  # type: ignore[arg-type]  # dict, not TypedDict
    await settle(before)


async def dispatch_slash(
    bot: discord.Client, name: str, options: Mapping[str, Any] | None = None, **kwargs: Any
) -> None:
    """Deliver a slash command as the gateway does and wait for the tree to finish it."""
    state = bot._connection
    application_id = state.application_id or APPLICATION_ID
    payload = interaction_payload(name, options, application_id=application_id, **kwargs)
    before = asyncio.all_tasks()
    state.parse_interaction_create(payload)  # type: ignore[arg-type]  # dict, not TypedDict
    await settle(before)


async def settle(before: set[asyncio.Task[Any]]) -> None:
    """Wait for the tasks started since ``before``, and for the tasks those start."""
    current = asyncio.current_task()
    while True:
        pending = {
            task for task in asyncio.all_tasks() - before if task is not current and not task.done()
        }
        if not pending:
            return
        await asyncio.wait(pending)
