"""Flask debug mode driven by the environment, and debug switches that are not Flask's."""

import asyncio
import logging
import os

from bot.web import app

logging.basicConfig(level=os.getenv("LOG_LEVEL", "INFO"))
app.debug = os.getenv("FLASK_DEBUG") == "1"
app.config["DEBUG"] = False
app.config.update(DEBUG=os.getenv("FLASK_DEBUG") == "1", TESTING=False)


class Options:
    def __init__(self):
        self.debug = True  # a CLI option object, not a web framework


async def main():
    return None


def serve():
    app.run(debug=os.getenv("FLASK_DEBUG") == "1")
    app.run()
    asyncio.run(main(), debug=True)  # the event loop's debug mode, not a web debugger
