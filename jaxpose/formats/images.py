"""Any decoded image → (H, W, 3) uint8 RGB by its value range: the one conversion that the
training builders (``data.builders.base.to_example``) and ``crops.read_image`` (predict, the
visualiser) share, so a picture means the same to both.

Rules, by PIL mode or numpy dtype (never clipped, so never saturated):

* 8-bit modes (``1``, ``L``, ``P``, ``RGB``, ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``) go through
  Pillow's own conversion; alpha (``LA``, ``PA``, ``RGBA``, ``RGBa``) is dropped, as
  ``tf.io.decode_image(channels=3)`` drops it. Pillow already reduces 16-bit RGB(A) PNGs to these
  8-bit modes (the high byte of each sample).
* ``I;16``, ``I;16B``, ``I;16L``, ``I;16N`` and uint16 arrays: × 255 / 65535, the format's full
  range — a dark 16-bit picture stays dark.
* ``I`` (32-bit signed; Pillow's mode for some 16-bit PNGs and for 32-bit TIFFs) and other
  integer arrays: × 255 / 65535 when every value lies in 0 … 65535, else the actual range
  min … max onto 0 … 255.
* ``F`` and float arrays: × 255 when every value lies in 0 … 1, else the actual range
  min … max onto 0 … 255 (a constant image outside 0 … 1 becomes black). NaN/inf is refused.

Anything else (no pixels, an unknown mode, complex values, more than 4 channels) raises
``DataError`` naming the file.
"""
from __future__ import annotations

import numpy as np

from jaxpose.formats.errors import DataError

SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


def to_rgb8(image, name: str = "<image>") -> np.ndarray:
  """(H, W, 3) uint8 RGB of a PIL image or an (H, W[, 1|3|4]) array (see the module)."""
  from PIL import Image
  if isinstance(image, Image.Image):
    if image.mode in SIXTEEN_BIT:
      return _array_to_rgb8(np.asarray(image).astype(np.uint16), name)
    if image.mode in ("I", "F"):
      return _array_to_rgb8(np.asarray(image), name)
    try:
      rgb = image.convert("RGBA" if "A" in image.mode or "a" in image.mode else "RGB")
    except (ValueError, OSError) as e:
      raise DataError(f"{name}: cannot convert its {image.mode} pixels to RGB ({e})") from None
    return _array_to_rgb8(np.asarray(rgb), name)
  return _array_to_rgb8(np.asarray(image), name)


def _array_to_rgb8(a: np.ndarray, name: str) -> np.ndarray:
  if a.ndim == 3 and a.shape[-1] == 1:
    a = a[..., 0]
  if a.ndim == 2:
    a = a[..., None]
  if a.ndim != 3 or a.shape[-1] not in (1, 3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
    raise DataError(f"{name}: image of shape {a.shape}: expected (H, W), (H, W, 1), (H, W, 3) "
                    "or (H, W, 4)")
  a = a[..., :3] if a.shape[-1] != 1 else a
  out = _scale(a, name)
  return np.ascontiguousarray(np.broadcast_to(out, out.shape[:2] + (3,)))


def _scale(a: np.ndarray, name: str) -> np.ndarray:
  kind = a.dtype.kind
  if a.dtype == np.uint8:
    return a
  if kind == "b":
    return a.astype(np.uint8) * np.uint8(255)
  if kind in "iu":
    lo, hi = int(a.min()), int(a.max())
    if a.dtype == np.uint16 or (lo >= 0 and hi <= 65535):
      return _round(a.astype(np.float64) * (255.0 / 65535.0))
    return _stretch(a.astype(np.float64), lo, hi)
  if kind == "f":
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
      raise DataError(f"{name}: image holds NaN or inf values")
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0.0 and hi <= 1.0:
      return _round(a * 255.0)
    return _stretch(a, lo, hi)
  raise DataError(f"{name}: image values of type {a.dtype} cannot be shown as RGB")


def _stretch(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
  if hi <= lo:
    return np.zeros(a.shape, np.uint8)
  return _round((a - lo) * (255.0 / (hi - lo)))


def _round(a: np.ndarray) -> np.ndarray:
  return np.rint(a).astype(np.uint8)  # inputs lie in [0, 255]: nothing to clip
