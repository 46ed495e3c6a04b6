"""``python -m examples.demo_bot``: run the demo bot with its traffic generator."""

from examples.demo_bot.app import main

raise SystemExit(main())
