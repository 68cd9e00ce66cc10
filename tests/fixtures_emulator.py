"""Fixtures that start the GitHub emulator as a real process on a free loopback port."""
