"""HMLPE's learned features as pictures (Li, Liu & Chan 2014 §5): Algorithm 1's backtracked
patches (Fig. 6b/6c, Fig. 7) and the first-layer filters (Fig. 6a)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from jaxpose.visualize.drawing import NO_PATCH, _as_uint8, _font, _label, _resize, grid

def backtrack_boxes(layers, rows, cols) -> np.ndarray:
  """Algorithm 1 of Li et al. 2014 (§5) on arrays of activation positions.

  ``layers``: the stack from the input up to and including the layer of the activations, as the
  model lists it (``HMLPE.layers()[:i + 1]``: ``receptive_field.Layer``s); ``rows``, ``cols``:
  integer arrays of one shape. Returns ``(..., 4)`` int64 boxes ``(y0, x0, y1, x1)``, start
  inclusive and end exclusive (``image[y0:y1, x0:x1]``), ``models.hmlpe.backtrack``'s box for
  every position at once: on unpadded layers Algorithm 1's walk back (``R_l ← R_l·stride``,
  ``R_u ← R_u·stride + filter − 1``) is the receptive-field recurrence of
  ``receptive_field.input_box``, evaluated here on the arrays. Algorithm 1 has no padding term,
  so a padded layer is refused rather than given boxes that leave the image.
  """
  from jaxpose.models import receptive_field
  ly, lx = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
  if ly.shape != lx.shape:
    raise ValueError(f"rows and cols of different shapes {ly.shape} and {lx.shape}")
  for layer in layers:
    if int(layer.padding):
      raise ValueError(f"layer {layer.name!r} is padded ({layer.padding}); Algorithm 1 backtracks "
                       "unpadded layers only")
  box = receptive_field.input_box(list(layers), ly, lx)
  # a box edge that does not depend on the position comes back as a scalar: broadcast it
  return np.stack([np.broadcast_to(np.rint(np.asarray(v, np.float64)).astype(np.int64), ly.shape)
                   for v in box], axis=-1)


def max_positions(maps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """``(rows, cols, values)``, each (B, C): where each of the C maps of (B, h, w, C) activations
  has its maximum (the first in row-major order on ties; one argmax over h·w) and its value."""
  maps = np.asarray(maps)
  b, h, w, c = maps.shape
  flat = maps.reshape(b, h * w, c)
  idx = flat.argmax(axis=1)
  values = np.take_along_axis(flat, idx[:, None], axis=1)[:, 0]
  rows, cols = np.divmod(idx, w)
  return rows, cols, values


def cut_patches(images, boxes) -> np.ndarray:
  """The (B, M, s, s', C) patches of (B, H, W, C) ``images`` under (B, M, 4) ``boxes``
  ``(y0, x0, y1, x1)``, by one gather. Every box must have the same size (true of backtracked
  boxes on unpadded layers: the size is the layer's receptive field) and lie inside the image."""
  images, boxes = np.asarray(images), np.asarray(boxes, np.int64)
  sizes = (boxes[..., 2:] - boxes[..., :2]).reshape(-1, 2)
  if not len(sizes):
    return np.zeros(boxes.shape[:2] + (0, 0) + images.shape[3:], images.dtype)
  if (sizes != sizes[0]).any() or (sizes[0] < 1).any():
    raise ValueError(f"boxes of different or empty sizes: {np.unique(sizes, axis=0).tolist()}")
  h, w = images.shape[1:3]
  if (boxes[..., :2] < 0).any() or (boxes[..., 2] > h).any() or (boxes[..., 3] > w).any():
    raise ValueError(f"a box leaves the {h}x{w} image")
  ys = boxes[..., 0, None] + np.arange(sizes[0, 0])  # (B, M, s)
  xs = boxes[..., 1, None] + np.arange(sizes[0, 1])  # (B, M, s')
  b = np.arange(len(images))[:, None, None, None]
  return images[b, ys[..., :, None], xs[..., None, :]]


def backtracked_patches(maps, images, layers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Fig. 7 for a batch: for every image and feature map, the input patch behind the map's
  maximum activation. ``maps`` (B, h, w, C) activations of the last layer of ``layers`` on
  ``images`` (B, H, W, 3). Returns ``patches`` (B, C, s, s, 3), ``boxes`` (B, C, 4) and
  ``active`` (B, C): the maximum is > 0 (a map that stays 0 after its ReLU on an image has no
  position of maximum; its patch would be the arbitrary top-left one)."""
  rows, cols, values = max_positions(maps)
  boxes = backtrack_boxes(layers, rows, cols)
  return cut_patches(images, boxes), boxes, values > 0


class PatchMean:
  """Fig. 6b/6c: the running mean of each map's backtracked patches, batch by batch (so the
  average can run over a whole split without holding its patches)."""

  def __init__(self):
    self.total = self.count = None

  def add(self, patches, active) -> None:
    """``patches`` (B, C, s, s, 3), ``active`` (B, C): only active patches count."""
    a = np.asarray(active, np.float64)
    total = np.einsum("bc,bc...->c...", a, np.asarray(patches, np.float64))
    count = a.sum(axis=0).astype(np.int64)
    if self.total is None:
      self.total, self.count = total, count
    else:
      self.total, self.count = self.total + total, self.count + count

  def mean(self) -> tuple[np.ndarray, np.ndarray]:
    """``(mean (C, s, s, 3) float32, NaN where a map never fired; count (C,))``."""
    c = self.count.reshape((-1,) + (1,) * (self.total.ndim - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
      return (self.total / c).astype(np.float32), self.count


def _map_colours(n: int) -> np.ndarray:
  from matplotlib import colormaps
  return np.round(colormaps["hsv"](np.arange(n) / max(n, 1))[:, :3] * 255).astype(np.uint8)


def _text_tile(lines: Sequence[str], tile: int, size: int) -> np.ndarray:
  image = Image.new("RGB", (tile, tile))
  draw, font = ImageDraw.Draw(image), _font(size)
  for i, line in enumerate(lines):
    draw.text((3, 2 + i * (size + 3)), line, fill=(255, 255, 255), font=font)
  return np.asarray(image)


def _patch_tile(patch, tile: int, label: str = "", font: int = 9, colour=None) -> np.ndarray:
  """A patch upscaled without smoothing (its pixels stay visible); grey where ``patch`` is None."""
  if patch is None:
    t = Image.new("RGB", (tile, tile), NO_PATCH)
  else:
    t = Image.fromarray(_as_uint8(patch)).resize((tile, tile), Image.NEAREST)
  if colour is not None:  # the map's colour, as its boxes are drawn in the Fig. 7 rows
    ImageDraw.Draw(t).rectangle([0, tile - max(2, tile // 24), tile - 1, tile - 1],
                                fill=tuple(int(v) for v in colour))
  if label:
    _label(t, label, font)
  return np.asarray(t)


def backtrack_figure(mean, count, seen: int, shown: Sequence[tuple], size: int, tile: int = 96,
                     title: str = "") -> np.ndarray:
  """The ``backtrack`` figure, ``(1 + len(shown)) * tile`` high and ``(1 + C) * tile`` wide, uint8.

  Row 0 (Fig. 6b/6c): a title cell, then map k's mean patch (``mean`` (C, s, s, 3) in [0, 1],
  NaN where ``count`` is 0), labelled k + 1 (and its image count when it fired on fewer than
  ``seen`` images), with a strip of the map's colour. Each ``shown`` entry ``(index, crop
  (S, S, 3) uint8, patches (C, s, s, 3), boxes (C, 4), active (C,))`` is a row (Fig. 7): the crop
  with every active map's box in its colour, labelled ``#index``, then the patches (grey where the
  map did not fire on that image).
  """
  c = len(count)
  font, colours = max(9, tile // 8), _map_colours(c)
  head = [_text_tile([title, f"mean of {seen}"], tile, font)]
  for k in range(c):
    label = f"{k + 1}" if count[k] == seen else f"{k + 1} ({count[k]})"
    head.append(_patch_tile(mean[k] if count[k] else None, tile, label, font, colours[k]))
  rows = [head]
  f = tile / float(size)
  for index, crop, patches, boxes, active in shown:
    im = Image.fromarray(_resize(crop, tile))
    draw = ImageDraw.Draw(im)
    for k in np.flatnonzero(active):
      y0, x0, y1, x1 = boxes[k]
      draw.rectangle([x0 * f, y0 * f, x1 * f - 1, y1 * f - 1],
                     outline=tuple(int(v) for v in colours[k]))
    _label(im, f"#{index}", font)
    rows.append([np.asarray(im)] + [_patch_tile(p if a else None, tile)
                                    for p, a in zip(patches, active)])
  return grid([t for row in rows for t in row], 1 + c)


def _filter_columns(n: int) -> int:
  """A divisor of ``n`` at or just above √n (32 filters → 8 × 4), else ⌈√n⌉."""
  lo = math.ceil(math.sqrt(n))
  return next((c for c in range(lo, 2 * lo + 1) if n % c == 0), lo)


def filters_figure(filters, tile: int = 48, cols: int = 0) -> np.ndarray:
  """Fig. 6a: (F, k, k, 3) filters in [0, 1] as a grid of ``tile``-pixel cells, each filter
  upscaled without smoothing inside a dark border; row-major, filter i in cell i. Cells of 64
  pixels or more are numbered from 1. ``(⌈F / cols⌉ * tile, cols * tile, 3)`` uint8."""
  filters = np.asarray(filters)
  cols = int(cols) or _filter_columns(len(filters))
  border, tiles = max(1, tile // 16), []
  for i, f in enumerate(filters):
    t = np.full((tile, tile, 3), 24, np.uint8)
    inner = tile - 2 * border
    t[border:border + inner, border:border + inner] = np.asarray(
        Image.fromarray(_as_uint8(f)).resize((inner, inner), Image.NEAREST))
    if tile >= 64:
      im = Image.fromarray(t)
      _label(im, str(i + 1), max(9, tile // 8))
      t = np.asarray(im)
    tiles.append(t)
  return grid(tiles, cols)


# --------------------------------------------------------------------------- commands
