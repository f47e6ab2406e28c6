"""Drawing primitives: skeletons coloured by side, heat-map tiles and figures, grids, PNG files,
and the image → crop geometry of the pictures (``jaxpose.visualize`` has the whole story)."""
from __future__ import annotations

import math
import os
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from jaxpose import skeleton as skel
from jaxpose.codecs import geometry

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
  (2, 3) crop → image)``, by the pipeline's own ``geometry.crop_matrix_tf`` and
  ``augment.warp`` (identity augmentation), so a file is seen exactly as a dataset record would
  be."""
  from jaxpose.data import augment
  m = geometry.crop_matrix_tf(np.asarray(center, np.float32), np.float32(scale), image_size,
                              scale_pad=scale_pad)
  crop = augment.warp(np.asarray(image, np.uint8), m, image_size)
  return crop.numpy(), geometry.invert_tf(m).numpy()[:2]


def normalise(crop: np.ndarray) -> np.ndarray:
  """[0, 1] crop → the network's input (ImageNet mean/std, ``geometry.MEAN`` / ``STD``)."""
  return ((np.asarray(crop, np.float32) - geometry.MEAN) / geometry.STD).astype(np.float32)


def display(image: np.ndarray) -> np.ndarray:
  """A normalised network input back to uint8 RGB."""
  return _as_uint8(np.asarray(image, np.float32) * geometry.STD + geometry.MEAN)


def image_to_crop(points, affine) -> np.ndarray:
  """(K, 2+) image pixels → crop pixels through the inverse of a (2, 3) crop → image affine."""
  a = np.asarray(affine, np.float64)
  return (np.asarray(points, np.float64)[:, :2] - a[:, 2]) @ np.linalg.inv(a[:, :2]).T


# ------------------------------------------------- HMLPE features (Li, Liu & Chan 2014 §5)
