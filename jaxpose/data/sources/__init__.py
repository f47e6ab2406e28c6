"""Dataset readers: raw annotation files → ``PoseRecord``s (plain numpy, no tf).

``read_split(name, split)`` is the one entry point other code uses (TFDS builders,
evaluation, the grouping CLI). Each dataset's format, split definition and the
conventions it needs (centre, scale, PCK normaliser) are documented in its module:
``lsp`` (lsp, lspet, lsp_lspet), ``mpii``, ``flic``, ``buffy``; ``synthetic`` generates.
"""
from __future__ import annotations

import os
from typing import Optional

from jaxpose.data.records import DataError, PoseRecord, data_root

SPLITS = {
    "lsp": ("train", "test"),
    "lspet": ("train",),
    "lsp_lspet": ("train", "test"),
    "mpii": ("train", "validation"),
    "flic": ("train", "test"),
    "buffy": ("train", "test"),
}

SKELETONS = {"lsp": "lsp", "lspet": "lsp", "lsp_lspet": "lsp", "mpii": "mpii", "flic": "flic",
             "buffy": "upper_body"}


def default_root(name: str, root: Optional[str] = None) -> str:
  """The folder a dataset is read from: ``root``, else ``$JAXPOSE_DATA/<name>``.

  ``lsp_lspet`` reads ``<root>/lsp`` and ``<root>/lspet``, so its default is
  ``$JAXPOSE_DATA`` itself.
  """
  if root:
    return os.path.expanduser(root)
  return data_root(None) if name == "lsp_lspet" else data_root(name)


def read_split(name: str, split: str, root: Optional[str] = None, on_error: str = "raise",
               *, limit: Optional[int] = None) -> list[PoseRecord]:
  """The validated records of ``split`` of dataset ``name``.

  Args:
    name: one of ``SPLITS``.
    split: one of ``SPLITS[name]``.
    root: the dataset's folder as released (default ``default_root(name)``).
    on_error: "raise" (the first bad record raises ``DataError`` naming file, record and
      field) or "skip" (bad records are dropped, counted and logged as one warning).
    limit: keep at most this many records (tests, quick looks).

  Raises:
    DataError: unknown dataset or split, missing or malformed annotation file, a bad
      record with ``on_error="raise"``, or an empty split.
  """
  if name not in SPLITS:
    raise DataError(f"unknown dataset {name!r}; known: {sorted(SPLITS)}")
  if split not in SPLITS[name]:
    raise DataError(f"{name}: no split {split!r}; splits are {SPLITS[name]}")
  root = default_root(name, root)
  if not os.path.isdir(root):
    raise DataError(f"{name}: data folder not found: {root}")
  if name in ("lsp", "lspet", "lsp_lspet"):
    from jaxpose.data.sources import lsp
    return lsp.read(name, split, root, on_error, limit)
  if name == "mpii":
    from jaxpose.data.sources import mpii
    return mpii.read(split, root, on_error, limit)
  if name == "flic":
    from jaxpose.data.sources import flic
    return flic.read(split, root, on_error, limit)
  from jaxpose.data.sources import buffy
  return buffy.read(split, root, on_error, limit)
