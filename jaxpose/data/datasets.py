"""Dataset registry: config name → TFDS builder, skeleton and split names.

``builder(data_cfg)`` returns a prepared TFDS builder; nothing here downloads: real
datasets are read from ``data.root`` (their folder as released), the synthetic one is
generated on first use and cached under ``jaxpose.data.records.cache_dir()``.
"""
from __future__ import annotations

import os

from jaxpose import skeleton as skel
from jaxpose.data.records import DataError, cache_dir


def _synthetic(data_cfg):
  from jaxpose.data.builders import synthetic
  s = data_cfg.synthetic
  return synthetic.load_builder(
      train_size=int(s.train_size), validation_size=int(s.validation_size),
      test_size=int(s.test_size), seed=int(s.get("seed", 0)),
      image_size=int(s.image_size), data_dir=tfds_dir())


def _real(name: str):
  """Factory of a real dataset's builder, read from ``data.root`` (default
  ``$JAXPOSE_DATA/<name>``). Optional ``data.limit`` (records per split, 0 = all) and
  ``data.on_error`` ("raise" | "skip") pass through to the reader."""
  def factory(data_cfg):
    from jaxpose.data.builders import real
    return real.load_builder(
        name, root=data_cfg.get("root") or None, data_dir=tfds_dir(),
        limit=int(data_cfg.get("limit", 0) or 0), on_error=data_cfg.get("on_error", "raise"))
  return factory


# name -> (builder factory, skeleton name)
DATASETS = {
    "synthetic_pose": (_synthetic, "mpii"),
    "lsp": (_real("lsp"), "lsp"),
    "lspet": (_real("lspet"), "lsp"),
    "lsp_lspet": (_real("lsp_lspet"), "lsp"),
    "mpii": (_real("mpii"), "mpii"),
    "flic": (_real("flic"), "flic"),
    "buffy": (_real("buffy"), "upper_body"),
}


def tfds_dir() -> str:
  return os.path.join(cache_dir(), "tensorflow_datasets")


def builder(data_cfg):
  name = data_cfg.name
  if name not in DATASETS:
    raise DataError(f"data.name={name!r} is not a known dataset; known: {sorted(DATASETS)}")
  return DATASETS[name][0](data_cfg)


def skeleton(data_cfg) -> skel.Skeleton:
  name = data_cfg.get("skeleton") or DATASETS[data_cfg.name][1]
  return skel.get(name)


def num_examples(b, split: str) -> int:
  if split not in b.info.splits:
    raise DataError(f"dataset {b.info.name}: no split {split!r}; it has {sorted(b.info.splits)}")
  n = b.info.splits[split].num_examples
  if n == 0:
    raise DataError(f"dataset {b.info.name}: split {split!r} is empty")
  return n
