"""The packaged recipes: finding them by name (``path``, ``names``, ``resolve``) and the
command line's ``--config`` handling of ``train.py`` / ``evaluate.py``.

The recipes ship inside the package (``jaxpose/configs/*.py``; the checkout's ``configs/`` is a
link to this folder), so an installed jaxpose trains any of them by name
(``jaxpose-train --config=lsp_cpu``). What they are made of:

- ``default.py``: the one full config, every key of the schema with its default value;
- a family's base recipe (``hourglass``, ``pbn_mpii``, ``msn_mpii``, ``cpm_lsp``,
  ``regressor_lsp``, ``hmlpe_pretrain``; ``lsp_cpu`` for the CPU hourglasses) builds on
  ``default``; its variants build on it — at most three deep counting ``default``
  (tests/cli/test_configs.py);
- ``common.py``: the blocks several recipes share (``lsp_protocol``, ``paper_scale``,
  ``cpu_budget``, ``epoch_schedule``, ``regressor_cpu_budget``, …). Not a recipe.

A user's own config file anywhere builds on them the same way::

  from jaxpose.configs import common, default

  def get_config():
    c = default.get_config()
    common.lsp_protocol(c)
    common.cpu_budget(c, features=64, steps=2000)
    return c
"""
import os
import re

from jaxpose.errors import ConfigError

_HERE = os.path.dirname(os.path.abspath(__file__))


def path(name: str) -> str:
  """The file of the packaged recipe ``name`` (``"lsp_cpu"`` → ``…/jaxpose/configs/lsp_cpu.py``)."""
  return os.path.join(_HERE, name + ".py")


# Modules of this folder that are not recipes (no ``get_config``).
NOT_RECIPES = ("common",)


def names() -> tuple[str, ...]:
  """The packaged recipes, sorted (every ``*.py`` here but ``__init__`` and ``NOT_RECIPES``)."""
  return tuple(sorted(f[:-3] for f in os.listdir(_HERE)
                      if f.endswith(".py") and not f.startswith("_")
                      and f[:-3] not in NOT_RECIPES))


def resolve(value: str) -> str:
  """A ``--config`` value (``FILE[:ARG]`` or ``NAME[:ARG]``) with a packaged recipe's name replaced
  by its file; a value that is neither an existing file nor a recipe is a ``ConfigError``."""
  file, sep, arg = value.partition(":")
  if os.path.isfile(file):
    return value
  if re.fullmatch(r"[A-Za-z_]\w*", file) and file in names():
    return path(file) + sep + arg
  raise ConfigError(f"--config={value}: no such file, and no packaged recipe of that name "
                    f"(recipes: {', '.join(names())})")


def resolve_argv(argv: list[str]) -> list[str]:
  """``argv`` with the value of ``--config=…`` / ``--config …`` passed through ``resolve``."""
  out = list(argv)
  for i, a in enumerate(out):
    if a.startswith("--config="):
      out[i] = "--config=" + resolve(a[len("--config="):])
    elif a == "--config" and i + 1 < len(out):
      out[i + 1] = resolve(out[i + 1])
  return out


def parse_flags(argv: list[str]) -> list[str]:
  """absl's ``flags_parser`` for ``train.py``: a bad flag or ``--config.KEY=VALUE`` is one line
  ``error: …`` and exit status 2 instead of a traceback — an unknown key named in full, with
  the keys its section has."""
  from absl import flags
  try:
    return flags.FLAGS(argv)
  except (flags.Error, *OVERRIDE_ERRORS) as e:
    exit_on_flag_error(argv, e)


# What ml_collections raises for an override it cannot apply (an unknown key: AttributeError or
# KeyError; a recipe's own check of its argument: ValueError).
OVERRIDE_ERRORS = (AttributeError, KeyError, TypeError, ValueError)


def exit_on_flag_error(argv: list[str], e: Exception) -> None:
  """Prints ``error: …`` for a flag ``argv`` cannot set and exits with status 2. Also used
  around ``DEFINE_config_file``, which applies ``--config.KEY`` overrides of the default
  config while the flag is defined."""
  import sys
  from absl import flags
  message = str(e) if isinstance(e, flags.Error) else (
      _unknown_key(argv) or f"--config: {type(e).__name__}: {e}")
  lines = [line.strip() for line in message.splitlines() if line.strip()]
  if len(lines) > 1:  # ml_collections puts the recipe's whole traceback into its message
    message = f"{lines[0]} {lines[-1]}"
  print(f"error: {message}", file=sys.stderr, flush=True)
  sys.exit(2)


def _unknown_key(argv: list[str]) -> str:
  """The first ``--config.KEY`` of ``argv`` that the config file's ``get_config()`` lacks, as
  a message; "" when every key exists (or the config cannot be loaded to tell)."""
  import importlib.util
  value = next((a[len("--config="):] for a in argv if a.startswith("--config=")), path("default"))
  file, _, arg = resolve(value).partition(":")
  try:
    spec = importlib.util.spec_from_file_location("_jaxpose_config_file", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config(arg) if arg else module.get_config()
  except Exception:  # the file itself is broken: the caller reports the original error
    return ""
  for a in argv:
    if not a.startswith("--config."):
      continue
    key = a[len("--config."):].partition("=")[0]
    node, done = config, []
    for part in key.split("."):
      keys = list(node.keys()) if hasattr(node, "keys") else []
      if part not in keys:
        where = ".".join(done) or "the config"
        return (f"--config.{key}: unknown config key {key!r} ({where} has: "
                f"{', '.join(sorted(map(str, keys))) or 'no keys'})")
      node, done = node[part], done + [part]
  return ""
