"""Dataset registry as configs see it: ``data.name`` → TFDS builder, skeleton, split names.

The facts come from the one dataset table, ``jaxpose.data.sources.DATASETS``; this module
turns a ``data`` config section into them. ``builder(data_cfg)`` returns a prepared TFDS
builder; nothing here downloads: real datasets are read from ``data.root`` (their folder as
released), the synthetic one is generated on first use and cached under
``jaxpose.data.records.cache_dir()``. Importing this module does not import tf (the
builders are imported when ``builder`` is called), so config checks and model-only code
may use it.
"""
from __future__ import annotations

import os
from typing import Optional

from jaxpose import skeleton as skel
from jaxpose.data import sources
from jaxpose.errors import DataError
from jaxpose.data.records import cache_dir

DATASETS = sources.DATASETS  # name -> sources.Dataset (the same table, not a copy)

# Split names people type for the canonical ones (MPII's files and ports say "valid").
SPLIT_ALIASES = {"valid": "validation", "val": "validation"}


def names() -> tuple[str, ...]:
  """Every known ``data.name``."""
  return tuple(DATASETS)


get = sources.get  # name -> its table entry, or a DataError listing the known names


def splits(name: str) -> tuple[str, ...]:
  """The split names of dataset ``name``."""
  return get(name).splits


def canonical_split(split: Optional[str]) -> Optional[str]:
  """``split`` with the usual aliases resolved ("valid", "val" → "validation"); empty or
  None stays as it is, so that callers can fall back to a default with ``or``."""
  return SPLIT_ALIASES.get(split, split) if split else split


def tfds_dir() -> str:
  return os.path.join(cache_dir(), "tensorflow_datasets")


def builder(data_cfg):
  """The prepared TFDS builder of ``data_cfg``'s dataset.

  Real datasets: ``data.root`` (default: the table's folder below ``$JAXPOSE_DATA``),
  optional ``data.limit`` (records per split, 0 = all) and ``data.on_error`` ("raise" |
  "skip") pass through to the reader. The synthetic one: ``data.synthetic.*`` sizes,
  seed and image size.
  """
  entry = get(data_cfg.name)
  if entry.generated:
    from jaxpose.data.builders import synthetic
    s = data_cfg.synthetic
    return synthetic.load_builder(
        train_size=int(s.train_size), validation_size=int(s.validation_size),
        test_size=int(s.test_size), seed=int(s.get("seed", 0)),
        image_size=int(s.image_size), data_dir=tfds_dir())
  from jaxpose.data.builders import real
  return real.load_builder(
      entry.name, root=data_cfg.get("root") or None, data_dir=tfds_dir(),
      limit=int(data_cfg.limit), on_error=data_cfg.on_error)


def skeleton(data_cfg) -> skel.Skeleton:
  """``data.skeleton`` if set, else the dataset's own skeleton."""
  return skel.get(data_cfg.get("skeleton") or get(data_cfg.name).skeleton)


def num_examples(b, split: str) -> int:
  if split not in b.info.splits:
    raise DataError(f"dataset {b.info.name}: no split {split!r}; it has {sorted(b.info.splits)}")
  n = b.info.splits[split].num_examples
  if n == 0:
    raise DataError(f"dataset {b.info.name}: split {split!r} is empty")
  return n
