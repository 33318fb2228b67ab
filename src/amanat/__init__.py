"""Amanat: tokenization and open management of state-owned assets."""

__version__ = "0.1.0"
