"""Operator scripts: the persona catalog, its loader, seed, cleanup and password."""
