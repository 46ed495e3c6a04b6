"""``python -m examples.demo_bot.fault '{"slow_db": 0.3}'``: change the running bot's faults.

A client for the bot's loopback control endpoint, for places without curl (the demo bot's
container: ``docker compose exec demo-bot python -m examples.demo_bot.fault reset``).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

from examples.demo_bot.settings import OneLineParser


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="python -m examples.demo_bot.fault", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "faults",
        nargs="?",
        default="",
        help='JSON object of faults, "reset", or nothing to show the current ones',
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("DEMO_CONTROL_PORT", "8099")),
        help="the bot's control port (default: DEMO_CONTROL_PORT or 8099)",
    )
    args = parser.parse_args(argv)
    base = f"http://127.0.0.1:{args.port}"
    if args.faults == "reset":
        request = urllib.request.Request(f"{base}/faults/reset", method="POST")
    elif args.faults:
        request = urllib.request.Request(f"{base}/faults", data=args.faults.encode(), method="POST")
    else:
        request = urllib.request.Request(f"{base}/faults")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            print(response.read().decode())
    except urllib.error.HTTPError as exc:
        print(f"fault: {exc.read().decode().strip()}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fault: cannot reach the bot's control endpoint at {base}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
