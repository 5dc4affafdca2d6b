"""Errors that carry a message meant for a person, not a traceback.

The command line catches :class:`InputError` and exits with code 2, printing only the message.
"""

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input: a missing file, a malformed record, names that do not agree.

    The message names the file (and the line or region) and says what to do.
    """
