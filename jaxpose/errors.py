"""Errors a user can act on, and how the command-line tools report them.

Each message names the config key, file, record or field and what is allowed. The tools
(``train.py``, ``evaluate.py``, ``python -m jaxpose.visualize`` …) print them as one line,
``error: …``, without a traceback, and exit with status 2 (``exit_on_user_error``).
"""
from __future__ import annotations

import functools
import sys

from jaxpose.formats.errors import DataError, FormatError


class ConfigError(ValueError):
  """A config value that cannot work (the message names the key and the allowed values)."""


class CheckpointError(RuntimeError):
  """A checkpoint that cannot be used here; the message names it."""


class DamagedCheckpointError(CheckpointError):
  """A checkpoint whose files changed after it was saved, are missing or unreadable, or hold
  non-finite values; the message names it and, where known, the array. A resumed training
  falls back to the newest intact checkpoint; every other reader refuses it."""


USER_ERRORS = (ConfigError, CheckpointError, DataError)


def _usage_errors() -> tuple:
  """absl's ``app.UsageError`` (a bad or missing flag) where absl.app is loaded: nothing can
  raise it otherwise, and model-only users need not import it."""
  app = sys.modules.get("absl.app")
  return (app.UsageError,) if app is not None else ()


def exit_on_user_error(main):
  """Wraps a CLI ``main``: a ``USER_ERRORS`` exception or absl's ``app.UsageError`` becomes
  ``error: …`` on stderr and exit status 2; any other exception keeps its traceback (a bug, not
  a user error)."""
  @functools.wraps(main)
  def wrapped(*args, **kwargs):
    try:
      return main(*args, **kwargs)
    except USER_ERRORS + _usage_errors() as e:
      print(f"error: {e}", file=sys.stderr, flush=True)
      sys.exit(2)
  return wrapped


__all__ = ["CheckpointError", "ConfigError", "DamagedCheckpointError", "DataError", "FormatError", "USER_ERRORS",
           "exit_on_user_error"]
