"""Errors the user must fix about the folders and files a job is given.

Each message is one sentence naming the folder or file and what to do, with
no personal data (no cell value ever goes into one). The command line turns
them into exit code 4; configuration errors are
:class:`relieflink.config.ConfigError` (exit code 3).
"""

from __future__ import annotations


class Refused(Exception):
    """A folder or file given to a job cannot be used as it is; nothing was changed."""


class InputRefused(Refused):
    """An input (the batch folder, a truth or run folder to read, a key file) is missing or is not what is needed."""


class OutputRefused(Refused):
    """The output folder cannot be written: it holds someone else's files, overlaps the batch,
    is being written by another run, or its device is read-only or too full."""
