"""The demo bot's cogs, each loaded as an extension (``async def setup(bot)``)."""
