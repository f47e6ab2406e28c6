"""What every jaxpose TFDS builder shares: the feature spec and record serialisation.

All builders store the same features (the fields of ``PoseRecord``), so the pipeline
reads any dataset the same way. Nothing here touches the network: real datasets are
read from ``manual_dir`` (their folder as the authors release it), the synthetic one
is generated.
"""
from __future__ import annotations

import os

import numpy as np
import PIL.Image
import tensorflow_datasets as tfds

from jaxpose.data.records import DataError, PoseRecord


def features(num_joints: int, image_format: str = "jpeg") -> tfds.features.FeaturesDict:
  f32 = np.float32
  return tfds.features.FeaturesDict({
      "image": tfds.features.Image(shape=(None, None, 3), encoding_format=image_format),
      "joints": tfds.features.Tensor(shape=(num_joints, 3), dtype=f32),
      "valid": tfds.features.Tensor(shape=(num_joints,), dtype=f32),
      "center": tfds.features.Tensor(shape=(2,), dtype=f32),
      "scale": tfds.features.Tensor(shape=(), dtype=f32),
      "norm": tfds.features.Tensor(shape=(), dtype=f32),
      "head_box": tfds.features.Tensor(shape=(4,), dtype=f32),
      "index": tfds.features.Tensor(shape=(), dtype=np.int64),
      "name": tfds.features.Text(),
  })


def to_example(record: PoseRecord, source: str) -> dict:
  """A validated ``PoseRecord`` as a TFDS example dict (image path checked here)."""
  image = record.image
  if isinstance(image, (str, os.PathLike)):
    where = f"{source}, record {record.index} ({record.name}): field 'image'"
    if not os.path.isfile(image):
      raise DataError(f"{where}: file not found: {image}")
    try:  # decode once here, so that a corrupt file fails now, by name, not mid-training
      with PIL.Image.open(image) as im:
        im.load()
    except (OSError, SyntaxError, ValueError) as e:
      raise DataError(f"{where}: cannot decode {image}: {e}") from None
  return {
      "image": image,
      "joints": np.asarray(record.joints, np.float32),
      "valid": np.asarray(record.valid, np.float32),
      "center": np.asarray(record.center, np.float32),
      "scale": np.float32(record.scale),
      "norm": np.float32(record.norm),
      "head_box": np.asarray(record.head_box, np.float32),
      "index": np.int64(record.index),
      "name": record.name,
  }
