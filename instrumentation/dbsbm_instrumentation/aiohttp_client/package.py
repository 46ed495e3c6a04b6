_instruments = ("aiohttp >= 3.9",)
