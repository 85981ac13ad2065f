"""Errors that a user can act on: the CLI prints their one-line message instead of a traceback."""


class EmbnormError(Exception):
    """Base class; the message names the file or key and what was expected."""
