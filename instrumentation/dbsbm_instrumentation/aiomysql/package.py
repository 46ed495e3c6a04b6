_instruments = ("aiomysql >= 0.2",)
