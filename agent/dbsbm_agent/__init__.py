"""Health-probe agent: probes what a discord.py bot depends on and reports it."""
