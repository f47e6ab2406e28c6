"""Synthetic people, part 1 of 2: the 3-D body, its pose and the camera (no drawing).

A figure is a 3-D kinematic tree (per-figure limb proportions, joint angles within
human-like limits, pose presets: standing, walking, sitting, crouching, arms raised,
free), seen from the front (~60%), the back (~20%) or in profile (~20%). Drawing it is
``synthetic_draw``; ``synthetic`` puts the two together into annotated examples.

Views and left/right. The body frame is x = person's left, y = down, z = forward; the
camera sees ``Ry(yaw) · diag(1, 1, -1) · p`` (x right, y down, z away from the camera).

* front (yaw ≈ 0): the person's left is on the image right.
* back (yaw ≈ π): the person's left is on the image left.
* profile, facing image-left (yaw ≈ +π/2): the person's **left** side is near the camera;
  facing image-right (yaw ≈ -π/2): the **right** side is near.

Every function draws from the ``rng`` it is given, in a fixed order: a change of order
changes every generated image (the stored datasets and the default run's accuracy are
compared across versions), so keep it.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from jaxpose import skeleton as skel

J = {name: i for i, name in enumerate(skel.MPII.joints)}
VIEWS = ("front", "back", "profile_left", "profile_right")
PRESETS = ("stand", "walk", "sit", "crouch", "arms_up", "free")
_PRESET_P = (0.28, 0.25, 0.12, 0.10, 0.13, 0.12)

# Segment lengths as fractions of body height (head top to ankle ≈ 1); the half widths of
# shoulders, hips and chest also shape the drawn torso.
_HEAD, _NECK, _TORSO = 0.13, 0.05, 0.30
SHOULDER_HALF, HIP_HALF, CHEST_HALF = 0.11, 0.075, 0.07
_UPPER_ARM, _FOREARM, _THIGH, _SHIN, _FOOT = 0.17, 0.15, 0.245, 0.235, 0.07


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
    p[J[f"{s}_shoulder"]] = p[J["thorax"]] + r_torso @ np.array([side * SHOULDER_HALF * lengths[2], 0, 0])
    p[J[f"{s}_hip"]] = _ry(0.4 * twist) @ np.array([side * HIP_HALF * lengths[3], 0, 0])
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


def sample_view(rng: np.random.Generator) -> tuple[str, float]:
  """(view name, yaw): ~60% front, ~20% back, ~20% profile (either way)."""
  r = rng.uniform()
  jitter = float(np.clip(rng.normal(0.0, 0.25), -0.6, 0.6))
  if r < 0.6:
    return "front", jitter
  if r < 0.8:
    return "back", np.pi + jitter
  yaw = float(rng.choice([-1.0, 1.0])) * np.pi / 2 + float(rng.uniform(-0.4, 0.4))
  return ("profile_left" if yaw > 0 else "profile_right"), yaw


def camera(yaw: float, roll: float) -> np.ndarray:
  """(3, 3) body frame → camera (x right, y down, z away); roll turns the image plane."""
  c, s = np.cos(roll), np.sin(roll)
  r_roll = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
  return r_roll @ _ry(yaw) @ np.diag([1.0, 1.0, -1.0])


def sample_roll(rng: np.random.Generator) -> tuple[bool, float]:
  """(lying, roll): ~5% of figures lie (roll ≈ ±π/2); the others lean by at most 30°."""
  lying = bool(rng.uniform() < 0.05)
  if lying:
    roll = float(rng.choice([-1.0, 1.0])) * np.pi / 2 + float(rng.normal(0, 0.2))
  else:
    roll = float(np.clip(rng.normal(0.0, 0.22), -0.52, 0.52))
  return lying, roll


@dataclasses.dataclass
class Placement:
  """Where a figure stands in a square image.

  Attributes:
    height: pixels per unit of body height.
    offset: (2,) image position of the body frame's origin.
    target: (2,) image position of the middle of the joint box.
    lo, hi: (2,) corners of the joint box relative to the origin, in pixels.
  """
  height: float
  offset: np.ndarray
  target: np.ndarray
  lo: np.ndarray
  hi: np.ndarray


def place(rng: np.random.Generator, fig: Figure, cam: np.ndarray, size: int) -> Placement:
  """Size and position of ``fig`` seen by ``cam`` in a ``size``² image: the joint box's
  larger side covers ~38-75% of the image, mostly near the middle (one in ten is moved
  far enough that the border cuts it off)."""
  proj = (fig.points @ cam.T)[:16, :2]
  extent_unit = float(max(proj.max(0) - proj.min(0)))
  height = float(rng.uniform(0.38, 0.75)) * size / max(extent_unit, 0.5)
  lo, hi = proj.min(0) * height, proj.max(0) * height
  spread = 0.28 if rng.uniform() < 0.1 else 0.08
  target = size / 2 + rng.uniform(-spread, spread, size=2) * size
  return Placement(height=height, offset=target - (lo + hi) / 2, target=target, lo=lo, hi=hi)
