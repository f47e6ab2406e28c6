"""TFDS builder of the embedded synthetic dataset (``synthetic_pose``).

Generated locally on first use (no downloads) from ``jaxpose.data.sources.synthetic`` and
cached under the TFDS ``data_dir``; the split sizes, seed and image size name the builder
config, so changing any of them builds a new, separate copy instead of reusing a stale one.
"""
from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds

from jaxpose import skeleton as skel
from jaxpose.data.builders import base
from jaxpose.data.records import validate
from jaxpose.data.sources import synthetic


@dataclasses.dataclass
class SyntheticConfig(tfds.core.BuilderConfig):
  train_size: int = 4000
  validation_size: int = 500
  test_size: int = 500
  seed: int = 0
  image_size: int = 128


def make_config(train_size: int, validation_size: int, test_size: int, seed: int = 0,
                image_size: int = 128) -> SyntheticConfig:
  name = f"n{train_size}-{validation_size}-{test_size}_seed{seed}_px{image_size}"
  return SyntheticConfig(name=name, train_size=train_size, validation_size=validation_size,
                         test_size=test_size, seed=seed, image_size=image_size)


class SyntheticPose(tfds.core.GeneratorBasedBuilder):
  """Procedural people with the 16 MPII joints (see ``sources/synthetic.py``: pose sampling in
  ``synthetic_pose.py``, drawing in ``synthetic_draw.py``)."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "Front-facing stick people, MPII joints and annotation conventions.",
      "1.1.0": "Front/back/profile views, pose presets, lying figures, depth-ordered capsules, "
               "rendered visibility, distractor figures.",
  }
  BUILDER_CONFIGS = [make_config(4000, 500, 500)]

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=base.features(skel.MPII.num_joints, image_format="png"),
        description=__doc__, homepage="https://github.com/jaxpose/jaxpose")

  def _split_generators(self, dl_manager):
    del dl_manager
    c = self.builder_config
    sizes = {"train": c.train_size, "validation": c.validation_size, "test": c.test_size}
    return {split: self._generate_examples(split, n) for split, n in sizes.items() if n > 0}

  def _generate_examples(self, split: str, n: int):
    c = self.builder_config
    source = f"synthetic_pose/{split}"
    for record in synthetic.generate(split, n, seed=c.seed, image_size=c.image_size):
      record = validate(record, skel.MPII.num_joints, source)
      yield record.index, base.to_example(record, source)


def load_builder(train_size: int = 4000, validation_size: int = 500, test_size: int = 500,
                 seed: int = 0, image_size: int = 128, data_dir: str | None = None):
  """The prepared builder (generating the data on first use)."""
  config = make_config(train_size, validation_size, test_size, seed, image_size)
  if config.name in SyntheticPose.builder_configs:  # a predefined config is passed by name
    config = config.name
  return base.prepared_builder(lambda: SyntheticPose(config=config, data_dir=data_dir),
                               tfds.download.DownloadConfig(verify_ssl=False))
