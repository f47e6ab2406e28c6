"""What every jaxpose TFDS builder shares: the feature spec and record serialisation.

All builders store the same features (the fields of ``PoseRecord``), so the pipeline
reads any dataset the same way. Nothing here touches the network: real datasets are
read from ``manual_dir`` (their folder as the authors release it), the synthetic one
is generated.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np
import PIL.Image
import tensorflow_datasets as tfds

from jaxpose.errors import DataError
from jaxpose.data.records import PoseRecord
from jaxpose.data.sources import common
from jaxpose.formats import images


def _png(rgb: np.ndarray) -> bytes:
  import io
  out = io.BytesIO()
  PIL.Image.fromarray(rgb).save(out, format="PNG")
  return out.getvalue()


@contextlib.contextmanager
def exclusive(path: str):
  """Holds an exclusive ``flock`` on ``path`` (created if absent) across processes."""
  try:
    import fcntl
  except ImportError:  # not POSIX: no lock (one process at a time is then the user's to keep)
    yield
    return
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "a") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)


def _prepared(builder) -> bool:
  return builder.is_prepared() and bool(builder.info.splits)


def prepared_builder(make, download_config) -> tfds.core.DatasetBuilder:
  """``make()``'s builder, prepared (``download_and_prepare``) where it is not yet, by one process
  at a time. TFDS writes into a temporary folder and renames it at the end, so two processes
  preparing the same dataset at once (the processes of a multi-host job on one machine or a
  shared file system, a training next to an evaluation, test workers) made the later rename fail
  ("Cannot rename ...: destination already exists"). The first takes a lock file next to the
  version folder and prepares; the others wait for it and then read what it wrote (with a fresh
  builder, whose dataset info is the prepared one)."""
  builder = make()
  if _prepared(builder):
    return builder
  path = os.path.join(os.path.dirname(builder.data_dir),
                      f".{os.path.basename(builder.data_dir)}.prepare.lock")
  with exclusive(path):
    builder = make()
    if not _prepared(builder):
      builder.download_and_prepare(download_config=download_config)
  return builder


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


def to_example(record: PoseRecord, source: str, joint_names=None) -> dict:
  """A validated ``PoseRecord`` as a TFDS example dict. An image path is checked here: the file
  must decode, and every annotated joint must lie within ``common.OUTSIDE_MARGIN`` of the image
  (``joint_names`` name the joint in the error). 8-bit RGB or grey JPEGs are stored as they are;
  any other file or array as the PNG of ``formats.images.to_rgb8``, so the pipeline's
  ``tf.io.decode_image`` sees the pixels that ``crops.read_image`` gives predict."""
  image = record.image
  where = f"{source}, record {record.index} ({record.name})"
  if isinstance(image, (str, os.PathLike)):
    if not os.path.isfile(image):
      raise DataError(f"{where}: field 'image': file not found: {image}")
    try:  # decode once here, so that a corrupt file fails now, by name, not mid-training
      with PIL.Image.open(image) as im:
        im.load()
        size = im.size
        if not (im.format == "JPEG" and im.mode in ("RGB", "L")):
          image = _png(images.to_rgb8(im, f"{where}: field 'image': {image}"))
    except (OSError, SyntaxError, ValueError) as e:
      raise DataError(f"{where}: field 'image': cannot decode {image}: {e}") from None
    names = joint_names or [f"joint {k}" for k in range(len(record.valid))]
    common.check_inside(np.asarray(record.joints)[:, :2], record.valid, size[0], size[1],
                        f"{where}: image {record.image}", tuple(names))
  elif isinstance(image, np.ndarray) and image.dtype != np.uint8:
    image = images.to_rgb8(image, f"{where}: field 'image'")
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
