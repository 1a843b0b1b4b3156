"""The poetryops example service."""

__version__ = "0.1.0"
