"""The evaluation crop of a person in any image, in numpy: no tensorflow, same pixels.

Why a second implementation: the tf.data pipeline cuts crops with tf ops
(``codecs.geometry.crop_matrix_tf`` + ``data.augment.warp``), and a user predicting on their
own images — or a serving client — should not need tensorflow (an 8 s import, a 500 MB
dependency) for one affine warp. This module ports that warp to numpy *operation for
operation*, in the same float32 arithmetic as tensorflow's CPU kernels, so that a record cut
here and the same record cut by the pipeline are the same network input
(tests/inference/test_predict.py measures the difference on random images, boxes and
augmentations, and reproduces evaluate.py's numbers through
``inference.Predictor.predict_batch``).

What is reproduced (tensorflow 2.21 CPU kernels):

* the image → crop matrix — ``codecs.geometry.crop_matrix``, the numpy twin of the pipeline's
  ``geometry.crop_matrix_tf`` (the geometry module keeps both, with ``invert`` and
  ``apply_affine``): composed in float64 from float32 inputs and returned as float32.
* ``warp`` — ``augment.warp``: ``ImageProjectiveTransformV3`` (BILINEAR, CONSTANT fill 0)
  samples crop pixel (x, y) at the image point ``inverse(matrix) @ (x, y, 1)`` in pixel-centre
  coordinates (no half-pixel offsets) and blends its 2×2 neighbours with float32 weights; a
  neighbour outside the image reads the fill value 0, so a point less than a pixel outside the
  image blends with 0 (tensorflow 2.21's kernel tests no bounds first; some older ones
  returned the fill value for any point outside ``[0, W−1] × [0, H−1]``). Antialiasing: when
  one crop pixel covers ``f = floor(1/sqrt|det|) ≥ 2`` image pixels, the image is first
  box-downsampled by ``f`` (the mean of each f × f block of the image's grid, summed in float64,
  which is exact for uint8 sources) and the matrix composed with the block centres
  ``x = f·xs + (f−1)/2``. Both twins cut the ``window`` the crop reads first (the same float64
  arithmetic), so only it is converted and downsampled.
* ``normalise`` — ``(rgb / 255 − MEAN) / STD`` in float32, ``codecs.geometry.MEAN`` / ``STD``.

Measured against tensorflow 2.21: bit-identical (0 difference) on random images, boxes,
rotations, flips and downsampling factors up to 10, and on every evaluation crop of the
synthetic dataset (tests/inference/test_predict.py). The operations follow the kernels' order in float32;
a tensorflow build that fuses a multiply-add differently could move the last bit (≤ 1e-7).

Boxes: a person box is ``(x1, y1, x2, y2)`` in the *edge* convention of detectors (COCO,
mmpose, torchvision): the image spans ``[0, W] × [0, H]``, so the whole image is
``(0, 0, W, H)``. jaxpose's pixel coordinates put pixel centres at integers, so the box
centre in jaxpose coordinates is its midpoint minus 0.5 (``box_to_center_scale``). The scale
is the dataset convention ``person size / 200`` with the *larger* side of the box as the
person size, so the whole box is inside the square crop (for a standing person the larger
side is the height, the convention of the MPII/LSP ``scale``); the crop side is then
``200 · scale · scale_pad``, padded like every training crop. The whole-image box of a
portrait or square image is therefore ``visualize.whole_image_box``'s (which takes the
height); for a landscape image this one keeps the full width in view.

Images (``read_image``): Pillow decodes files and bytes, and ``formats.images.to_rgb8`` (the
conversion the training builders use too) makes (H, W, 3) uint8 RGB of every mode by its value
range (grey and palette images expanded, alpha dropped — what ``tf.io.decode_image(channels=3)``
does; 16-bit, 32-bit and float images scaled, never saturated). PNG
decodes identically. JPEG does not: ``tf.io.decode_image`` (the pipeline's decoder) uses
libjpeg's fast integer IDCT (``dct_method="INTEGER_FAST"``), Pillow the accurate one, which
equals ``tf.io.decode_jpeg(..., dct_method="INTEGER_ACCURATE")`` bit for bit; the two differ by
up to 5 grey levels on LSP's JPEGs (median of the per-image maximum 4, measured on 40 test
images). So on the JPEG datasets (LSP, MPII, FLIC, Buffy) ``Predictor.predict_batch`` on
Pillow-decoded images sees slightly different pixels from evaluate.py; to reproduce it there,
decode with ``tf.io.decode_image`` and pass the arrays. EXIF orientation is applied
(``exif_orientation=True``) so keypoints land on the image as a viewer shows it; tensorflow
ignores EXIF, which matters only for rotated camera JPEGs, never for the datasets' images.
"""
from __future__ import annotations

import io
import math
import os
from typing import Optional, Sequence

import numpy as np

from jaxpose.codecs import geometry
from jaxpose.errors import DataError
from jaxpose.formats import images

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")


class ImageError(DataError):
  """An image that cannot be read or decoded; the message names it."""


# ------------------------------------------------------------------------------ images

def read_image(source, exif_orientation: bool = True) -> np.ndarray:
  """(H, W, 3) uint8 RGB from a path, encoded bytes, a PIL image or an array.

  An array or PIL image is converted by ``formats.images.to_rgb8`` (uint8 as it is, uint16 ×
  255/65535, float in [0, 1] × 255, other ranges stretched; alpha dropped). A file that is
  missing, empty, not a decodable image or of a mode that has no RGB form raises
  ``ImageError`` naming it.
  """
  from PIL import Image, ImageOps, UnidentifiedImageError
  if isinstance(source, np.ndarray):
    return _rgb_array(source)
  if isinstance(source, Image.Image):  # the caller's image: used, not closed
    im = ImageOps.exif_transpose(source) if exif_orientation else source
    return _rgb_array(im)
  name = "<bytes>"
  try:
    if isinstance(source, (bytes, bytearray, memoryview)):
      im = Image.open(io.BytesIO(bytes(source)))
    else:
      name = os.fspath(source)
      im = Image.open(name)
    with im:
      im.load()  # decode now: a truncated file fails here, not later
      if exif_orientation:
        im = ImageOps.exif_transpose(im)
      return _rgb_array(im, name)
  except FileNotFoundError:
    raise ImageError(f"{name}: no such file") from None
  except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
    raise ImageError(f"{name}: cannot read it as an image ({e})") from None


def _rgb_array(image, name: str = "image array") -> np.ndarray:
  try:
    return images.to_rgb8(image, name)
  except DataError as e:
    raise ImageError(str(e)) from None


# ------------------------------------------------------------------------------- boxes

def whole_image_box(height: int, width: int) -> np.ndarray:
  """``(0, 0, W, H)``: the box of the whole image (edge convention)."""
  return np.array([0.0, 0.0, float(width), float(height)], np.float64)


def box_to_center_scale(box) -> tuple[np.ndarray, float]:
  """``(x1, y1, x2, y2)`` (edge convention) → (centre (2,) in jaxpose pixel coordinates,
  scale = larger side / 200). A box without area raises ``ValueError``."""
  x1, y1, x2, y2 = (float(v) for v in np.asarray(box, np.float64).reshape(4))
  w, h = x2 - x1, y2 - y1
  if not (np.isfinite([x1, y1, x2, y2]).all() and w > 0 and h > 0):
    raise ValueError(f"box {[x1, y1, x2, y2]}: expected finite x1 < x2 and y1 < y2")
  center = np.array([(x1 + x2) / 2.0 - 0.5, (y1 + y2) / 2.0 - 0.5], np.float32)
  return center, max(w, h) / 200.0


def center_scale_to_box(center, scale: float) -> np.ndarray:
  """The square box (edge convention) of side ``200 · scale`` around ``center`` (jaxpose
  pixel coordinates): the inverse of ``box_to_center_scale`` for square boxes."""
  cx, cy = (float(v) for v in np.asarray(center, np.float64).reshape(2))
  half = 100.0 * float(scale)
  return np.array([cx + 0.5 - half, cy + 0.5 - half, cx + 0.5 + half, cy + 0.5 + half])


# ----------------------------------------------------------------------------- resampling

def window(matrix, height: int, width: int, image_size: int, factor: float = 1.0):
  """``augment.window``: the columns ``[x0, x1)`` and rows ``[y0, y1)`` a crop reads, snapped
  to multiples of ``factor`` and widened by three of them, clipped, never empty."""
  m = np.asarray(matrix, np.float64)
  f = float(factor)
  inv = np.linalg.inv(m)
  s = float(image_size)
  corners = np.array([[-1.0, -1.0], [s, -1.0], [-1.0, s], [s, s]])
  p = corners @ inv[:2, :2].T + inv[:2, 2]
  limit = np.array([width, height], np.float64)
  lo = np.floor(p.min(0) / f) * f - 3.0 * f
  hi = np.ceil(p.max(0) / f) * f + 3.0 * f
  lo = np.clip(lo, 0.0, np.floor((limit - 1.0) / f) * f)
  hi = np.clip(hi, lo + 1.0, limit)
  return tuple(int(v) for v in (lo[0], lo[1], hi[0], hi[1]))


def _box_down(image: np.ndarray, f: int) -> np.ndarray:
  """``augment._box_down``: the mean of each f × f block (fewer at the right and bottom
  edges); uint8 in [0, 1] (integer sums ÷ (255 · count) in float64), float as given (float64
  sums); float32 out."""
  h, w = image.shape[:2]
  hs, ws = -(-h // f), -(-w // f)
  integer = image.dtype == np.uint8
  x = np.pad(image.astype(np.int64 if integer else np.float64),
             ((0, hs * f - h), (0, ws * f - w), (0, 0)))
  x = x.reshape(hs, f, ws, f, -1).sum(axis=(1, 3))
  rows = np.minimum(f, h - f * np.arange(hs))
  cols = np.minimum(f, w - f * np.arange(ws))
  count = (rows[:, None, None] * cols[None, :, None]).astype(np.float64)
  if integer:
    count = count * 255.0
  return (x.astype(np.float64) / count).astype(np.float32)


def _bilinear(image: np.ndarray, transform: np.ndarray, size: int) -> np.ndarray:
  """``ImageProjectiveTransformV3`` BILINEAR / CONSTANT 0 of one (H, W, C) float32 image with
  the 8-vector float32 ``transform`` (output pixel → input point), output (size, size, C)."""
  h, w = image.shape[:2]
  t = transform.astype(np.float32)
  oy, ox = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32),
                       indexing="ij")
  proj = t[6] * ox + t[7] * oy + np.float32(1.0)
  x = (t[0] * ox + t[1] * oy + t[2]) / proj
  y = (t[3] * ox + t[4] * oy + t[5]) / proj
  # No bounds test before interpolating: every neighbour outside the image reads the fill
  # value, so a point less than a pixel outside blends with it (the tf 2.21 kernel).
  ok = (proj != 0) & np.isfinite(x) & np.isfinite(y) & (np.abs(x) < 2 ** 30) & (np.abs(y) < 2 ** 30)
  x, y = np.where(ok, x, -2).astype(np.float32), np.where(ok, y, -2).astype(np.float32)
  x0, y0 = np.floor(x), np.floor(y)
  x1, y1 = x0 + 1, y0 + 1
  xi0, yi0 = x0.astype(np.int64), y0.astype(np.int64)

  def read(yy, xx):
    inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
    v = image[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)]
    return np.where(inside[..., None], v, np.float32(0.0))

  ax0, ax1 = (x1 - x)[..., None], (x - x0)[..., None]
  top = ax0 * read(yi0, xi0) + ax1 * read(yi0, xi0 + 1)
  bottom = ax0 * read(yi0 + 1, xi0) + ax1 * read(yi0 + 1, xi0 + 1)
  out = (y1 - y)[..., None] * top + (y - y0)[..., None] * bottom
  return np.where(ok[..., None], out, np.float32(0.0)).astype(np.float32)


def warp(image, matrix, image_size: int, antialias: bool = True) -> np.ndarray:
  """``augment.warp`` in numpy: (H, W, C) uint8 0–255 or float → (S, S, C) float32 crop.

  ``matrix`` (3, 3) maps image → crop. Only the ``window`` the crop reads is converted and
  downsampled, so a crop of a 12-megapixel photo costs what a crop of a small one does. See
  the module docstring for the kernels it follows.
  """
  image = np.asarray(image)
  m = np.asarray(matrix, np.float32).astype(np.float64)
  size = int(image_size)
  factor = 1.0
  if antialias:
    det = abs(m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0])
    factor = max(math.floor(1.0 / math.sqrt(det)), 1.0) if det > 0 else 1.0
  x0, y0, x1, y1 = window(m, image.shape[0], image.shape[1], size, factor)
  part = source = image[y0:y1, x0:x1]
  if part.dtype == np.uint8:
    part = part.astype(np.float32) / np.float32(255.0)
  else:
    part = part.astype(np.float32)
  m = m @ np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
  if factor >= 2.0:
    half = (factor - 1.0) / 2.0
    part = _box_down(source, int(factor))
    m = m @ np.array([[factor, 0.0, half], [0.0, factor, half], [0.0, 0.0, 1.0]])
  inv = np.linalg.inv(m)
  inv = inv / inv[2, 2]
  return _bilinear(part, inv.reshape(9)[:8].astype(np.float32), size)


def normalise(crop) -> np.ndarray:
  """[0, 1] crop(s) → the network's input ``(crop − MEAN) / STD`` (``geometry.MEAN`` /
  ``STD``), float32."""
  return ((np.asarray(crop, np.float32) - geometry.MEAN) / geometry.STD).astype(np.float32)


def crop(image, center, scale, image_size: int, scale_pad: float = 1.25,
         scale_factor: float = 1.0, antialias: bool = True) -> tuple[np.ndarray, np.ndarray]:
  """The evaluation crop of one person: ``(crop (S, S, 3) float32 in [0, 1], affine (2, 3)
  crop → image)``, as the pipeline cuts a record with this centre and scale
  (``scale_factor`` ≠ 1: the box side × that factor, one crop of the multi-scale test)."""
  m = geometry.crop_matrix(center, scale, image_size, dict(scale_factor=scale_factor), scale_pad)
  return warp(image, m, image_size, antialias=antialias), geometry.invert(m)[:2]


def scale_crops(image, center, scale, image_size: int, scales: Sequence[float],
                scale_pad: float = 1.25, antialias: bool = True) -> np.ndarray:
  """(n, S, S, 3) crops with the box side × ``scales[i]`` (``augment.scale_crops``)."""
  return np.stack([crop(image, center, scale, image_size, scale_pad, s, antialias)[0]
                   for s in scales])


def list_images(paths: Sequence[str], recursive: bool = False) -> list[str]:
  """Image files named by ``paths``: files as given, folders expanded to the image files in
  them (by suffix, sorted; ``recursive`` descends). A missing path raises ``ImageError``."""
  out = []
  for p in paths:
    if os.path.isdir(p):
      found = []
      for dirpath, dirs, files in os.walk(p):
        dirs.sort()
        found += [os.path.join(dirpath, f) for f in files
                  if f.lower().endswith(IMAGE_SUFFIXES) and not f.startswith(".")]
        if not recursive:
          break
      out += sorted(found)
    elif os.path.exists(p):
      out.append(p)
    else:
      raise ImageError(f"{p}: no such file or folder")
  return out


def check_overlap(box, height: int, width: int) -> None:
  """``ValueError`` unless ``box`` (edge convention) shares some area with the ``width`` ×
  ``height`` image: a box beside the image gives keypoints of nothing but padding."""
  x1, y1, x2, y2 = (float(v) for v in np.asarray(box, np.float64).reshape(4))
  if not (x1 < width and x2 > 0 and y1 < height and y2 > 0):
    raise ValueError(f"box {[x1, y1, x2, y2]} does not overlap the {width}×{height} image "
                     f"(which spans [0, {width}] × [0, {height}])")


def optional_box(box: Optional[Sequence[float]], height: int, width: int) -> np.ndarray:
  """``box`` as a float64 (4,) array, or the whole image's box when ``box`` is None. A box
  without area or outside the image raises ``ImageError``."""
  if box is None:
    return whole_image_box(height, width)
  try:
    box_to_center_scale(box)
    check_overlap(box, height, width)
  except ValueError as e:
    raise ImageError(str(e)) from None
  return np.asarray(box, np.float64).reshape(4)
