"""The embedded synthetic dataset: procedurally drawn articulated people with MPII joints.

Each image shows one person built from a 3-D kinematic tree (per-figure limb proportions,
joint angles within human-like limits, pose presets: standing, walking, sitting, crouching,
arms raised, free; ~5% lying), seen from the front (~60%), the back (~20%) or in profile
(~20%), rotated in the image plane and scaled. Limbs are filled capsules in per-figure
clothing and skin colours with stripes / checks / noise texture and dark outlines, drawn
far to near so that near limbs occlude far ones; the background is cluttered (gradients,
noise, textured shapes) and ~30% of images also hold a partial distractor figure behind
the person, which is never annotated.

Views and left/right. The body frame is x = person's left, y = down, z = forward; the
camera sees ``Ry(yaw) · diag(1, 1, -1) · p`` (x right, y down, z away from the camera).

* front (yaw ≈ 0): the person's left is on the image right; the face (two eyes, a mouth,
  a nose dot) is visible and hair shows only as a rim around the top of the head.
* back (yaw ≈ π): the person's left is on the image left; the head is covered by hair
  and shows no face.
* profile, facing image-left (yaw ≈ +π/2): the person's **left** side is near the camera;
  facing image-right (yaw ≈ -π/2): the **right** side is near. The face cue is one eye
  and a nose bump on the facing side, hair on the back of the head; near-side limbs are
  drawn over the torso and far-side limbs behind it (and slightly darker).

Every cue is geometric or follows from the 3-D geometry (never a colour per side), so a
horizontal mirror of an image is again a valid image whose labels are the mirrored,
left/right-swapped labels: front stays front, back stays back, profile facing right
becomes profile facing left (tests/test_synthetic.py checks this).

Annotation follows MPII: ``scale`` = person extent / 200 (the joint box's larger side, so
lying and crouching people get the right crop) with ±4% annotator noise, ``center`` near
the middle of the joint box, head box around head top and upper neck, ``norm`` = 0.6 ×
head-box diagonal (the PCKh normaliser). Visibility comes from the rendering: a joint is
annotated but not visible (flag 0) when a nearer body part or an occluder covers its pixel
(checked against a per-pixel part-label map drawn in depth order), or when it lies outside
the image but within a margin of 8% of the image size; joints farther out are not
annotated (``valid`` 0, coordinates 0).

Generation is a pure function of (seed, split, index) and uses numpy + Pillow only
(≈5 ms per 128-px image).
"""
from __future__ import annotations

import dataclasses
import io
from typing import Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from jaxpose import skeleton as skel
from jaxpose.data.records import PoseRecord

SPLITS = ("train", "validation", "test")
J = {name: i for i, name in enumerate(skel.MPII.joints)}
VIEWS = ("front", "back", "profile_left", "profile_right")
PRESETS = ("stand", "walk", "sit", "crouch", "arms_up", "free")
_PRESET_P = (0.28, 0.25, 0.12, 0.10, 0.13, 0.12)
# Joints annotated while outside the image, as a fraction of the image size.
CUTOFF_MARGIN = 0.08

# Segment lengths as fractions of body height (head top to ankle ≈ 1).
_HEAD, _NECK, _TORSO = 0.13, 0.05, 0.30
_SHOULDER_HALF, _HIP_HALF, _CHEST_HALF = 0.11, 0.075, 0.07
_UPPER_ARM, _FOREARM, _THIGH, _SHIN, _FOOT = 0.17, 0.15, 0.245, 0.235, 0.07

# Part ids of the label map (0 = not the person).
TORSO, NECK, HEAD, HAIR, FACE = 1, 2, 3, 4, 5
OCCLUDER = 16
# Capsules: id, from, to, width (fraction of height). Feet end at the toe points (16, 17).
_CAPSULES = (
    (6, "l_shoulder", "l_elbow", 0.06), (7, "r_shoulder", "r_elbow", 0.06),
    (8, "l_elbow", "l_wrist", 0.045), (9, "r_elbow", "r_wrist", 0.045),
    (10, "l_hip", "l_knee", 0.085), (11, "r_hip", "r_knee", 0.085),
    (12, "l_knee", "l_ankle", 0.065), (13, "r_knee", "r_ankle", 0.065),
    (14, "l_ankle", 16, 0.04), (15, "r_ankle", 17, 0.04),
    (NECK, "thorax", "upper_neck", 0.05))
# The body parts a joint belongs to: a joint is hidden only by a part drawn after all of them.
_OWN = {
    "r_ankle": (13, 15), "r_knee": (11, 13), "r_hip": (11, TORSO), "l_hip": (10, TORSO),
    "l_knee": (10, 12), "l_ankle": (12, 14), "pelvis": (TORSO, 10, 11),
    "thorax": (TORSO, NECK), "upper_neck": (NECK, HEAD, HAIR), "head_top": (HEAD, HAIR, FACE),
    "r_wrist": (9,), "r_elbow": (7, 9), "r_shoulder": (7, TORSO), "l_shoulder": (6, TORSO),
    "l_elbow": (6, 8), "l_wrist": (8,)}
# Visibility codes of ``render_with_info``'s ``cause``.
SHOWN, SELF_OCCLUDED, OCCLUDED, OUTSIDE, UNANNOTATED = 0, 1, 2, 3, 4


def _rx(a: float) -> np.ndarray:
  """Rotation about the body's left axis; positive swings a hanging limb forwards."""
  c, s = np.cos(a), np.sin(a)
  return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
  """Rotation about the vertical axis (yaw)."""
  c, s = np.cos(a), np.sin(a)
  return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
  """Rotation about the forward axis; ``_rz(-side * a)`` swings a limb outwards."""
  c, s = np.cos(a), np.sin(a)
  return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


_DOWN = np.array([0.0, 1.0, 0.0])


@dataclasses.dataclass
class Figure:
  """A 3-D pose in the body frame (x = person's left, y = down, z = forward; height 1).

  Attributes:
    points: (18, 3) the 16 MPII joints, then the left and right toe points.
    head: (3, 3) rows: the head's forward, left and up unit vectors.
    preset: the pose preset it was drawn from.
  """
  points: np.ndarray
  head: np.ndarray
  preset: str


def _arm(rng: np.random.Generator, kind: str) -> tuple[float, float, float, float]:
  """(flexion, abduction, elbow bend, forearm inward swing) of one arm."""
  u = lambda a, b: float(rng.uniform(a, b))
  if kind == "up":
    if rng.uniform() < 0.5:
      return u(2.0, 3.05), u(0.0, 0.5), u(0.0, 1.2), u(0.0, 0.4)
    return u(-0.2, 0.4), u(1.9, 2.9), u(0.0, 1.2), u(0.0, 0.4)
  r = rng.uniform()
  if r < 0.5:    # hanging, elbow bent a little or a lot
    return u(-0.4, 0.5), u(0.0, 0.5), u(0.0, 1.6), u(0.0, 0.8)
  if r < 0.72:   # reaching forwards
    return u(0.6, 1.8), u(0.0, 0.6), u(0.0, 1.8), u(0.0, 0.6)
  if r < 0.88:   # out to the side
    return u(-0.3, 0.5), u(0.8, 1.9), u(0.0, 2.2), u(-0.3, 0.3)
  return u(1.9, 3.0), u(0.0, 1.0), u(0.0, 1.4), u(0.0, 0.5)  # raised


def sample_pose(rng: np.random.Generator, preset: str | None = None) -> Figure:
  """A random 3-D pose from one of ``PRESETS`` (chosen at random when None)."""
  if preset is None:
    preset = PRESETS[int(rng.choice(len(PRESETS), p=_PRESET_P))]
  u = lambda a, b: float(rng.uniform(a, b))
  lengths = np.exp(rng.normal(0.0, 0.07, size=9))  # per-person proportions
  lean, lateral, twist = u(-0.15, 0.3), u(-0.2, 0.2), u(-0.3, 0.3)
  legs = {}
  if preset == "walk":
    amp, sign = u(0.3, 0.65), float(rng.choice([-1.0, 1.0]))
    for s, sg in (("l", sign), ("r", -sign)):
      legs[s] = (amp * sg + u(-0.1, 0.1), u(0.0, 0.12),
                 u(0.2, 1.0) if sg < 0 else u(0.0, 0.35))
  elif preset == "sit":
    lean = u(-0.25, 0.3)
    for s in "lr":
      legs[s] = (u(1.2, 1.7), u(0.0, 0.4), u(1.1, 1.9))
  elif preset == "crouch":
    lean = u(0.3, 0.9)
    for s in "lr":
      legs[s] = (u(1.7, 2.4), u(0.1, 0.5), u(2.0, 2.6))
  elif preset == "free":
    lean, lateral = u(-0.3, 0.6), u(-0.35, 0.35)
    for s in "lr":
      legs[s] = (u(-0.5, 1.8), u(-0.1, 0.9), u(0.0, 2.0))
  else:  # stand, arms_up
    for s in "lr":
      legs[s] = (u(-0.15, 0.25), u(0.0, 0.25), u(0.0, 0.3))
  r_torso = _rz(-lateral) @ _rx(-lean) @ _ry(twist)
  p = np.zeros((18, 3))
  p[J["thorax"]] = r_torso @ (-_DOWN * _TORSO * lengths[0])
  for s, side in (("l", 1.0), ("r", -1.0)):
    p[J[f"{s}_shoulder"]] = p[J["thorax"]] + r_torso @ np.array([side * _SHOULDER_HALF * lengths[2], 0, 0])
    p[J[f"{s}_hip"]] = _ry(0.4 * twist) @ np.array([side * _HIP_HALF * lengths[3], 0, 0])
    if preset == "walk":  # arms swing against the legs
      flex, abd, bend, inward = -0.8 * legs[s][0] + u(-0.15, 0.15), u(0.0, 0.25), u(0.1, 1.2), u(0.0, 0.3)
    else:
      flex, abd, bend, inward = _arm(rng, "up" if preset == "arms_up" and rng.uniform() < 0.85 else "any")
    p[J[f"{s}_elbow"]] = p[J[f"{s}_shoulder"]] + r_torso @ _rz(-side * abd) @ _rx(flex) @ _DOWN * (
        _UPPER_ARM * lengths[4])
    p[J[f"{s}_wrist"]] = p[J[f"{s}_elbow"]] + r_torso @ _rz(-side * (abd - inward)) @ _rx(flex + bend) @ (
        _DOWN * _FOREARM * lengths[5])
    flex, abd, knee = legs[s]
    p[J[f"{s}_knee"]] = p[J[f"{s}_hip"]] + _rz(-side * abd) @ _rx(flex) @ _DOWN * (_THIGH * lengths[6])
    p[J[f"{s}_ankle"]] = p[J[f"{s}_knee"]] + _rz(-side * abd) @ _rx(flex - knee) @ _DOWN * (_SHIN * lengths[7])
    toe = 16 if s == "l" else 17
    p[toe] = p[J[f"{s}_ankle"]] + _rz(-side * 0.5 * abd) @ _rx(np.pi / 2 + u(-0.3, 0.5)) @ _DOWN * (
        _FOOT * lengths[8])
  r_head = r_torso @ _ry(u(-0.5, 0.5)) @ _rx(u(-0.35, 0.35)) @ _rz(u(-0.3, 0.3))
  p[J["upper_neck"]] = p[J["thorax"]] + r_torso @ _rx(-u(-0.1, 0.3)) @ (-_DOWN) * _NECK
  p[J["head_top"]] = p[J["upper_neck"]] + r_head @ (-_DOWN) * (_HEAD * lengths[1])
  head = np.stack([r_head @ np.array([0.0, 0.0, 1.0]), r_head @ np.array([1.0, 0.0, 0.0]),
                   r_head @ (-_DOWN)])
  return Figure(points=p, head=head, preset=preset)


def _sample_view(rng: np.random.Generator) -> tuple[str, float]:
  """(view name, yaw): ~60% front, ~20% back, ~20% profile (either way)."""
  r = rng.uniform()
  jitter = float(np.clip(rng.normal(0.0, 0.25), -0.6, 0.6))
  if r < 0.6:
    return "front", jitter
  if r < 0.8:
    return "back", np.pi + jitter
  yaw = float(rng.choice([-1.0, 1.0])) * np.pi / 2 + float(rng.uniform(-0.4, 0.4))
  return ("profile_left" if yaw > 0 else "profile_right"), yaw


def _camera(yaw: float, roll: float) -> np.ndarray:
  """(3, 3) body frame → camera (x right, y down, z away); roll turns the image plane."""
  c, s = np.cos(roll), np.sin(roll)
  r_roll = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
  return r_roll @ _ry(yaw) @ np.diag([1.0, 1.0, -1.0])


def _ellipse(c: np.ndarray, axis: np.ndarray, a: float, b: float, n: int = 20) -> list:
  """Polygon of an ellipse centred at c, semi-axis a along the unit vector axis, b across."""
  t = np.linspace(0, 2 * np.pi, n, endpoint=False)
  perp = np.array([-axis[1], axis[0]])
  pts = c + np.outer(a * np.cos(t), axis) + np.outer(b * np.sin(t), perp)
  return [tuple(q) for q in pts]


def _capsule(draw: ImageDraw.ImageDraw, a: np.ndarray, b: np.ndarray, w: float, fill) -> None:
  w = max(w, 1.5)
  draw.line([tuple(a), tuple(b)], fill=fill, width=int(round(w)))
  r = w / 2
  for x, y in (a, b):
    draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)


def _figure_items(fig: Figure, cam: np.ndarray, height: float, offset: np.ndarray) -> tuple:
  """Projects a figure: (points (18,2) px, draw items [(depth, id, kind, geometry)])."""
  q = fig.points @ cam.T
  xy = q[:, :2] * height + offset
  z = q[:, 2]
  hv = fig.head @ cam.T  # forward, left, up in camera coordinates
  items = []
  for pid, a, b, w in _CAPSULES:
    ia = J[a]
    ib = J[b] if isinstance(b, str) else b
    bias = 0.02 if pid == NECK else 0.0
    items.append((0.5 * (z[ia] + z[ib]) + bias, pid, "capsule", (xy[ia], xy[ib], w * height)))
  # Torso: a quadrilateral whose width is that of an elliptic cross-section seen at this yaw.
  th, pe = xy[J["thorax"]], xy[J["pelvis"]]
  axis = th - pe
  axis = axis / max(np.linalg.norm(axis), 1e-6)
  perp = np.array([-axis[1], axis[0]])
  left2 = (cam @ np.array([1.0, 0, 0]))[:2]
  fwd2 = (cam @ np.array([0, 0, 1.0]))[:2]
  def half(lateral):
    return height * np.hypot(lateral * (left2 @ perp), _CHEST_HALF * (fwd2 @ perp))
  top, bottom = half(_SHOULDER_HALF * 1.05), half(_HIP_HALF * 1.3)
  quad = [th + perp * top, th - perp * top, pe - perp * bottom, pe + perp * bottom]
  items.append((0.5 * (z[J["thorax"]] + z[J["pelvis"]]) + 0.03, TORSO, "torso",
                (quad, th, 0.8 * top)))
  top3, neck3 = fig.points[J["head_top"]], fig.points[J["upper_neck"]]
  centre3 = 0.5 * (top3 + neck3)
  zc = float((cam @ centre3)[2])
  items.append((zc - 0.05, HEAD, "head", (xy[J["head_top"]], xy[J["upper_neck"]], hv)))
  return xy, items


def _draw_head(draw: ImageDraw.ImageDraw, top: np.ndarray, neck: np.ndarray, hv: np.ndarray,
               fill_of) -> None:
  """Head, hair and face in the order that the head's facing direction implies."""
  c = 0.5 * (top + neck)
  axis = top - neck
  r = max(float(np.linalg.norm(axis)) / 2, 1.0)
  axis = axis / (2 * r)
  fwd, left, up = hv[0], hv[1], hv[2]
  facing = -fwd[2]  # 1 when the face looks at the camera, -1 when it looks away
  skin = _ellipse(c, axis, r, 0.8 * r)
  hair_c = c + r * (-0.35 * fwd[:2] + 0.3 * up[:2])
  if facing > 0.5:  # the face is seen: hair only as a rim behind the head
    draw.polygon(_ellipse(c + 0.2 * r * up[:2], axis, 1.0 * r, 0.85 * r), fill=fill_of(HAIR))
    draw.polygon(skin, fill=fill_of(HEAD))
  else:
    draw.polygon(skin, fill=fill_of(HEAD))
    draw.polygon(_ellipse(hair_c, axis, 0.9 * r, 0.78 * r), fill=fill_of(HAIR))
  if facing > -0.3:  # nose: a bump on the facing side, seen from the front as a dot
    n = c + r * (0.95 * fwd[:2] - 0.1 * up[:2])
    e = max(1.0, 0.22 * r)
    draw.ellipse([n[0] - e, n[1] - e, n[0] + e, n[1] + e], fill=fill_of(HEAD))
  e = max(0.8, 0.14 * r)
  for sgn in (-1.0, 1.0):
    eye = 0.75 * fwd + sgn * 0.33 * left + 0.15 * up
    if eye[2] < -0.25:  # the eye is on the side that faces the camera
      x, y = c + r * eye[:2]
      draw.ellipse([x - e, y - e, x + e, y + e], fill=fill_of(FACE))
  if facing > 0.4:
    m = c + r * (0.75 * fwd[:2] - 0.42 * up[:2])
    draw.line([tuple(m - 0.25 * r * left[:2]), tuple(m + 0.25 * r * left[:2])],
              fill=fill_of(FACE), width=max(1, int(round(0.12 * r))))


def _draw_items(draw: ImageDraw.ImageDraw, items: list, fill_of, keep=None) -> list:
  """Draws far items first; returns the part ids in drawing order."""
  order = []
  for depth, pid, kind, geo in sorted(items, key=lambda t: -t[0]):
    if keep is not None and pid not in keep:
      continue
    if kind == "capsule":
      _capsule(draw, geo[0], geo[1], geo[2], fill_of(pid))
      order.append(pid)
    elif kind == "torso":
      quad, th, rr = geo
      draw.polygon([tuple(v) for v in quad], fill=fill_of(pid))
      draw.ellipse([th[0] - rr, th[1] - rr, th[0] + rr, th[1] + rr], fill=fill_of(pid))
      order.append(pid)
    else:
      _draw_head(draw, geo[0], geo[1], geo[2], fill_of)
      order += [HEAD, HAIR, FACE]
  return order


def _colour(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> np.ndarray:
  return rng.integers(lo, hi, size=3).astype(np.float32)


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
  """(size, size) multiplicative texture around 1: stripes, checks, noise or plain."""
  kind = int(rng.integers(4))
  yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
  amp = float(rng.uniform(0.1, 0.3))
  if kind == 0:
    t = float(rng.uniform(0, np.pi))
    period = float(rng.uniform(3, 8))
    return 1 + amp * np.sign(np.sin((xx * np.cos(t) + yy * np.sin(t)) * 2 * np.pi / period))
  if kind == 1:
    period = float(rng.uniform(3, 7))
    return 1 + amp * np.sign(np.sin(xx * np.pi / period) * np.sin(yy * np.pi / period))
  if kind == 2:
    return 1 + amp * rng.normal(0, 0.7, size=(size, size)).astype(np.float32)
  return np.ones((size, size), np.float32)


def _background(rng: np.random.Generator, size: int) -> Image.Image:
  """Smooth colour noise or a gradient, pixel noise, and textured distractor shapes."""
  if rng.uniform() < 0.5:
    low = rng.uniform(0, 255, size=(4, 4, 3)).astype(np.uint8)
    base = np.asarray(Image.fromarray(low).resize((size, size), Image.BICUBIC), np.float32)
  else:
    t = np.linspace(0, 1, size, dtype=np.float32)
    g = t[None, :, None] if rng.uniform() < 0.5 else t[:, None, None]
    base = _colour(rng) * (1 - g) + _colour(rng) * g + np.zeros((size, size, 3), np.float32)
  base = base + rng.normal(0, float(rng.uniform(4, 16)), size=(size, size, 3))
  img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
  draw = ImageDraw.Draw(img)
  for _ in range(int(rng.integers(2, 8))):
    x0, y0 = rng.uniform(-0.2, 1.0, size=2) * size
    w, h = rng.uniform(0.05, 0.4, size=2) * size
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    kind = int(rng.integers(4))
    if kind == 0:
      draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
    elif kind == 1:
      draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
    elif kind == 2:
      draw.line([x0, y0, x0 + w, y0 + h], fill=colour, width=int(rng.integers(1, 5)))
    else:  # a striped panel
      other = tuple(int(c) for c in rng.integers(0, 256, size=3))
      step = max(2, int(rng.integers(2, 6)))
      draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
      for k in range(0, int(w), 2 * step):
        draw.rectangle([x0 + k, y0, x0 + k + step - 1, y0 + h], fill=other)
  return img


def _distractor(rng: np.random.Generator, img: Image.Image, size: int) -> None:
  """A partial second figure (a few limbs, often cut off) drawn onto the background."""
  fig = sample_pose(rng)
  _, yaw = _sample_view(rng)
  cam = _camera(yaw, float(rng.normal(0, 0.3)))
  height = float(rng.uniform(0.35, 0.8)) * size
  # Mostly beside the main person or half out of the frame.
  offset = np.array([rng.choice([0.05, 0.95]) * size + rng.normal(0, 0.08 * size),
                     rng.uniform(0.3, 0.8) * size])
  _, items = _figure_items(fig, cam, height, offset)
  ids = [pid for _, pid, _, _ in items]
  keep = set(rng.choice(ids, size=int(rng.integers(2, 7)), replace=False).tolist())
  palette = {pid: tuple(int(c) for c in rng.integers(0, 256, size=3)) for pid in range(1, 17)}
  _draw_items(ImageDraw.Draw(img), items, lambda pid: palette[pid], keep)


def _person_palette(rng: np.random.Generator) -> np.ndarray:
  """(17, 3) colours per part id: skin, hair, clothes (short or long sleeves / trousers)."""
  tone = float(rng.uniform())
  skin = np.array([95, 60, 40]) * (1 - tone) + np.array([245, 205, 175]) * tone + rng.normal(0, 8, 3)
  hairs = np.array([[25, 20, 15], [70, 45, 25], [120, 80, 40], [200, 170, 100], [150, 150, 150],
                    [140, 40, 20]], np.float32)
  hair = hairs[int(rng.integers(len(hairs)))]
  if np.abs(hair - skin).sum() < 120:
    hair = hair * 0.35
  shirt, trousers, shoes = _colour(rng), _colour(rng), _colour(rng, 0, 120)
  pal = np.zeros((17, 3), np.float32)
  pal[TORSO] = shirt
  pal[[NECK, HEAD]] = skin
  pal[HAIR] = hair
  pal[FACE] = (25, 15, 15)
  pal[[6, 7]] = shirt if rng.uniform() < 0.8 else skin
  pal[[8, 9]] = shirt if rng.uniform() < 0.5 else skin
  pal[[10, 11]] = trousers
  pal[[12, 13]] = trousers if rng.uniform() < 0.8 else skin
  pal[[14, 15]] = shoes
  pal[OCCLUDER] = _colour(rng)
  return np.clip(pal, 0, 255)


def render_with_info(rng: np.random.Generator, image_size: int = 128) -> tuple[PoseRecord, dict]:
  """One example and how it was made.

  Returns:
    (record, info) with info keys ``view`` (one of ``VIEWS``), ``yaw``, ``roll`` (radians),
    ``lying`` (bool), ``preset`` (one of ``PRESETS``) and ``cause`` (16,) int: per joint
    ``SHOWN``, ``SELF_OCCLUDED`` (a nearer body part covers it), ``OCCLUDED`` (an
    occluder covers it), ``OUTSIDE`` (annotated, outside the image) or ``UNANNOTATED``.
  """
  size = int(image_size)
  fig = sample_pose(rng)
  view, yaw = _sample_view(rng)
  lying = bool(rng.uniform() < 0.05)
  if lying:
    roll = float(rng.choice([-1.0, 1.0])) * np.pi / 2 + float(rng.normal(0, 0.2))
  else:
    roll = float(np.clip(rng.normal(0.0, 0.22), -0.52, 0.52))
  cam = _camera(yaw, roll)
  proj = (fig.points @ cam.T)[:16, :2]
  extent_unit = float(max(proj.max(0) - proj.min(0)))
  # Person size in pixels: the joint box's larger side covers ~35-75% of the image.
  height = float(rng.uniform(0.38, 0.75)) * size / max(extent_unit, 0.5)
  lo, hi = proj.min(0) * height, proj.max(0) * height
  spread = 0.28 if rng.uniform() < 0.1 else 0.08  # one in ten is cut off by the border
  target = size / 2 + rng.uniform(-spread, spread, size=2) * size
  offset = target - (lo + hi) / 2
  xy, items = _figure_items(fig, cam, height, offset)
  joints_xy = xy[:16]

  img = _background(rng, size)
  if rng.uniform() < 0.3:
    _distractor(rng, img, size)
  labels = Image.new("L", (size, size), 0)
  ldraw = ImageDraw.Draw(labels)
  order = _draw_items(ldraw, items, lambda pid: pid)
  occluder_drawn = rng.uniform() < 0.3
  if occluder_drawn:  # an object in front of the person, over a random joint
    k = int(rng.integers(16))
    half = rng.uniform(0.05, 0.13) * height
    x, y = joints_xy[k] + rng.uniform(-0.7, 0.7, size=2) * half
    w, h = half * rng.uniform(0.6, 1.6, size=2)
    if rng.uniform() < 0.5:
      ldraw.rectangle([x - w, y - h, x + w, y + h], fill=OCCLUDER)
    else:
      ldraw.ellipse([x - w, y - h, x + w, y + h], fill=OCCLUDER)
    order.append(OCCLUDER)
  lab = np.asarray(labels)

  # Visibility from the label map: hidden when the pixel shows a part drawn after the joint's own.
  rank = np.full(17, -1)
  for i, pid in enumerate(order):
    rank[pid] = i
  cause = np.full(16, SHOWN)
  m = CUTOFF_MARGIN * size
  inside = np.all((joints_xy >= -0.5) & (joints_xy <= size - 0.5), axis=1)
  annotated = np.all((joints_xy >= -m) & (joints_xy <= size - 1 + m), axis=1)
  for name, k in J.items():
    if not annotated[k]:
      cause[k] = UNANNOTATED
    elif not inside[k]:
      cause[k] = OUTSIDE
    else:
      px, py = np.clip(np.round(joints_xy[k]).astype(int), 0, size - 1)
      hit = int(lab[py, px])
      if hit and hit not in _OWN[name] and rank[hit] > max(rank[o] for o in _OWN[name]):
        cause[k] = OCCLUDED if hit == OCCLUDER else SELF_OCCLUDED

  # Colour the person: palette × texture × depth shading, dark outlines between parts.
  pal = _person_palette(rng)
  tex = _texture(rng, size)
  depth = {pid: d for d, pid, _, _ in items}
  zs = np.array(list(depth.values()))
  shade = np.ones(17, np.float32)
  for pid, d in depth.items():
    shade[pid] = 1.0 - 0.25 * (d - zs.min()) / max(zs.max() - zs.min(), 1e-6)
  shade[[HAIR, FACE]] = shade[HEAD]
  clothed = np.zeros(17, bool)
  clothed[[TORSO, 6, 7, 8, 9, 10, 11, 12, 13]] = True
  clothed &= np.abs(pal - pal[HEAD]).sum(1) > 1
  occ_tex = 1 + 0.2 * np.sign(np.sin(np.arange(size) * np.pi / rng.uniform(2, 6)))[None, :]
  colour = pal[lab] * shade[lab][..., None]
  colour = np.where(clothed[lab][..., None], colour * tex[..., None], colour)
  colour = np.where((lab == OCCLUDER)[..., None], pal[OCCLUDER] * occ_tex[..., None], colour)
  edge = np.zeros((size, size), bool)
  dx = lab[:, 1:] != lab[:, :-1]
  dy = lab[1:, :] != lab[:-1, :]
  edge[:, 1:] |= dx
  edge[1:, :] |= dy
  colour = np.where(edge[..., None] & (lab > 0)[..., None], colour * 0.55, colour)
  out = np.where((lab > 0)[..., None], colour, np.asarray(img, np.float32))
  out = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))
  out = out.filter(ImageFilter.GaussianBlur(radius=0.5))
  buf = io.BytesIO()
  out.save(buf, format="PNG", compress_level=1)

  valid = annotated.astype(np.float32)
  visible = (cause == SHOWN).astype(np.float32)
  joints = np.concatenate([joints_xy, visible[:, None]], axis=1).astype(np.float32)
  joints[valid == 0] = 0.0
  top, neck = joints_xy[J["head_top"]], joints_xy[J["upper_neck"]]
  head_len = float(np.linalg.norm(top - neck))
  hc = (top + neck) / 2
  head_box = np.concatenate([hc - head_len / 2, hc + head_len / 2]).astype(np.float32)
  norm = 0.6 * float(np.linalg.norm(head_box[2:] - head_box[:2]))
  extent = float(max(hi - lo))
  scale = max(extent, 0.4 * height) / 200.0 * float(np.exp(rng.normal(0.0, 0.04)))
  center = target + rng.normal(0.0, 0.015 * extent, size=2)
  record = PoseRecord(image=buf.getvalue(), joints=joints, valid=valid,
                      center=center.astype(np.float32), scale=float(scale), norm=norm,
                      head_box=head_box)
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
