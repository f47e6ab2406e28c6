"""Normalised joint coordinates, the targets of the regression family (DeepPose, HMLPE, ...).

``coords = (x + 0.5) / image_size`` ∈ [0, 1] for a joint inside the crop: 0 and 1 are the
crop's outer edges, pixel centres sit at ``(i + 0.5) / S``. ``encode`` is tf (per
example, inside ``tf.data``); ``decode`` takes numpy or jax arrays.
"""
from __future__ import annotations

from jaxpose.codecs.heatmap import _xp


def encode(joints_crop, image_size: int):
  """(K, 2) crop pixels → (K, 2) float32 normalised coordinates (tf)."""
  import tensorflow as tf
  return (tf.cast(joints_crop, tf.float32) + 0.5) / float(image_size)


def decode(coords, image_size: int):
  """(..., K, 2) normalised coordinates → crop pixels (numpy / jax)."""
  xp = _xp(coords)
  return xp.asarray(coords) * float(image_size) - 0.5
