"""Security audit for discord.py bot codebases."""
