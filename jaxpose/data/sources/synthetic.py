"""The embedded synthetic dataset: procedurally drawn stick people with MPII joints.

Every image shows one person facing the camera (so, as in most MPII images, the person's
left side is on the image's right) on a textured background with distractor shapes. The
body is drawn from a random pose of a kinematic chain: torso tilt, arm and leg angles,
elbow and knee bends, limb lengths and body scale all vary, so the mean pose scores badly
(tests/test_synthetic.py checks < 35% PCKh@0.5) while a network can learn it in minutes.

Left and right are told apart by geometry only (which shoulder or hip a limb hangs from,
and a face drawn on the head), never by colour: a horizontal flip of an image is then
again a valid image whose joints are the flipped, left/right-swapped joints, which is what
flip augmentation and flip testing assume.

Annotation follows MPII: ``scale`` = person height / 200 (with the annotator noise of
±8%), ``center`` near the middle of the body, head box around head top and upper neck,
``norm`` = 0.6 × head-box diagonal (the PCKh normaliser). Joints that fall outside the
image are not annotated (``valid`` 0); joints under an occluder are annotated but not
visible (flag 0).

Generation is a pure function of (seed, split, index) and uses numpy + Pillow only.
"""
from __future__ import annotations

import io
from typing import Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from jaxpose import skeleton as skel
from jaxpose.data.records import PoseRecord

SPLITS = ("train", "validation", "test")
J = {name: i for i, name in enumerate(skel.MPII.joints)}

# Segment lengths as fractions of body height (head top to ankle ≈ 1).
_HEAD, _NECK, _TORSO = 0.13, 0.05, 0.30
_SHOULDER_HALF, _HIP_HALF = 0.11, 0.075
_UPPER_ARM, _FOREARM, _THIGH, _SHIN = 0.17, 0.15, 0.245, 0.235


def _rot(angle: float) -> np.ndarray:
  """Direction of an angle measured from straight down (+y), positive towards +x."""
  return np.array([np.sin(angle), np.cos(angle)])


def sample_pose(rng: np.random.Generator, height: float) -> np.ndarray:
  """(16, 2) MPII joints of a front-facing person, pelvis at the origin, y down."""
  p = np.zeros((16, 2))
  lengths = np.exp(rng.normal(0.0, 0.07, size=8))  # per-person proportions
  tilt = rng.uniform(-0.35, 0.35)                  # torso lean from upright
  up = -_rot(tilt)                                  # pelvis → thorax direction
  side = np.array([-up[1], up[0]])                  # person's left = image right (front-facing)
  p[J["pelvis"]] = 0.0
  p[J["thorax"]] = up * _TORSO * lengths[0] * height
  head_tilt = tilt + rng.uniform(-0.4, 0.4)
  p[J["upper_neck"]] = p[J["thorax"]] - _rot(head_tilt) * _NECK * height
  p[J["head_top"]] = p[J["upper_neck"]] - _rot(head_tilt) * _HEAD * lengths[1] * height
  sw = _SHOULDER_HALF * lengths[2] * height
  hw = _HIP_HALF * lengths[3] * height
  p[J["l_shoulder"]] = p[J["thorax"]] + side * sw
  p[J["r_shoulder"]] = p[J["thorax"]] - side * sw
  p[J["l_hip"]] = side * hw
  p[J["r_hip"]] = -side * hw
  for s, sign in (("l", 1.0), ("r", -1.0)):
    # Arms: the upper arm swings from hanging down to raised overhead, mostly outwards;
    # the elbow bends up to ~145°, either way.
    a = tilt + sign * rng.uniform(-0.5, 2.9)
    p[J[f"{s}_elbow"]] = p[J[f"{s}_shoulder"]] + _rot(a) * _UPPER_ARM * lengths[4] * height
    b = a + rng.choice([-1.0, 1.0]) * rng.uniform(0.0, 2.5)
    p[J[f"{s}_wrist"]] = p[J[f"{s}_elbow"]] + _rot(b) * _FOREARM * lengths[5] * height
    # Legs: the thigh swings forwards/outwards (walking, sitting, kicking); the knee bends.
    a = tilt + sign * rng.uniform(-0.35, 1.1)
    p[J[f"{s}_knee"]] = p[J[f"{s}_hip"]] + _rot(a) * _THIGH * lengths[6] * height
    b = a + rng.choice([-1.0, 1.0]) * rng.uniform(0.0, 1.6)
    p[J[f"{s}_ankle"]] = p[J[f"{s}_knee"]] + _rot(b) * _SHIN * lengths[7] * height
  return p


def _background(rng: np.random.Generator, size: int) -> Image.Image:
  """Smooth colour noise plus a few distractor rectangles, ellipses and strokes."""
  low = rng.uniform(0, 255, size=(4, 4, 3)).astype(np.uint8)
  img = Image.fromarray(low).resize((size, size), Image.BICUBIC)
  noise = rng.normal(0, 12, size=(size, size, 3))
  img = Image.fromarray(np.clip(np.asarray(img, np.float32) + noise, 0, 255).astype(np.uint8))
  draw = ImageDraw.Draw(img)
  for _ in range(rng.integers(2, 7)):
    x0, y0 = rng.uniform(-0.2, 1.0, size=2) * size
    w, h = rng.uniform(0.05, 0.4, size=2) * size
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    kind = rng.integers(3)
    if kind == 0:
      draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
    elif kind == 1:
      draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
    else:
      draw.line([x0, y0, x0 + w, y0 + h], fill=colour, width=int(rng.integers(1, 4)))
  return img


def _draw_person(draw: ImageDraw.ImageDraw, rng: np.random.Generator, p: np.ndarray,
                 height: float) -> None:
  skin = tuple(int(c) for c in rng.integers(120, 256, size=3))
  shirt = tuple(int(c) for c in rng.integers(0, 256, size=3))
  trousers = tuple(int(c) for c in rng.integers(0, 256, size=3))
  width = lambda f: max(2, int(round(f * height)))
  pt = lambda name: tuple(float(v) for v in p[J[name]])
  # Legs first (behind the torso), then torso, arms, head.
  for s in ("l", "r"):
    draw.line([pt(f"{s}_hip"), pt(f"{s}_knee")], fill=trousers, width=width(0.075))
    draw.line([pt(f"{s}_knee"), pt(f"{s}_ankle")], fill=trousers, width=width(0.06))
    for j, r in ((f"{s}_knee", 0.035), (f"{s}_ankle", 0.03)):
      x, y = pt(j)
      draw.ellipse([x - r * height, y - r * height, x + r * height, y + r * height], fill=trousers)
  draw.polygon([pt("l_shoulder"), pt("r_shoulder"), pt("r_hip"), pt("l_hip")], fill=shirt)
  draw.line([pt("thorax"), pt("upper_neck")], fill=skin, width=width(0.05))
  for s in ("l", "r"):
    draw.line([pt(f"{s}_shoulder"), pt(f"{s}_elbow")], fill=shirt, width=width(0.055))
    draw.line([pt(f"{s}_elbow"), pt(f"{s}_wrist")], fill=skin, width=width(0.04))
    for j, r in ((f"{s}_elbow", 0.027), (f"{s}_wrist", 0.03)):
      x, y = pt(j)
      draw.ellipse([x - r * height, y - r * height, x + r * height, y + r * height], fill=skin)
  top, neck = p[J["head_top"]], p[J["upper_neck"]]
  c = (top + neck) / 2
  r = np.linalg.norm(top - neck) / 2
  draw.ellipse([c[0] - 0.8 * r, c[1] - r, c[0] + 0.8 * r, c[1] + r], fill=skin)
  # A face (eyes and mouth) marks the person as facing the camera.
  axis = (top - neck) / max(np.linalg.norm(top - neck), 1e-6)
  normal = np.array([-axis[1], axis[0]])
  dark = (20, 20, 20)
  e = max(1.0, 0.12 * r)
  for sgn in (-1, 1):
    x, y = c + 0.2 * r * axis + sgn * 0.35 * r * normal
    draw.ellipse([x - e, y - e, x + e, y + e], fill=dark)
  m0, m1 = c - 0.4 * r * axis - 0.25 * r * normal, c - 0.4 * r * axis + 0.25 * r * normal
  draw.line([tuple(m0), tuple(m1)], fill=dark, width=max(1, int(0.1 * r)))


def render(rng: np.random.Generator, image_size: int = 128) -> PoseRecord:
  """One synthetic example (PNG bytes and MPII annotation) drawn with ``rng``."""
  size = int(image_size)
  height = rng.uniform(0.5, 0.72) * size
  pose = sample_pose(rng, height)
  lo, hi = pose.min(axis=0), pose.max(axis=0)
  # Place the body's box centre near the image centre; one in ten is cut off by the border.
  spread = 0.28 if rng.uniform() < 0.1 else 0.08
  target = size / 2 + rng.uniform(-spread, spread, size=2) * size
  joints_xy = pose - (lo + hi) / 2 + target
  img = _background(rng, size)
  draw = ImageDraw.Draw(img)
  _draw_person(draw, rng, joints_xy, height)
  visible = np.ones(16, np.float32)
  if rng.uniform() < 0.25:  # an occluder over one joint
    k = int(rng.integers(16))
    half = rng.uniform(0.06, 0.12) * height
    x, y = joints_xy[k] + rng.uniform(-0.5, 0.5, size=2) * half
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    draw.rectangle([x - half, y - half, x + half, y + half], fill=colour)
    covered = np.all(np.abs(joints_xy - [x, y]) <= half, axis=1)
    visible[covered] = 0.0
  img = img.filter(ImageFilter.GaussianBlur(radius=0.5))
  buf = io.BytesIO()
  img.save(buf, format="PNG")

  valid = np.all((joints_xy >= 0) & (joints_xy <= size - 1), axis=1).astype(np.float32)
  joints = np.concatenate([joints_xy, visible[:, None]], axis=1).astype(np.float32)
  joints[valid == 0] = 0.0
  top, neck = joints_xy[J["head_top"]], joints_xy[J["upper_neck"]]
  head_len = float(np.linalg.norm(top - neck))
  hc = (top + neck) / 2
  head_box = np.concatenate([hc - head_len / 2, hc + head_len / 2]).astype(np.float32)
  norm = 0.6 * float(np.linalg.norm(head_box[2:] - head_box[:2]))
  extent = float(max(hi - lo))
  scale = max(extent, 0.5 * height) / 200.0 * float(np.exp(rng.normal(0.0, 0.04)))
  center = target + rng.normal(0.0, 0.02 * height, size=2)
  return PoseRecord(image=buf.getvalue(), joints=joints, valid=valid,
                    center=center.astype(np.float32), scale=float(scale), norm=norm,
                    head_box=head_box)


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
