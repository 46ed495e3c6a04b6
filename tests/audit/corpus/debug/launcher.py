"""An entry point that turns asyncio debug on only when asked to."""

import argparse
import asyncio
import os


async def main():
    return None


def cli():
    parser = argparse.ArgumentParser()
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    if args.debug:
        asyncio.get_event_loop().set_debug(True)
    asyncio.run(main(), debug=os.getenv("DBSBM_ENV") == "development")
    asyncio.run(main(), debug=False)
    asyncio.run(main())


if __name__ == "__main__":
    if os.getenv("DBSBM_ENV") == "development":
        os.environ["PYTHONASYNCIODEBUG"] = "1"
    cli()
