"""Normalised joint coordinates, the targets of the regression family (DeepPose, HMLPE, ...).

``coords = (x + 0.5) / image_size`` ∈ [0, 1] for a joint inside the crop: 0 and 1 are the
crop's outer edges, pixel centres sit at ``(i + 0.5) / S``. ``encode`` is tf (per
example, inside ``tf.data``); ``decode`` takes numpy or jax arrays.
"""
from __future__ import annotations

import dataclasses

from jaxpose.codecs.geometry import _xp


def encode(joints_crop, image_size: int):
  """(K, 2) crop pixels → (K, 2) float32 normalised coordinates (tf)."""
  import tensorflow as tf
  return (tf.cast(joints_crop, tf.float32) + 0.5) / float(image_size)


def decode(coords, image_size: int):
  """(..., K, 2) normalised coordinates → crop pixels (numpy / jax)."""
  xp = _xp(coords)
  return xp.asarray(coords) * float(image_size) - 0.5


def flip(coords):
  """Normalised coordinates of the mirrored crop: ``x' = S − 1 − x`` in pixels is
  ``c' = 1 − c`` in [0, 1] (numpy / jax; (..., K, 2), x first). Joint order unchanged."""
  xp = _xp(coords)
  c = xp.asarray(coords)
  return xp.concatenate([1.0 - c[..., :1], c[..., 1:]], axis=-1)


@dataclasses.dataclass(frozen=True)
class CoordCodec:
  """Normalised crop coordinates for one crop side, built once (``from_config``)."""
  image_size: int

  @classmethod
  def from_config(cls, data_cfg) -> "CoordCodec":
    return cls(int(data_cfg.image_size))

  def encode(self, joints_crop):
    return encode(joints_crop, self.image_size)

  def decode(self, coords):
    return decode(coords, self.image_size)
