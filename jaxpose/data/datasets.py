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


# name -> (builder factory, skeleton name)
DATASETS = {
    "synthetic_pose": (_synthetic, "mpii"),
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
