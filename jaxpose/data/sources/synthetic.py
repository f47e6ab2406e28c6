"""The embedded synthetic dataset: procedurally drawn articulated people with MPII joints.

Each image shows one person: a 3-D figure in a random pose and view (``synthetic_pose``:
front ~60%, back ~20%, profile ~20%; ~5% lying), rotated in the image plane, scaled and
placed, then drawn with depth-ordered, textured limbs over a cluttered background, ~30% of
images with a partial distractor figure behind the person that is never annotated
(``synthetic_draw``). This module puts the two together and annotates the result.

Left and right differ only by geometry (face, hair, which side is near the camera), never
by colour, so a horizontal mirror of an image is again a valid image whose labels are the
mirrored, left/right-swapped labels: front stays front, back stays back, profile facing
right becomes profile facing left (tests/data/test_synthetic.py checks this).

Annotation follows MPII: ``scale`` = person extent / 200 (the joint box's larger side, so
lying and crouching people get the right crop) with ±4% annotator noise, ``center`` near
the middle of the joint box, head box around head top and upper neck, ``norm`` = SC_BIAS
0.6 × head-box diagonal (the PCKh normaliser). Visibility comes from the rendering: a joint
is annotated but not visible (flag 0) when a nearer body part or an occluder covers its
pixel (checked against a per-pixel part-label map drawn in depth order), or when it lies
outside the image but within a margin of 8% of the image size; joints farther out are not
annotated (``valid`` 0, coordinates 0).

Generation is a pure function of (seed, split, index) and uses numpy + Pillow only
(≈5 ms per 128-px image).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from jaxpose.data.records import PoseRecord
from jaxpose.data.sources import synthetic_draw as draw
from jaxpose.data.sources import synthetic_pose as pose
from jaxpose.formats.mpii import SC_BIAS

SPLITS = ("train", "validation", "test")
# Joints annotated while outside the image, as a fraction of the image size.
CUTOFF_MARGIN = 0.08


def _annotate(rng: np.random.Generator, joints_xy: np.ndarray, cause: np.ndarray,
              where: pose.Placement, image: bytes) -> PoseRecord:
  """The MPII-style record of a drawn person (conventions in the module docstring)."""
  valid = (cause != draw.UNANNOTATED).astype(np.float32)
  visible = (cause == draw.SHOWN).astype(np.float32)
  joints = np.concatenate([joints_xy, visible[:, None]], axis=1).astype(np.float32)
  joints[valid == 0] = 0.0
  top, neck = joints_xy[pose.J["head_top"]], joints_xy[pose.J["upper_neck"]]
  head_len = float(np.linalg.norm(top - neck))
  hc = (top + neck) / 2
  head_box = np.concatenate([hc - head_len / 2, hc + head_len / 2]).astype(np.float32)
  norm = SC_BIAS * float(np.linalg.norm(head_box[2:] - head_box[:2]))
  extent = float(max(where.hi - where.lo))
  scale = max(extent, 0.4 * where.height) / 200.0 * float(np.exp(rng.normal(0.0, 0.04)))
  center = where.target + rng.normal(0.0, 0.015 * extent, size=2)
  return PoseRecord(image=image, joints=joints, valid=valid, center=center.astype(np.float32),
                    scale=float(scale), norm=norm, head_box=head_box)


def render_with_info(rng: np.random.Generator, image_size: int = 128) -> tuple[PoseRecord, dict]:
  """One example and how it was made.

  Returns:
    (record, info) with info keys ``view`` (one of ``synthetic_pose.VIEWS``), ``yaw``,
    ``roll`` (radians), ``lying`` (bool), ``preset`` (one of ``synthetic_pose.PRESETS``) and
    ``cause`` (16,) int: per joint ``synthetic_draw.SHOWN``, ``SELF_OCCLUDED`` (a nearer
    body part covers it), ``OCCLUDED`` (an occluder covers it), ``OUTSIDE`` (annotated,
    outside the image) or ``UNANNOTATED``.
  """
  size = int(image_size)
  fig = pose.sample_pose(rng)
  view, yaw = pose.sample_view(rng)
  lying, roll = pose.sample_roll(rng)
  cam = pose.camera(yaw, roll)
  where = pose.place(rng, fig, cam, size)
  xy, items = draw.figure_items(fig, cam, where.height, where.offset)
  joints_xy = xy[:16]
  img = draw.background(rng, size)
  if rng.uniform() < 0.3:
    draw.distractor(rng, img, size)
  lab, order = draw.label_map(rng, items, joints_xy, where.height, size)
  cause = draw.visibility(lab, order, joints_xy, CUTOFF_MARGIN * size)
  record = _annotate(rng, joints_xy, cause, where, draw.paint(rng, lab, items, img))
  info = {"view": view, "yaw": float(yaw), "roll": roll, "lying": lying, "preset": fig.preset,
          "cause": cause}
  return record, info


def render(rng: np.random.Generator, image_size: int = 128) -> PoseRecord:
  """One synthetic example (PNG bytes and MPII annotation) drawn with ``rng``."""
  return render_with_info(rng, image_size)[0]


def generate(split: str, num_examples: int, seed: int = 0,
             image_size: int = 128) -> Iterator[PoseRecord]:
  """The records of one split; record i depends only on (seed, split, i)."""
  if split not in SPLITS:
    raise ValueError(f"synthetic_pose has splits {SPLITS}, not {split!r}")
  split_id = SPLITS.index(split)
  for i in range(int(num_examples)):
    rng = np.random.default_rng([int(seed), split_id, i])
    record = render(rng, image_size)
    record.index = i
    record.name = f"{split}/{i:05d}"
    yield record
