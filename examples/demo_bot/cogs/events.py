"""Event listeners: chat activity counted in the cache (``user`` prefix), no DB write."""

from __future__ import annotations

import discord
from discord.ext import commands

from examples.demo_bot.bot import DemoBot


class Events(commands.Cog):
    def __init__(self, bot: DemoBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.content.startswith("!"):
            return
        key = f"activity:{message.author.id}"
        count = await self.bot.cache.get("user", key) or 0
        await self.bot.cache.set("user", key, count + 1)


async def setup(bot: DemoBot) -> None:
    await bot.add_cog(Events(bot))
