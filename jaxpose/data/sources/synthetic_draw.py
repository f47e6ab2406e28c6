"""Synthetic people, part 2 of 2: drawing a posed figure (``synthetic_pose``) into an image,
a per-pixel part-label map and the visibility that map implies.

Limbs are filled capsules in per-figure clothing and skin colours with stripes / checks /
noise texture and dark outlines, drawn far to near so that near limbs occlude far ones;
the background is cluttered (gradients, noise, textured shapes) and may hold a partial
distractor figure. The head shows the view: from the front a face (two eyes, a mouth, a
nose dot) with hair only as a rim around the top; from the back hair and no face; in
profile one eye and a nose bump on the facing side, hair on the back of the head.
Near-side limbs are drawn over the torso and far-side limbs behind it (and slightly
darker). Every cue is geometric or follows from the 3-D geometry, never a colour per
side, so a mirrored image is again a valid one.

A joint is hidden when its pixel of the label map (drawn in the same depth order) shows a
part drawn after all of the joint's own parts. Uses numpy + Pillow only; draws from the
``rng`` it is given in a fixed order (see ``synthetic_pose``).
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from jaxpose.data.sources import synthetic_pose as pose
from jaxpose.data.sources.synthetic_pose import J

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
# Visibility codes of ``visibility`` (``synthetic.render_with_info``'s ``cause``).
SHOWN, SELF_OCCLUDED, OCCLUDED, OUTSIDE, UNANNOTATED = 0, 1, 2, 3, 4


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


def figure_items(fig: pose.Figure, cam: np.ndarray, height: float, offset: np.ndarray) -> tuple:
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
    return height * np.hypot(lateral * (left2 @ perp), pose.CHEST_HALF * (fwd2 @ perp))
  top, bottom = half(pose.SHOULDER_HALF * 1.05), half(pose.HIP_HALF * 1.3)
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


def draw_items(draw: ImageDraw.ImageDraw, items: list, fill_of, keep=None) -> list:
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


def background(rng: np.random.Generator, size: int) -> Image.Image:
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


def distractor(rng: np.random.Generator, img: Image.Image, size: int) -> None:
  """A partial second figure (a few limbs, often cut off) drawn onto the background."""
  fig = pose.sample_pose(rng)
  _, yaw = pose.sample_view(rng)
  cam = pose.camera(yaw, float(rng.normal(0, 0.3)))
  height = float(rng.uniform(0.35, 0.8)) * size
  # Mostly beside the main person or half out of the frame.
  offset = np.array([rng.choice([0.05, 0.95]) * size + rng.normal(0, 0.08 * size),
                     rng.uniform(0.3, 0.8) * size])
  _, items = figure_items(fig, cam, height, offset)
  ids = [pid for _, pid, _, _ in items]
  keep = set(rng.choice(ids, size=int(rng.integers(2, 7)), replace=False).tolist())
  palette = {pid: tuple(int(c) for c in rng.integers(0, 256, size=3)) for pid in range(1, 17)}
  draw_items(ImageDraw.Draw(img), items, lambda pid: palette[pid], keep)


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


def label_map(rng: np.random.Generator, items: list, joints_xy: np.ndarray, height: float,
              size: int) -> tuple[np.ndarray, list]:
  """(size, size) part ids of the person in depth order, and the ids in drawing order;
  ~30% of maps also get an occluder (``OCCLUDER``) in front, over a random joint."""
  labels = Image.new("L", (size, size), 0)
  ldraw = ImageDraw.Draw(labels)
  order = draw_items(ldraw, items, lambda pid: pid)
  if rng.uniform() < 0.3:
    k = int(rng.integers(16))
    half = rng.uniform(0.05, 0.13) * height
    x, y = joints_xy[k] + rng.uniform(-0.7, 0.7, size=2) * half
    w, h = half * rng.uniform(0.6, 1.6, size=2)
    if rng.uniform() < 0.5:
      ldraw.rectangle([x - w, y - h, x + w, y + h], fill=OCCLUDER)
    else:
      ldraw.ellipse([x - w, y - h, x + w, y + h], fill=OCCLUDER)
    order.append(OCCLUDER)
  return np.asarray(labels), order


def visibility(lab: np.ndarray, order: list, joints_xy: np.ndarray, margin: float) -> np.ndarray:
  """(16,) visibility code per joint: ``UNANNOTATED`` farther than ``margin`` pixels outside
  the image, ``OUTSIDE`` outside but within it, else ``SELF_OCCLUDED`` / ``OCCLUDED`` when
  the joint's pixel shows a body part / the occluder drawn after all of its own parts,
  else ``SHOWN``."""
  size = lab.shape[0]
  rank = np.full(17, -1)
  for i, pid in enumerate(order):
    rank[pid] = i
  cause = np.full(16, SHOWN)
  inside = np.all((joints_xy >= -0.5) & (joints_xy <= size - 0.5), axis=1)
  annotated = np.all((joints_xy >= -margin) & (joints_xy <= size - 1 + margin), axis=1)
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
  return cause


def paint(rng: np.random.Generator, lab: np.ndarray, items: list, img: Image.Image) -> bytes:
  """The person of label map ``lab`` coloured over the background ``img``, as PNG bytes:
  palette × texture × depth shading, dark outlines between parts, a slight blur."""
  size = lab.shape[0]
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
  return buf.getvalue()
