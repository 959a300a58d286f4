"""The master daemon: one asyncio loop that places, watches and restarts jobs."""
