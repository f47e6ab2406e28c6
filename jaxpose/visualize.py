"""Pictures as PNG: skeleton overlays of predictions, heat maps before/after refinement, and the
learned features of HMLPE.

  python -m jaxpose.visualize overlay --workdir=DIR [--split=validation] [--num=16] [--which=best]
  python -m jaxpose.visualize heatmaps --workdir=DIR --image=PATH [--center=x,y --scale=s]
  python -m jaxpose.visualize heatmaps --workdir=DIR --index=N [--split=test]
  python -m jaxpose.visualize backtrack --workdir=DIR [--layer=3] [--num_images=200] [--show=8]
                                        [--split=train] [--out=patches.png]
  python -m jaxpose.visualize filters --workdir=DIR [--out=filters.png]

``overlay`` draws the network's predictions (thick sticks coloured by side, filled dots) and the
ground truth (thin white sticks, rings) on the evaluation crops of the first N records of a split,
exactly as evaluate.py sees them. Default output ``DIR/eval/<dataset>_<split>_overlay.png``.

``heatmaps`` draws the columns the model's family chooses (``family.heatmap_panels``): for MSN
Fig. 3 of Ke et al. 2018 (§2.2) — for one person, per joint (one row each), the heat maps
*before* the global keypoint regression network (the last conv-deconv module's GT-scale map) and
*after* it side by side, overlaid on the crop; the first row shows the pose decoded from each
column (Fig. 3 a, c). For a network without a regression stage (hourglass, PBN) there is one
column, the final maps, or with ``--stacks`` one column per stack (then the regression output
where there is one). Families without heat maps (coordinate regressors) have only ``overlay``. The figure is ``(K + 1)`` rows × columns of ``--tile``-pixel squares.
A file is cropped like the pipeline crops a record (``crop_image``: the same image → crop affine
and resampling as ``jaxpose.data.augment``); without ``--center/--scale`` the box is the whole
image (``whole_image_box``: its centre, scale = height / 200, i.e. the image height is taken as
the person height and padded by ``data.scale_pad`` like any record). Default output
``DIR/eval/heatmaps_<image stem>.png`` (``heatmaps_<dataset>_<split>_<N>.png`` for ``--index``).

Colours: left joints and limbs blue, right orange, centre (head, neck, torso) yellow. Heat maps
use the ``jet`` colour map scaled per panel to its own peak (``--vmax`` fixes the scale), and each
panel is labelled with the joint name and its peak value.

``backtrack`` and ``filters`` show the features of an HMLPE network (Li, Liu & Chan 2014 §5;
other models are refused in one line). ``filters`` is Fig. 6a: the conv1 kernels
(``HMLPE.first_layer_filters``, each min-max scaled) as an upscaled image grid, filter i at
row-major position i. ``backtrack`` is Algorithm 1 with Fig. 6b/6c and Fig. 7: for every feature
map of conv layer ``--layer`` (2 or 3), the position of its maximum activation on an image is
traced back through the shared layers to the input patch it sees (``backtrack_boxes``, from the
model's own ``layers()``); row 0 of the figure is each map's patch averaged over the first
``--num_images`` un-augmented crops of ``--split`` (default the training split, as §5 averages
over the training images; a map that never fires on an image is left out of its mean), and each
of the next ``--show`` rows is one image (Fig. 7): the crop with every map's box outlined in the
map's colour, then the maps' patches in feature order. Columns are numbered from 1, as the
paper numbers its features. Default output ``DIR/eval/backtrack_conv<L>_<dataset>_<split>.png``
and ``DIR/eval/filters_conv1.png``.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from jaxpose import skeleton as skel
from jaxpose.errors import USER_ERRORS, ConfigError, DataError

SIDE_COLOURS = {"left": (30, 144, 255), "right": (255, 110, 30), "centre": (250, 215, 0)}
GT_COLOUR = (255, 255, 255)
NO_PATCH = (96, 96, 96)  # a feature map that did not fire on an image


# ----------------------------------------------------------------------------- drawing

def joint_side(name: str) -> str:
  """"left" / "right" for ``l_*`` / ``r_*`` joint names, else "centre"."""
  return "left" if name.startswith("l_") else "right" if name.startswith("r_") else "centre"


def limb_side(skeleton: skel.Skeleton, a: int, b: int) -> str:
  """A limb's side: that of its sided end(s); left–right (e.g. across the shoulders) is centre."""
  sides = {joint_side(skeleton.joints[a]), joint_side(skeleton.joints[b])} - {"centre"}
  return sides.pop() if len(sides) == 1 else "centre"


def _as_uint8(image) -> np.ndarray:
  image = np.asarray(image)
  if image.dtype != np.uint8:
    image = np.clip(np.round(image.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
  return image


def _usable(joints, valid, k: int) -> tuple[np.ndarray, np.ndarray]:
  joints = np.asarray(joints, np.float64)[:, :2]
  ok = np.ones(k, bool) if valid is None else np.asarray(valid).reshape(-1) > 0
  return joints, ok & np.isfinite(joints).all(axis=1)


def draw_skeleton(image, joints, skeleton: skel.Skeleton, valid=None, *, gt=None, gt_valid=None,
                  radius: Optional[int] = None, width: Optional[int] = None) -> np.ndarray:
  """A copy of ``image`` with the pose drawn on it.

  Args:
    image: (H, W, 3) uint8, or float in [0, 1].
    joints: (K, 2) or (K, 3) predicted (or any) joints, pixel centres at integers.
    skeleton: the joint set (names give the side colours, ``limbs`` the sticks).
    valid: (K,) 1 = draw; a limb is drawn only when both ends are drawn. NaN joints are skipped.
    gt, gt_valid: optional ground truth, drawn first (under ``joints``) in a second style: thin
      white sticks and white rings.
    radius, width: dot radius and stick width in pixels (default from the image size).

  Returns:
    (H, W, 3) uint8. Predicted sticks are ``SIDE_COLOURS[limb_side]``, then dots filled with
    ``SIDE_COLOURS[joint_side]`` (outlined in black) at every drawn joint.
  """
  out = Image.fromarray(np.ascontiguousarray(_as_uint8(image)[..., :3]))
  k = skeleton.num_joints
  radius = max(2, round(min(out.size) / 80)) if radius is None else radius
  width = max(1, round(radius * 0.75)) if width is None else width
  draw = ImageDraw.Draw(out)
  for pts, v, is_gt in ([(gt, gt_valid, True)] if gt is not None else []) + [(joints, valid, False)]:
    p, ok = _usable(pts, v, k)
    for a, b in skeleton.limbs:
      if ok[a] and ok[b]:
        draw.line([tuple(p[a]), tuple(p[b])], width=max(1, width // 2) if is_gt else width,
                  fill=GT_COLOUR if is_gt else SIDE_COLOURS[limb_side(skeleton, a, b)])
    for j in np.flatnonzero(ok):
      box = [p[j, 0] - radius, p[j, 1] - radius, p[j, 0] + radius, p[j, 1] + radius]
      if is_gt:
        draw.ellipse(box, outline=GT_COLOUR, width=1)
      else:
        draw.ellipse(box, fill=SIDE_COLOURS[joint_side(skeleton.joints[j])], outline=(0, 0, 0))
  return np.asarray(out)


def _font(size: int):
  try:
    return ImageFont.load_default(size=size)
  except TypeError:  # Pillow without FreeType: the fixed bitmap font
    return ImageFont.load_default()


def _label(image: Image.Image, text: str, size: int) -> None:
  """White text on a dark strip at the top-left corner."""
  draw, font = ImageDraw.Draw(image), _font(size)
  box = draw.textbbox((3, 2), text, font=font)
  draw.rectangle([0, 0, box[2] + 3, box[3] + 2], fill=(0, 0, 0))
  draw.text((3, 2), text, fill=(255, 255, 255), font=font)


def _resize(image: np.ndarray, tile: int) -> np.ndarray:
  return np.asarray(Image.fromarray(image).resize((tile, tile), Image.BILINEAR))


def _to_tile(points, size: int, tile: int) -> np.ndarray:
  """Crop pixels → tile pixels (outer edges coincide, pixel centres at integers)."""
  return (np.asarray(points, np.float64)[..., :2] + 0.5) * (tile / size) - 0.5


def grid(tiles: Sequence[np.ndarray], cols: int) -> np.ndarray:
  """Equal-size (T, T', 3) tiles in row-major order; empty cells black."""
  h, w = tiles[0].shape[:2]
  out = np.zeros((math.ceil(len(tiles) / cols) * h, cols * w, 3), np.uint8)
  for i, t in enumerate(tiles):
    r, c = divmod(i, cols)
    out[r * h:(r + 1) * h, c * w:(c + 1) * w] = t
  return out


def heatmap_tile(crop: np.ndarray, heatmap: np.ndarray, tile: int,
                 vmax: Optional[float] = None) -> np.ndarray:
  """One (h, w) heat map in ``jet`` over the dimmed crop; ``vmax`` None = the map's own peak."""
  from matplotlib import colormaps
  top = float(np.max(heatmap)) if vmax is None else float(vmax)
  v = np.clip(np.asarray(heatmap, np.float32) / max(top, 1e-6), 0.0, 1.0)
  # Bilinear with half-pixel centres: the heat-map grid and the crop share their outer edges.
  v = np.asarray(Image.fromarray(v).resize((tile, tile), Image.BILINEAR))
  colour = colormaps["jet"](np.clip(v, 0, 1))[..., :3] * 255.0
  alpha = (0.25 + 0.6 * np.clip(v, 0, 1))[..., None]
  base = _resize(crop, tile).astype(np.float32) * 0.6
  return np.clip(base * (1 - alpha) + colour * alpha, 0, 255).astype(np.uint8)


def heatmap_figure(crop: np.ndarray, columns: Sequence[tuple[str, np.ndarray]],
                   skeleton: skel.Skeleton, tile: int = 160, vmax: Optional[float] = None,
                   gt=None, gt_valid=None) -> np.ndarray:
  """Fig. 3 layout: ``(K + 1) * tile`` high, ``len(columns) * tile`` wide, uint8.

  ``crop`` (S, S, 3) uint8; ``columns`` (title, (h, w, K) heat maps) pairs. Row 0: the crop with
  the pose decoded from each column's maps (and ``gt``/``gt_valid`` in crop pixels, if given);
  row 1 + k: joint k's map of each column, labelled with its name and peak value.
  """
  from jaxpose.codecs import heatmap as heatmap_codec
  size, font = crop.shape[0], max(9, tile // 14)
  rows = [[], *([] for _ in range(skeleton.num_joints))]
  for title, maps in columns:
    codec = heatmap_codec.HeatmapCodec(size, maps.shape[0])
    crop_xy, peak = codec.decode(np.asarray(maps, np.float32))
    pose = _to_tile(crop_xy, size, tile)
    g = None if gt is None else _to_tile(gt, size, tile)
    head = Image.fromarray(draw_skeleton(_resize(crop, tile), pose, skeleton, peak > 0, gt=g,
                                         gt_valid=gt_valid))
    _label(head, title, font)
    rows[0].append(np.asarray(head))
    for k, name in enumerate(skeleton.joints):
      t = Image.fromarray(heatmap_tile(crop, maps[..., k], tile, vmax))
      _label(t, f"{name} {peak[k]:.2f}", font)
      rows[1 + k].append(np.asarray(t))
  return grid([t for row in rows for t in row], len(columns))


def save_png(image: np.ndarray, path: str) -> str:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  Image.fromarray(image).save(path)
  return path


# ------------------------------------------------------------------- crops and the model

def whole_image_box(height: int, width: int) -> tuple[np.ndarray, float]:
  """(centre, scale) of a box around a whole image: its centre, its height as person height."""
  return np.array([(width - 1) / 2.0, (height - 1) / 2.0], np.float32), height / 200.0


def crop_image(image: np.ndarray, center, scale: float, image_size: int,
               scale_pad: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
  """The evaluation crop of one image and box: ``(crop (S, S, 3) float32 in [0, 1], affine
  (2, 3) crop → image)``, by the pipeline's own ``augment.crop_matrix`` and ``augment.warp``
  (identity augmentation), so a file is seen exactly as a dataset record would be."""
  from jaxpose.data import augment
  m = augment.crop_matrix(np.asarray(center, np.float32), np.float32(scale), image_size,
                          scale_pad=scale_pad)
  crop = augment.warp(np.asarray(image, np.uint8), m, image_size)
  return crop.numpy(), augment.invert(m).numpy()[:2]


def normalise(crop: np.ndarray) -> np.ndarray:
  """[0, 1] crop → the network's input (ImageNet mean/std of the pipeline)."""
  from jaxpose.data.pipeline import MEAN, STD
  return ((np.asarray(crop, np.float32) - MEAN) / STD).astype(np.float32)


def display(image: np.ndarray) -> np.ndarray:
  """A normalised network input back to uint8 RGB."""
  from jaxpose.data.pipeline import MEAN, STD
  return _as_uint8(np.asarray(image, np.float32) * STD + MEAN)


def image_to_crop(points, affine) -> np.ndarray:
  """(K, 2+) image pixels → crop pixels through the inverse of a (2, 3) crop → image affine."""
  a = np.asarray(affine, np.float64)
  return (np.asarray(points, np.float64)[:, :2] - a[:, 2]) @ np.linalg.inv(a[:, :2]).T


# ------------------------------------------------- HMLPE features (Li, Liu & Chan 2014 §5)

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

def _load(args):
  """(Predictor, workdir) of ``--workdir``/``--which``, on ``--dataset`` where one is given."""
  from jaxpose import inference
  overrides = {}
  if getattr(args, "dataset", None):
    overrides = {"name": args.dataset, "root": args.data_root or "", "skeleton": ""}
  workdir, _ = inference.resolve_checkpoint(args.workdir, args.which)
  return inference.load(args.workdir, args.which, data_overrides=overrides), workdir


def _split(args, config) -> str:
  from jaxpose.data import datasets  # tf-free; the one split-alias table
  return datasets.canonical_split(args.split) or config.data.eval_split


def _examples(cfg, split: str, wanted) -> list:
  """The evaluation examples (dicts of one record's batch entries) whose record index is in
  ``wanted``, in index order: a split is stored in no particular order, so it is read until
  all are found (at most once through)."""
  from jaxpose.data import pipeline
  wanted, found = {int(i) for i in wanted}, {}
  for batch in pipeline.eval_batches(cfg, split, 32):
    for i in np.flatnonzero(batch["mask"]):
      if int(batch["index"][i]) in wanted:
        found[int(batch["index"][i])] = {k: v[i] for k, v in batch.items()}
    if len(found) == len(wanted):
      break
  return [found[j] for j in sorted(found)]


def overlay(args) -> str:
  """``overlay``: predictions and ground truth on the evaluation crops of records 0 … num-1."""
  from jaxpose.inference import Predictor
  predictor, workdir = _load(args)
  cfg = predictor.config
  if args.flip or (args.flip is None and cfg.eval.flip):  # default: as evaluate.py
    predictor = Predictor(cfg, predictor.variables, predictor.step, flip=True)
  split, size = _split(args, cfg), int(cfg.data.image_size)
  tile, tiles = args.tile or max(size, 128), []
  examples = _examples(cfg, split, range(args.num))
  for start in range(0, len(examples), 32):
    chunk = examples[start:start + 32]
    pred = predictor.predict_crops(np.stack([e["image"] for e in chunk]))
    for e, p, ok in zip(chunk, pred["joints"], pred["score"] > 0):
      gt = image_to_crop(e["joints"], e["affine"])
      t = Image.fromarray(draw_skeleton(
          _resize(display(e["image"]), tile), _to_tile(p, size, tile), predictor.skeleton, ok,
          gt=_to_tile(gt, size, tile), gt_valid=e["valid"]))
      _label(t, f"#{int(e['index'])}", max(9, tile // 14))
      tiles.append(np.asarray(t))
  path = args.output or os.path.join(workdir, "eval", f"{cfg.data.name}_{split}_overlay.png")
  return save_png(grid(tiles, math.ceil(math.sqrt(len(tiles)))), path)


def heatmaps(args) -> str:
  """``heatmaps``: Fig. 3 of Ke et al. 2018 for one image or record."""
  predictor, workdir = _load(args)
  cfg = predictor.config
  size = int(cfg.data.image_size)
  gt = gt_valid = None
  if args.index is not None:
    split = _split(args, cfg)
    ex = (_examples(cfg, split, [args.index]) or [None])[0]
    if ex is None:
      raise DataError(f"{cfg.data.name}/{split}: no record with index {args.index}")
    x, stem = ex["image"], f"{cfg.data.name}_{split}_{args.index}"
    gt, gt_valid = image_to_crop(ex["joints"], ex["affine"]), ex["valid"]
  else:
    if not os.path.isfile(args.image):
      raise FileNotFoundError(f"--image: file not found: {args.image}")
    with Image.open(args.image) as im:
      image = np.asarray(im.convert("RGB"))
    center, scale = ((args.center, args.scale) if args.center
                     else whole_image_box(*image.shape[:2]))
    crop, _ = crop_image(image, center, scale, size, float(cfg.data.get("scale_pad", 1.25)))
    x, stem = normalise(crop), os.path.splitext(os.path.basename(args.image))[0]
  columns = predictor.family.heatmap_panels(predictor.outputs(x[None]), 0, args.stacks)
  if not columns:
    raise ConfigError(f"model {cfg.model.name!r} ({predictor.family.name} family) makes no heat "
                      "maps; draw its predictions with `overlay`")
  fig = heatmap_figure(display(x), columns, predictor.skeleton, args.tile, args.vmax or None,
                       gt=gt, gt_valid=gt_valid)
  return save_png(fig, args.output or os.path.join(workdir, "eval", f"heatmaps_{stem}.png"))


def _hmlpe(args):
  """(Predictor, workdir) of ``--workdir``, refused unless the model is an HMLPE."""
  predictor, workdir = _load(args)
  model, name = predictor.model, predictor.config.model.name
  if predictor.family.name != "hmlpe" or not all(
      callable(getattr(model, m, None)) for m in ("layers", "feature_maps", "first_layer_filters")):
    raise ConfigError(f"model.name={name!r} is not hmlpe: `{args.command}` shows the features of "
                      "the HMLPE network (Li et al. 2014 §5); other models have `overlay` and "
                      "`heatmaps`")
  return predictor, workdir


def backtrack(args) -> str:
  """``backtrack``: Algorithm 1's patches of conv layer ``--layer``, averaged (Fig. 6b/6c) and
  per image (Fig. 7)."""
  import jax
  from jaxpose.data import datasets, pipeline
  predictor, workdir = _hmlpe(args)
  model, cfg = predictor.model, predictor.config
  layers, name = model.layers(), f"conv{args.layer}"
  names = [l.name for l in layers]
  if name not in names:
    convs = [int(n[4:]) for n in names if n.startswith("conv")]
    raise ConfigError(f"--layer={args.layer}: this HMLPE has conv layers {convs}")
  stack = layers[:names.index(name) + 1]
  split = datasets.canonical_split(args.split) or cfg.data.train_split
  limit = int(args.num_images) or None  # 0: the whole split
  fmaps = jax.jit(lambda v, x: model.feature_maps(v, x, name))
  acc, shown, seen = PatchMean(), [], 0
  for batch in pipeline.eval_batches(cfg, split, int(cfg.eval.batch_size), inputs=()):
    keep = np.flatnonzero(batch["mask"])[:None if limit is None else limit - seen]
    maps = np.asarray(fmaps(predictor.variables, batch["image"]))[keep]
    crops = display(batch["image"][keep])
    patches, boxes, active = backtracked_patches(maps, crops, stack)
    acc.add(patches, active)
    for i in range(min(len(keep), args.show - len(shown))):
      shown.append((int(batch["index"][keep[i]]), crops[i], patches[i], boxes[i], active[i]))
    seen += len(keep)
    if limit is not None and seen >= limit:
      break
  if not seen:
    raise DataError(f"{cfg.data.name}/{split}: no images to backtrack")
  mean, count = acc.mean()
  fig = backtrack_figure(mean / 255.0, count, seen, shown, int(cfg.data.image_size), args.tile,
                         name)  # the patches are uint8 crops
  return save_png(fig, args.output or os.path.join(
      workdir, "eval", f"backtrack_{name}_{cfg.data.name}_{split}.png"))


def filters(args) -> str:
  """``filters``: the first-layer filters of an HMLPE (Fig. 6a)."""
  predictor, workdir = _hmlpe(args)
  fig = filters_figure(predictor.model.first_layer_filters(predictor.variables), args.tile,
                       args.cols)
  return save_png(fig, args.output or os.path.join(workdir, "eval", "filters_conv1.png"))


def _xy(text: str) -> list:
  try:
    xy = [float(v) for v in text.split(",")]
  except ValueError:
    xy = []
  if len(xy) != 2:
    raise argparse.ArgumentTypeError(f"expected x,y, got {text!r}")
  return xy


def parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(prog="python -m jaxpose.visualize",
                              description=__doc__.split("\n")[0])
  sub = p.add_subparsers(dest="command", required=True)
  for name, helptext in (("overlay", "predicted and true skeletons on evaluation crops"),
                         ("heatmaps", "per-joint heat maps before/after refinement (Ke Fig. 3)")):
    s = sub.add_parser(name, help=helptext)
    s.add_argument("--workdir", required=True, help="run directory or WORKDIR/checkpoints/STEP")
    s.add_argument("--which", choices=("latest", "best"), default="latest")
    s.add_argument("--split", default=None, help="default: the config's data.eval_split")
    s.add_argument("--output", default=None, help="PNG path (default under WORKDIR/eval/)")
  o = sub.choices["overlay"]
  o.add_argument("--num", type=int, default=16, help="how many records (the split's first)")
  o.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                 help="flip test (default: the config's eval.flip)")
  o.add_argument("--dataset", default=None, help="another dataset with the same joints")
  o.add_argument("--data_root", default=None, help="folder of --dataset's raw files")
  o.add_argument("--tile", type=int, default=0, help="tile side in pixels (default: crop size)")
  h = sub.choices["heatmaps"]
  what = h.add_mutually_exclusive_group(required=True)
  what.add_argument("--image", default=None, help="an image file")
  what.add_argument("--index", type=int, default=None, help="record N of --split instead")
  h.add_argument("--center", type=_xy, default=None, help="x,y person centre in image pixels")
  h.add_argument("--scale", type=float, default=None, help="person height / 200 px")
  h.add_argument("--stacks", action="store_true", help="one column per stack (and regression)")
  h.add_argument("--tile", type=int, default=160, help="panel side in pixels")
  h.add_argument("--vmax", type=float, default=0.0, help="fixed colour scale (0: per panel)")
  for name, helptext in (
      ("backtrack", "HMLPE: backtracked patches of conv2/conv3 maps (Li et al. Fig. 6b/6c, 7)"),
      ("filters", "HMLPE: the first-layer filters (Li et al. Fig. 6a)")):
    s = sub.add_parser(name, help=helptext)
    s.add_argument("--workdir", required=True, help="run directory or WORKDIR/checkpoints/STEP")
    s.add_argument("--which", choices=("latest", "best"), default="latest")
    s.add_argument("--out", "--output", dest="output", default=None,
                   help="PNG path (default under WORKDIR/eval/)")
  b = sub.choices["backtrack"]
  b.add_argument("--layer", type=int, default=3, help="conv layer whose maps to backtrack (2 or 3)")
  b.add_argument("--split", default=None, help="default: the config's data.train_split")
  b.add_argument("--num_images", type=int, default=200,
                 help="images the mean patches are taken over (the split's first; 0: all)")
  b.add_argument("--show", type=int, default=8, help="images shown one per row (Fig. 7)")
  b.add_argument("--tile", type=int, default=96, help="cell side in pixels")
  f = sub.choices["filters"]
  f.add_argument("--tile", type=int, default=48, help="cell side in pixels")
  f.add_argument("--cols", type=int, default=0, help="filters per row (0: about √F)")
  return p


COMMANDS = {"overlay": overlay, "heatmaps": heatmaps, "backtrack": backtrack, "filters": filters}


def main(argv: Optional[Sequence[str]] = None) -> int:
  p = parser()
  args = p.parse_args(argv)
  if getattr(args, "num", 1) < 1:
    p.error("--num must be at least 1")
  if getattr(args, "num_images", 0) < 0 or getattr(args, "show", 0) < 0:
    p.error("--num_images and --show must be at least 0")
  if args.command in ("backtrack", "filters") and (args.tile < 8 or getattr(args, "cols", 0) < 0):
    p.error("--tile must be at least 8 and --cols at least 0")
  if args.command == "heatmaps":
    if args.index is None and (args.center is None) != (args.scale is None):
      p.error("give --center and --scale together (or neither: the whole image)")
  try:
    path = COMMANDS[args.command](args)
  except USER_ERRORS + (FileNotFoundError,) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(f"wrote {path}")
  return 0


if __name__ == "__main__":
  from jaxpose import runtime
  runtime.run_cli(main)
