"""Per-example augmentation: one affine per example, applied to image and joints together.

Everything here is tf ops only (no ``py_function``), so it runs inside
``tf.data.Dataset.map`` in graph mode, and every random choice comes from
``tf.random.stateless_*`` with a shape-[2] integer seed: the same seed gives the same
crop, the same joints and the same colours.

Geometry (the conventions of docs/DESIGN.md): pixel coordinates (x, y), 0-based, pixel
centres at integers. A record's crop box is the square of side
``200 * scale * scale_pad * scale_factor`` centred at ``center``; its outer edges map onto
the outer edges of the ``S × S`` crop (``S = image_size``), so the box centre lands on the
crop centre ``((S-1)/2, (S-1)/2)``. Rotation, shear and scale act about that centre and
are composed with the horizontal flip ``x' = S - 1 - x`` into ONE 3×3 matrix
image → crop (``codecs.geometry.crop_matrix_tf``); the image is resampled once through its
inverse (``warp``) and the joints are mapped through the matrix itself
(``geometry.apply_affine_tf``). On a flip the joint order is permuted with
``skeleton.flip_permutation`` so that index k still names the same anatomical joint (left
stays left in the person's frame).

Sign conventions: a positive ``rotation`` turns the image content counter-clockwise as
seen on screen (y down); ``shear`` is a horizontal shear factor ``x += shear * y`` in the
box frame (0.5 ≈ 26.6°); ``scale_factor`` > 1 widens the box, so the person looks smaller.

``tf.raw_ops.ImageProjectiveTransformV3`` maps each *output* (crop) pixel (x, y) to the
*input* (image) point it samples, in integer pixel-centre coordinates — the same
convention as ours, so the transform it takes is exactly ``inverse(crop_matrix)`` with
no half-pixel offsets (verified in tests/data/test_augment.py by rendering dots). Samples less
than a pixel outside the image blend with the fill value 0.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np
import tensorflow as tf

from jaxpose.codecs import geometry


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
  """Augmentation ranges (``cfg.data.augment`` in the configs).

  Attributes:
    scale: box scale factor range: ``scale_factor ∈ [1 - scale, 1 + scale]``.
    rotation: rotation range in degrees: ``r ∈ [-rotation, rotation]``.
    rotation_prob: probability that an example is rotated at all (0.6 in the PyTorch
      stacked-hourglass port, whose examples are otherwise upright; 1.0 rotates every
      example).
    shear: horizontal shear factor range ``[-shear, shear]`` (0 disables).
    flip: horizontal flip with probability 0.5 (with the left/right joint swap).
    color: colour-jitter strength c: brightness, contrast and saturation factors and a
      per-channel multiplier (as in the hourglass port) each drawn from ``[1-c, 1+c]``;
      0 disables.
    translate: random shift of the crop window, ``u · S`` crop pixels with ``u`` uniform in
      ``[-translate, translate]`` along each axis (0 disables): Li et al. 2014 §4.1 take
      random 112-px crops of the 128-px person box, a shift of up to 8/128 = 0.0625.
    distribution: ``"uniform"`` draws scale and rotation uniformly over the ranges above;
      ``"normal"`` follows the hourglass port: ``1 + N(0, scale)`` clipped to
      ``[1 - scale, 1 + scale]`` and ``N(0, rotation)`` clipped to ``±2·rotation``.
  """
  scale: float = 0.25
  rotation: float = 30.0
  rotation_prob: float = 0.6
  shear: float = 0.0
  flip: bool = True
  color: float = 0.2
  translate: float = 0.0
  distribution: str = "uniform"

  @classmethod
  def from_any(cls, cfg: Any = None) -> "AugmentConfig":
    """Reads an ``AugmentConfig``, a mapping or any object with the fields as attributes
    (``ml_collections.ConfigDict``); missing fields keep their defaults."""
    if cfg is None:
      return cls()
    if isinstance(cfg, cls):
      return cfg
    values = {}
    for field in dataclasses.fields(cls):
      if isinstance(cfg, Mapping):
        have = field.name in cfg
        value = cfg[field.name] if have else None
      else:
        sentinel = object()
        value = getattr(cfg, field.name, sentinel)
        have = value is not sentinel
      if have:
        values[field.name] = value
    out = cls(**values)
    if out.distribution not in ("uniform", "normal"):
      raise ValueError(f"augment.distribution must be 'uniform' or 'normal', got {out.distribution!r}")
    return out


def _split(seed, num: int):
  seed = tf.convert_to_tensor(seed)
  if seed.dtype not in (tf.int32, tf.int64):
    seed = tf.cast(seed, tf.int64)
  return tf.unstack(tf.random.experimental.stateless_split(seed, num=num))


def _uniform(seed, low, high):
  return tf.random.stateless_uniform([], seed, minval=low, maxval=high, dtype=tf.float32)


def sample(seed, cfg: Any = None) -> dict:
  """Augmentation parameters from a stateless seed (shape [2], int32/int64).

  Returns a dict of tensors: ``scale_factor`` (float32), ``rotation`` (degrees,
  float32), ``shear`` (float32), ``flip`` (bool) and ``translate`` ((2,) float32, fractions
  of the crop side). A disabled augmentation (range 0, ``flip=False``) gives its identity
  value. The shift draws from its own stream (the seed folded with 1), so the other draws
  are the same with and without it.
  """
  cfg = AugmentConfig.from_any(cfg)
  s_scale, s_rot, s_rot_on, s_shear, s_flip = _split(seed, 5)
  sf, rf = float(cfg.scale), float(cfg.rotation)
  if cfg.distribution == "normal":
    scale_factor = 1.0 + tf.clip_by_value(
        tf.random.stateless_normal([], s_scale) * sf, -sf, sf)
    rotation = tf.clip_by_value(tf.random.stateless_normal([], s_rot) * rf, -2 * rf, 2 * rf)
  else:
    scale_factor = _uniform(s_scale, 1.0 - sf, 1.0 + sf) if sf > 0 else tf.constant(1.0)
    rotation = _uniform(s_rot, -rf, rf) if rf > 0 else tf.constant(0.0)
  if rf > 0 and cfg.rotation_prob < 1:
    rotation = tf.where(_uniform(s_rot_on, 0.0, 1.0) < cfg.rotation_prob, rotation, 0.0)
  shear = (_uniform(s_shear, -float(cfg.shear), float(cfg.shear)) if cfg.shear > 0
           else tf.constant(0.0))
  flip = (_uniform(s_flip, 0.0, 1.0) < 0.5) if cfg.flip else tf.constant(False)
  t = float(cfg.translate)
  if t > 0:
    s_tr = tf.random.experimental.stateless_fold_in(tf.cast(tf.convert_to_tensor(seed), tf.int64), 1)
    translate = tf.random.stateless_uniform([2], s_tr, minval=-t, maxval=t, dtype=tf.float32)
  else:
    translate = tf.zeros([2], tf.float32)
  return dict(scale_factor=tf.cast(scale_factor, tf.float32), rotation=tf.cast(rotation, tf.float32),
              shear=tf.cast(shear, tf.float32), flip=flip, translate=translate)


def identity_params() -> dict:
  """The parameters of the plain crop (evaluation)."""
  return dict(scale_factor=tf.constant(1.0), rotation=tf.constant(0.0),
              shear=tf.constant(0.0), flip=tf.constant(False), translate=tf.zeros([2]))


def window(matrix, height, width, image_size: int, factor=1):
  """The part of an image a crop reads: ``(x0, y0, x1, y1)`` int32, columns ``[x0, x1)`` and
  rows ``[y0, y1)``.

  The crop's pixels and a pixel around them, mapped back into the image, widened by three
  blocks of ``factor`` pixels on every side (bilinear reads one pixel beyond a sample; a block
  of the downsampled image covers ``factor`` pixels; a JPEG decoded by window may differ from
  the whole decode in the window's last column) and snapped to multiples of ``factor``, so that
  the window's downsampling blocks are the image's own: the crop cut from the window is the
  crop cut from the whole image. Clipped to the image, never empty.
  """
  m = tf.cast(matrix, tf.float64)
  f = tf.cast(factor, tf.float64)
  inv = tf.linalg.inv(m)
  s = float(image_size)
  corners = tf.constant([[-1.0, -1.0], [s, -1.0], [-1.0, s], [s, s]], tf.float64)
  p = tf.matmul(corners, inv[:2, :2], transpose_b=True) + inv[:2, 2]
  limit = tf.cast(tf.stack([width, height]), tf.float64)
  lo = tf.floor(tf.reduce_min(p, axis=0) / f) * f - 3.0 * f
  hi = tf.math.ceil(tf.reduce_max(p, axis=0) / f) * f + 3.0 * f
  lo = tf.clip_by_value(lo, 0.0, tf.floor((limit - 1.0) / f) * f)
  hi = tf.clip_by_value(hi, lo + 1.0, limit)
  return tf.unstack(tf.cast(tf.concat([lo, hi], 0), tf.int32))


def _box_down(image, factor):
  """(h, w, C) → (⌈h/f⌉, ⌈w/f⌉, C) float32: each pixel the mean of the image pixels in its
  f × f block (fewer at the right and bottom edges); uint8 sources in [0, 1] (integer sums
  divided by 255 · count in float64: exact, fast, and the numpy twin ``crops._box_down`` gets
  the same bits), float sources as given (float64 sums). The f rows of a block are summed
  first, over whole image rows (the fast order: 3× the speed of one 5-D reduction), then the
  f columns; uint8 sums in float32 are exact integers (≤ 255 f² < 2²⁴)."""
  f = tf.cast(factor, tf.int32)
  shape = tf.shape(image)
  h, w = shape[0], shape[1]
  hs, ws = -(-h // f), -(-w // f)
  integer = image.dtype == tf.uint8
  x = tf.pad(tf.cast(image, tf.float32 if integer else tf.float64),
             [[0, hs * f - h], [0, ws * f - w], [0, 0]])
  x = tf.reduce_sum(tf.reshape(x, [hs, f, -1]), axis=1)
  x = tf.reduce_sum(tf.reshape(x, [hs, ws, f, -1]), axis=2)
  rows = tf.minimum(f, h - f * tf.range(hs))
  cols = tf.minimum(f, w - f * tf.range(ws))
  count = tf.cast(rows[:, None, None] * cols[None, :, None], tf.float64)
  if integer:
    count = count * 255.0
  return tf.cast(tf.cast(x, tf.float64) / count, tf.float32)


def _decode_window(encoded, m, image_size: int, factor):
  """Decodes only the window of an encoded image (JPEG: ``decode_and_crop_jpeg``; PNG and the
  rest: the whole decode, then the slice): ``(uint8 window, (x0, y0))``."""
  def jpeg():
    shape = tf.io.extract_jpeg_shape(encoded)
    x0, y0, x1, y1 = window(m, shape[0], shape[1], image_size, factor)
    part = tf.io.decode_and_crop_jpeg(encoded, tf.stack([y0, x0, y1 - y0, x1 - x0]), channels=3)
    return part, tf.stack([x0, y0])

  def other():
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    shape = tf.shape(image)
    x0, y0, x1, y1 = window(m, shape[0], shape[1], image_size, factor)
    return image[y0:y1, x0:x1], tf.stack([x0, y0])

  part, origin = tf.cond(tf.io.is_jpeg(encoded), jpeg, other)
  part.set_shape([None, None, 3])
  return part, origin


def warp(image, matrix, image_size: int, antialias: bool = True):
  """Resamples ``image`` into the (S, S, C) crop of ``matrix`` (image → crop), float32 in [0, 1].

  ``image``: (H, W, C) uint8 0–255 or float, or the encoded bytes of a JPEG / PNG / ... file
  (a scalar ``tf.string``; decoded to 3 channels). Only the ``window`` the crop reads is
  decoded (JPEG), converted and downsampled: the cost of a crop does not grow with the
  picture around it. Bilinear, fill 0 outside the image; the op is given the inverse matrix
  (crop → image, its output → input convention). With ``antialias``, when one crop pixel
  covers ``f = floor(1/sqrt|det|) ≥ 2`` image pixels, the window is first box-downsampled by
  ``f`` (the mean of each f × f block of the image's own grid, as the PyTorch hourglass port
  resizes before cropping), so large boxes do not alias. ``crops.warp`` is the numpy twin.
  """
  image = tf.convert_to_tensor(image)
  m = tf.cast(matrix, tf.float64)
  size = int(image_size)
  factor = tf.ones([], tf.float64)
  if antialias:
    det = tf.abs(m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0])
    factor = tf.maximum(tf.floor(1.0 / tf.sqrt(det)), 1.0)  # image pixels per crop pixel
  if image.dtype == tf.string:
    part, origin = _decode_window(image, m, size, factor)
  else:
    shape = tf.shape(image)
    x0, y0, x1, y1 = window(m, shape[0], shape[1], size, factor)
    part, origin = image[y0:y1, x0:x1], tf.stack([x0, y0])
  source = part  # uint8 or float: the box filter sums it exactly before converting
  if part.dtype == tf.uint8:
    part = tf.cast(part, tf.float32) / 255.0
  else:
    part = tf.cast(part, tf.float32)
  origin = tf.cast(origin, tf.float64)
  zero, one = tf.zeros([], tf.float64), tf.ones([], tf.float64)
  # window pixel → image pixel: x = xw + x0.
  m = tf.matmul(m, tf.stack([tf.stack([one, zero, origin[0]]), tf.stack([zero, one, origin[1]]),
                             tf.stack([zero, zero, one])]))

  def _down():
    # small pixel → window pixel: x = f · xs + (f - 1) / 2 (the centre of its block).
    half = (factor - 1.0) / 2.0
    down = tf.stack([tf.stack([factor, zero, half]), tf.stack([zero, factor, half]),
                     tf.stack([zero, zero, one])])
    return _box_down(source, factor), tf.matmul(m, down)

  if antialias:
    part, m = tf.cond(factor >= 2.0, _down, lambda: (part, m))

  inv = tf.linalg.inv(m)
  inv = inv / inv[2, 2]
  transform = tf.cast(tf.reshape(inv, [9])[:8], tf.float32)[None]
  out = tf.raw_ops.ImageProjectiveTransformV3(
      images=part[None], transforms=transform,
      output_shape=tf.constant([size, size], tf.int32),
      fill_value=tf.constant(0.0, tf.float32), interpolation="BILINEAR", fill_mode="CONSTANT")[0]
  out.set_shape([size, size, image.shape[-1] if image.dtype != tf.string else 3])
  return out


def scale_crops(image, center, scale, image_size: int, scales: Sequence[float],
                scale_pad: float = 1.25, antialias: bool = True):
  """The plain crop at several box sizes (multi-scale test): (n, S, S, C) float32 in [0, 1].

  Crop i is the crop of ``geometry.crop_matrix_tf`` with ``scale_factor = scales[i]`` (box
  side × s about the same centre; s > 1 shows the person smaller), so ``scales[i] == 1`` is
  exactly the evaluation crop of ``augment_example``. ``codecs.heatmap.from_scale`` undoes the
  scaling on the network's heat maps.
  """
  crops = []
  for s in scales:
    params = dict(identity_params(), scale_factor=tf.constant(float(s), tf.float32))
    matrix = geometry.crop_matrix_tf(center, scale, image_size, params, scale_pad)
    crops.append(warp(image, matrix, image_size, antialias=antialias))
  return tf.stack(crops)


def color_jitter(image, seed, cfg: Any = None):
  """Brightness, contrast, saturation and per-channel gains, each a factor in ``[1-c, 1+c]``.

  ``image`` is float in [0, 1] (H, W, 3); the result is clipped to [0, 1]. The
  per-channel multiply is the hourglass port's colour augmentation; the other three are
  the usual photometric jitter at the same strength. ``c = cfg.color``; 0 is a no-op.
  """
  c = float(AugmentConfig.from_any(cfg).color)
  image = tf.convert_to_tensor(image, tf.float32)
  if c <= 0:
    return image
  s_b, s_c, s_s, s_ch = _split(seed, 4)
  lo, hi = 1.0 - c, 1.0 + c
  image = image * _uniform(s_b, lo, hi)
  mean = tf.reduce_mean(image, axis=[-3, -2, -1], keepdims=True)
  image = (image - mean) * _uniform(s_c, lo, hi) + mean
  gray = tf.reduce_sum(image * tf.constant([0.299, 0.587, 0.114]), axis=-1, keepdims=True)
  image = (image - gray) * _uniform(s_s, lo, hi) + gray
  gains = tf.random.stateless_uniform([3], s_ch, minval=lo, maxval=hi)
  return tf.clip_by_value(image * gains, 0.0, 1.0)


def augment_example(example: Mapping[str, Any], seed, cfg: Any, image_size: int,
                    flip_perm: Sequence[int], train: bool, scale_pad: float = 1.25,
                    antialias: bool = True) -> dict:
  """Crop (and, when ``train``, augment) one decoded example.

  Args:
    example: dict with ``image`` (H, W, 3) uint8, ``joints`` (K, 3) x, y, visible,
      ``valid`` (K,), ``center`` (2,), ``scale`` ().
    seed: shape-[2] int tensor; ignored when ``train`` is False.
    cfg: augmentation config (``AugmentConfig``, ConfigDict, mapping or None).
    image_size: side S of the square crop.
    flip_perm: ``skeleton.flip_permutation`` of the example's joint set.
    train: False → identity parameters (the plain crop), no colour jitter.
    scale_pad: crop box padding (``cfg.data.scale_pad``).

  Returns:
    dict: ``image`` (S, S, 3) float32 in [0, 1] (not mean/std normalised);
    ``joints_crop`` (K, 2) crop pixels; ``valid``, ``visible``, ``inside`` (K,) float32
    (``visible`` = flag × valid); ``affine`` (2, 3) crop → image, so that
    ``joints_image = affine @ [x, y, 1]``; ``flip`` (bool). On a flip every per-joint
    output is in flipped order (``joints[perm]``), so entry k is the image position of
    joint k of the *flipped* person: ``affine`` maps ``joints_crop[k]`` to
    ``joints[perm[k]]`` of the input.
  """
  cfg = AugmentConfig.from_any(cfg)
  if train:
    s_geom, s_color = _split(seed, 2)
    params = sample(s_geom, cfg)
  else:
    params = identity_params()
  matrix = geometry.crop_matrix_tf(example["center"], example["scale"], image_size, params,
                                   scale_pad)
  image = warp(example["image"], matrix, image_size, antialias=antialias)
  if train and cfg.color > 0:
    image = color_jitter(image, s_color, cfg)

  joints = tf.cast(example["joints"], tf.float32)
  valid = tf.cast(example["valid"], tf.float32)
  visible = joints[:, 2] * valid
  joints_crop = geometry.apply_affine_tf(joints[:, :2], matrix)
  perm = tf.constant(np.asarray(flip_perm, np.int32))
  flip = tf.cast(params["flip"], tf.bool)

  def _maybe_flip(x):
    return tf.where(flip, tf.gather(x, perm), x)

  joints_crop, valid, visible = _maybe_flip(joints_crop), _maybe_flip(valid), _maybe_flip(visible)
  return dict(
      image=image,
      joints_crop=joints_crop,
      valid=valid,
      visible=visible,
      inside=geometry.inside(joints_crop, image_size),
      affine=geometry.invert_tf(matrix)[:2],
      flip=flip,
  )
