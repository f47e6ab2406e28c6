"""The error of bad input data, shared by the readers (``jaxpose.data``) and the official
file formats (``jaxpose.formats``, read by ``jaxpose.evaluation`` too).

It lives below both layers so that one ``except DataError`` catches a malformed annotation
file and a malformed predictions file alike; ``jaxpose.errors`` re-exports it with the other
user errors, and every module above ``formats`` imports it from there.
"""
from __future__ import annotations


class DataError(ValueError):
  """Bad input data; the message names the file, the record and the field."""


class FormatError(DataError):
  """A file that is not in the official layout; the message names file and field."""
