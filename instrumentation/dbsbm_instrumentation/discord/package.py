_instruments = ("discord.py >= 2.3",)
