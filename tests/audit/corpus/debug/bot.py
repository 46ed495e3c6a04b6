"""The bot's entry point (labelled corpus): asyncio debug mode left on."""

import asyncio
import os

import discord

os.environ["PYTHONASYNCIODEBUG"] = "1"  # expect: DBSBM-DEBUG-001
DEBUG = True


async def main():
    loop = asyncio.get_running_loop()
    loop.set_debug(True)  # expect: DBSBM-DEBUG-001
    client = discord.Client(intents=discord.Intents.default())
    await client.start(os.environ["DISCORD_TOKEN"])


def run():
    asyncio.run(main(), debug=DEBUG)  # expect: DBSBM-DEBUG-001


if __name__ == "__main__":
    os.environ.setdefault("PYTHONASYNCIODEBUG", "1")  # expect: DBSBM-DEBUG-001
    asyncio.run(main(), debug=True)  # expect: DBSBM-DEBUG-001
