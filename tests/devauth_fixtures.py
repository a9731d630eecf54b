"""Fixtures for the mana-auth stand-in (filled in with the stand-in itself)."""
