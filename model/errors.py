"""Errors raised by the training package."""

from __future__ import annotations


class DataError(ValueError):
    """The WDBC data could not be read or does not have the expected layout."""


class ConfigError(ValueError):
    """A training option is out of range."""
