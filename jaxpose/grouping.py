"""Groups of related body parts for the part-based branching network (PBN).

Tang & Wu, "Does Learning Specific Features for Related Parts Help Human Pose
Estimation?", CVPR 2019, §3.1 gives two ways to decide which joints share a branch:

* **Body** (handcrafted): six groups of joints connected in the body skeleton
  (``body_groups``).
* **Stat** (data-driven): treat each joint location ``l_m`` as a random variable on
  a normalised 16×16 lattice, estimate the pairwise histograms ``p(l_m, l_n)`` from
  annotations, compute the mutual information (eq. 1), drop the diagonal and
  normalise linearly to [0, 1] (Fig. 2a), and split that affinity matrix into k
  groups by spectral clustering (Fig. 2b) (``joint_mutual_information``,
  ``affinity``, ``spectral_groups``, ``groups_from_records``).

§4.3 also tries *overlapping* groups: each shoulder joins the group of the elbow and
wrist on its side as well as keeping its own (``paper_overlap``); ``expand_overlap``
is the general, affinity-driven version of the same idea.

Choices the paper leaves open, fixed here and documented where they are made:

* Pose normalisation (``normalize_poses``). ``"crop"`` (default where the dataset has
  a centre and scale, e.g. MPII): the lattice is the square the networks see, side
  ``extent × 200 × scale`` (``extent`` = 1.25, the crop padding of the hourglass
  port) around the annotated person centre. ``"box"`` (datasets without centre and
  scale, e.g. LSP): the square of side ``extent × max(width, height)`` (``extent`` =
  1.0) around the centre of the box of the pose's own annotated joints. Points that
  fall outside the square are clipped onto the border cells.
* The estimator is the plug-in (maximum-likelihood) one: empirical histograms over
  the 256 lattice cells, natural logarithm (nats), each pair estimated from the poses
  where *both* joints are annotated, with the marginals taken from that same pair
  histogram so that I ≥ 0 exactly. For independent variables its bias is about
  ``(A − 1)(B − 1) / (2 N)`` nats (A, B = occupied cells, N = poses); ``miller_madow``
  subtracts that first-order term instead (an option, not the paper's).
* Spectral clustering. The paper cites Dhillon et al. 2004 ("Kernel k-means, spectral
  clustering and normalized cuts"), i.e. the normalised cut of Shi & Malik, so the
  default ``method="shi_malik"`` embeds each joint by the k smallest generalised
  eigenvectors of ``(D − A) u = λ D u`` (the random-walk Laplacian; rows not
  normalised; this is also what scikit-learn's SpectralClustering computes) and runs
  k-means on them. ``method="njw"`` is Ng–Jordan–Weiss (top-k eigenvectors of
  ``D^-1/2 A D^-1/2``, rows normalised to unit length). k-means is k-means++ seeded
  from ``numpy.random.default_rng(seed)`` with ``restarts`` runs of Lloyd's algorithm,
  keeping the lowest inertia, so a seed fixes the result.

Measured on the MPII training annotations (22,246 people, "crop" normalisation, 16×16
lattice, plug-in MI), ``shi_malik`` with k = 5 gives exactly the groups of Fig. 2(b)
for seeds 0–4 alike; ``njw`` puts the left shoulder with the left elbow and
wrist instead. With k = 6 both split the legs into left and right and keep head top
and upper neck with the thorax — unlike the §3.1 text, because in these estimates
upper neck–thorax (0.97) and head top–upper neck (0.96) are the strongest pairs after
pelvis–hips, while ankle–ankle is 0.65 and knee–knee 0.51 (normalised affinities;
``python -m jaxpose.grouping --dataset=mpii --k=5 --plot=mi.png`` reproduces them).

Groups are tuples of joint indices in the skeleton's order; every group is sorted and
the groups are sorted by their smallest index (``canonical``).

Command line::

  python -m jaxpose.grouping --dataset=mpii --split=train --k=5 --plot=mi.png \\
      --output=groups.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from typing import Any, Iterable, NamedTuple, Optional, Sequence

import numpy as np

from jaxpose import skeleton as skeleton_lib

Groups = tuple[tuple[int, ...], ...]

# The default side of the normalised square, per normalisation mode (see module doc).
DEFAULT_EXTENT = {"crop": 1.25, "box": 1.0}

# §3.1, "Body": "(1) head top, upper neck and thorax, (2) left wrist, left elbow and
# left shoulder, (3) right wrist, right elbow and right shoulder, (4) left knee and left
# ankle, (5) right knee and right ankle, (6) left hip, right hip and pelvis".
# LSP has no thorax and no pelvis; its groups are the same minus those joints.
BODY_GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "mpii": (("head_top", "upper_neck", "thorax"),
             ("l_wrist", "l_elbow", "l_shoulder"),
             ("r_wrist", "r_elbow", "r_shoulder"),
             ("l_knee", "l_ankle"),
             ("r_knee", "r_ankle"),
             ("l_hip", "r_hip", "pelvis")),
    "lsp": (("head_top", "neck"),
            ("l_wrist", "l_elbow", "l_shoulder"),
            ("r_wrist", "r_elbow", "r_shoulder"),
            ("l_knee", "l_ankle"),
            ("r_knee", "r_ankle"),
            ("l_hip", "r_hip")),
}


class Grouping(NamedTuple):
  """A saved grouping: joint names (skeleton order), groups as indices, MI or None."""
  joints: tuple[str, ...]
  groups: Groups
  mi: Optional[np.ndarray]


# ----------------------------------------------------------------------------------
# Groups: canonical form, handcrafted groups, overlap.


def canonical(groups: Iterable[Iterable[int]]) -> Groups:
  """Sorts each group and orders the groups by their smallest joint index (then by
  the rest of the group), dropping empty groups."""
  out = [tuple(sorted({int(j) for j in g})) for g in groups]
  return tuple(sorted((g for g in out if g), key=lambda g: g))


def body_groups(skel: skeleton_lib.Skeleton | str) -> Groups:
  """The six handcrafted body-structure groups of §3.1 ("Body" in §4.3) for ``skel``.

  Raises:
    KeyError: the skeleton has no handcrafted grouping (only MPII and LSP do).
  """
  skel = skeleton_lib.get(skel) if isinstance(skel, str) else skel
  if skel.name not in BODY_GROUPS:
    raise KeyError(f"no body-structure grouping for skeleton {skel.name!r}; "
                   f"defined for {sorted(BODY_GROUPS)}")
  return canonical(tuple(skel.index(n) for n in names) for names in BODY_GROUPS[skel.name])


def group_names(groups: Groups, skel: skeleton_lib.Skeleton | Sequence[str]
                ) -> tuple[tuple[str, ...], ...]:
  """Groups of indices → groups of joint names."""
  names = skel.joints if isinstance(skel, skeleton_lib.Skeleton) else tuple(skel)
  return tuple(tuple(names[j] for j in g) for g in groups)


def paper_overlap(groups: Groups, skel: skeleton_lib.Skeleton | str) -> Groups:
  """The overlapping groups of §4.3: each shoulder also joins the group that holds
  the elbow and wrist of its side (keeping its own group).

  The paper does this to the Fig. 2(b) grouping, where the shoulders sit with the
  head and thorax and each elbow with its wrist; here a shoulder is added to whatever
  group holds the same-side elbow, and nothing changes where it is already there.
  """
  skel = skeleton_lib.get(skel) if isinstance(skel, str) else skel
  out = [set(g) for g in groups]
  for side in ("l", "r"):
    shoulder, elbow = skel.index(f"{side}_shoulder"), skel.index(f"{side}_elbow")
    for g in out:
      if elbow in g:
        g.add(shoulder)
  return canonical(out)


def expand_overlap(groups: Groups, affinity_matrix: np.ndarray, threshold: float = 0.75,
                   max_added: Optional[int] = 1) -> Groups:
  """Makes disjoint groups overlap where the affinity says so (§4.3, generalised).

  §4.3 notes "parts which share significant mutual information but are not in the
  same group, e.g., left (right) elbow and left (right) shoulder". A joint ``j`` outside
  a group G joins G when its strongest affinity to a member of G is at least
  ``threshold`` (affinities normalised to [0, 1] as by ``affinity``). At most
  ``max_added`` joints (the strongest) are added to each group (None: no limit).
  The decisions are made against the original, disjoint groups.
  """
  a = np.asarray(affinity_matrix, np.float64)
  out = []
  for g in groups:
    members = list(g)
    outside = [j for j in range(a.shape[0]) if j not in g]
    scores = [(a[j, members].max(), j) for j in outside]
    picked = sorted((s for s in scores if s[0] >= threshold), key=lambda s: (-s[0], s[1]))
    if max_added is not None:
      picked = picked[:max_added]
    out.append(set(g) | {j for _, j in picked})
  return canonical(out)


# ----------------------------------------------------------------------------------
# Mutual information between joint locations (§3.1, eq. 1).


def normalize_poses(joints: np.ndarray, valid: np.ndarray, centers: Optional[np.ndarray] = None,
                    scales: Optional[np.ndarray] = None, mode: Optional[str] = None,
                    extent: Optional[float] = None) -> np.ndarray:
  """Maps each pose into the unit square, the normalised spatial domain of §3.1.

  Args:
    joints: (N, K, 2) x, y in pixels.
    valid: (N, K) 1 where a joint is annotated.
    centers: (N, 2) person centres (mode "crop").
    scales: (N,) person height / 200 px (mode "crop").
    mode: "crop" — the square of side ``extent·200·scale`` around the centre (the
      network's input crop); "box" — the square of side ``extent·max(w, h)`` around the
      centre of the box of the pose's annotated joints. Default: "crop" when centres
      and scales are given, else "box".
    extent: the square's side in units of the normaliser; default
      ``DEFAULT_EXTENT[mode]``.

  Returns:
    (N, K, 2) coordinates, [0, 1] inside the square (not clipped); NaN for joints
    that are not annotated and for poses whose box is degenerate.
  """
  joints = np.asarray(joints, np.float64)[..., :2]
  valid = np.asarray(valid) > 0
  if mode is None:
    mode = "crop" if centers is not None and scales is not None else "box"
  if mode not in DEFAULT_EXTENT:
    raise ValueError(f"unknown normalisation {mode!r}; choose one of {sorted(DEFAULT_EXTENT)}")
  extent = DEFAULT_EXTENT[mode] if extent is None else float(extent)
  if mode == "crop":
    if centers is None or scales is None:
      raise ValueError("normalisation 'crop' needs centers and scales")
    center = np.asarray(centers, np.float64).reshape(-1, 1, 2)
    side = extent * 200.0 * np.asarray(scales, np.float64).reshape(-1, 1, 1)
  else:
    masked = np.where(valid[..., None], joints, np.nan)
    with warnings.catch_warnings():  # all-NaN rows: poses with no annotated joint
      warnings.simplefilter("ignore", RuntimeWarning)
      lo, hi = np.nanmin(masked, axis=1), np.nanmax(masked, axis=1)  # (N, 2)
    center = ((lo + hi) / 2)[:, None, :]
    side = (extent * np.max(hi - lo, axis=1))[:, None, None]
    side = np.where(side > 0, side, np.nan)
  with np.errstate(all="ignore"):
    u = (joints - center) / side + 0.5
  return np.where(valid[..., None], u, np.nan)


def lattice_cells(u: np.ndarray, bins: int = 16) -> np.ndarray:
  """(…, 2) unit-square coordinates → (…) cell index ``row·bins + col`` on the
  ``bins × bins`` lattice (points outside clipped onto the border), −1 for NaN."""
  u = np.asarray(u, np.float64)
  ok = np.isfinite(u).all(axis=-1)
  ij = np.clip(np.floor(np.where(np.isfinite(u), u, 0.0) * bins), 0, bins - 1).astype(np.int64)
  return np.where(ok, ij[..., 1] * bins + ij[..., 0], -1)


def mutual_information_discrete(a: np.ndarray, b: np.ndarray, num_states: int,
                                miller_madow: bool = False) -> float:
  """Plug-in mutual information (nats) of two discrete samples, eq. (1) of §3.1.

  ``p(a, b)`` is the empirical histogram and ``p(a)``, ``p(b)`` its marginals, so the
  result is ≥ 0 and 0 exactly when the empirical joint factorises. With
  ``miller_madow`` the first-order bias ``(B_ab − B_a − B_b + 1) / (2N)`` (B = occupied
  cells) is subtracted (and the result floored at 0).
  """
  a = np.asarray(a, np.int64).ravel()
  b = np.asarray(b, np.int64).ravel()
  n = a.size
  if n == 0:
    return 0.0
  pair, counts = np.unique(a * num_states + b, return_counts=True)
  ca = np.bincount(a, minlength=num_states)
  cb = np.bincount(b, minlength=num_states)
  ia, ib = pair // num_states, pair % num_states
  # sum p(a,b) log(p(a,b) / (p(a) p(b))) with p = count / n.
  mi = float(np.sum(counts * np.log(counts * n / (ca[ia] * cb[ib].astype(np.float64)))) / n)
  mi = max(mi, 0.0)  # rounding only: the plug-in value is non-negative
  if miller_madow:
    mi = max(mi - (pair.size - np.count_nonzero(ca) - np.count_nonzero(cb) + 1) / (2.0 * n), 0.0)
  return mi


def joint_mutual_information(joints: np.ndarray, valid: np.ndarray,
                             centers: Optional[np.ndarray] = None,
                             scales: Optional[np.ndarray] = None, bins: int = 16,
                             mode: Optional[str] = None, extent: Optional[float] = None,
                             miller_madow: bool = False, min_count: int = 1) -> np.ndarray:
  """Mutual information I(l_m, l_n) between every pair of joint locations (§3.1, eq. 1).

  Each pose is normalised by ``normalize_poses`` and quantised on a ``bins × bins``
  lattice (16 in the paper); each pair's histogram uses only the poses where both
  joints are annotated (``valid``).

  Args:
    joints: (N, K, 2) (or (N, K, 3); the third channel is ignored) pixels.
    valid: (N, K) annotation mask.
    centers, scales, mode, extent: see ``normalize_poses``.
    bins: lattice side.
    miller_madow: subtract the first-order estimation bias (not in the paper).
    min_count: pairs seen together in fewer poses get MI 0.

  Returns:
    (K, K) symmetric, non-negative, in nats; the diagonal holds each joint's entropy
    (I(l, l) = H(l)).
  """
  joints = np.asarray(joints)
  if joints.ndim != 3 or joints.shape[-1] < 2:
    raise ValueError(f"joints must have shape (N, K, 2), got {joints.shape}")
  valid = np.asarray(valid).reshape(joints.shape[:2])
  cells = lattice_cells(normalize_poses(joints, valid, centers, scales, mode, extent), bins)
  num_joints = joints.shape[1]
  states = bins * bins
  mi = np.zeros((num_joints, num_joints))
  ok = cells >= 0
  for m in range(num_joints):
    for n in range(m, num_joints):
      both = ok[:, m] & ok[:, n]
      if both.sum() < min_count or not both.any():
        continue
      mi[m, n] = mi[n, m] = mutual_information_discrete(
          cells[both, m], cells[both, n], states, miller_madow)
  return mi


def affinity(mi: np.ndarray) -> np.ndarray:
  """Fig. 2(a): the diagonal removed (set to 0) and the off-diagonal entries
  normalised linearly to [0, 1] (min → 0, max → 1). Symmetrised first."""
  mi = np.asarray(mi, np.float64)
  mi = (mi + mi.T) / 2
  off = ~np.eye(mi.shape[0], dtype=bool)
  if not off.any():
    return np.zeros_like(mi)
  lo, hi = mi[off].min(), mi[off].max()
  out = np.where(off, (mi - lo) / (hi - lo) if hi > lo else np.ones_like(mi), 0.0)
  return np.clip(out, 0.0, 1.0)


# ----------------------------------------------------------------------------------
# Spectral clustering (§3.1, "we treat {I(l_m, l_n)} as an affinity matrix and use
# spectral clustering [Dhillon et al. 2004]").


def kmeans(points: np.ndarray, k: int, seed: int = 0, restarts: int = 10,
           max_iter: int = 300) -> tuple[np.ndarray, float]:
  """k-means (k-means++ seeding, Lloyd iterations), best of ``restarts`` by inertia.

  Deterministic for a given seed: all randomness comes from
  ``numpy.random.default_rng(seed)``, ties go to the lowest index.

  Returns:
    (labels (N,), inertia).
  """
  x = np.asarray(points, np.float64)
  n = x.shape[0]
  if not 1 <= k <= n:
    raise ValueError(f"k-means: need 1 <= k <= {n} points, got k={k}")
  rng = np.random.default_rng(seed)
  best_labels, best_inertia = None, np.inf
  for _ in range(max(1, restarts)):
    # k-means++ seeding.
    idx = [int(rng.integers(n))]
    d2 = ((x - x[idx[0]]) ** 2).sum(1)
    for _ in range(1, k):
      total = d2.sum()
      if total <= 0:  # fewer distinct points than k: take any unused point
        idx.append(int(next(i for i in range(n) if i not in idx)))
      else:
        idx.append(int(rng.choice(n, p=d2 / total)))
      d2 = np.minimum(d2, ((x - x[idx[-1]]) ** 2).sum(1))
    centers = x[idx].copy()
    labels = np.full(n, -1)
    for _ in range(max_iter):
      dist = ((x[:, None, :] - centers[None]) ** 2).sum(-1)
      new = dist.argmin(1)
      # An empty cluster takes the point farthest from its centre.
      for c in range(k):
        if not np.any(new == c):
          far = int(np.argmax(dist[np.arange(n), new]))
          new[far] = c
          dist[far, c] = 0.0
      if np.array_equal(new, labels):
        break
      labels = new
      centers = np.stack([x[labels == c].mean(0) for c in range(k)])
    inertia = float(((x - centers[labels]) ** 2).sum())
    if inertia < best_inertia - 1e-12:
      best_labels, best_inertia = labels.copy(), inertia
  return best_labels, best_inertia


def spectral_embedding(affinity_matrix: np.ndarray, k: int, method: str = "shi_malik") -> np.ndarray:
  """The (K, k) spectral embedding of an affinity matrix.

  ``njw`` (Ng, Jordan & Weiss 2001): the k leading eigenvectors of ``D^-1/2 A D^-1/2``,
  each row normalised to unit length. ``shi_malik`` (Shi & Malik 2000, the normalised
  cut that Dhillon et al. 2004 relate to weighted kernel k-means): the k smallest
  generalised eigenvectors of ``(D − A) u = λ D u``, i.e. ``D^-1/2`` times the same
  eigenvectors, rows not normalised.
  """
  a = np.asarray(affinity_matrix, np.float64)
  a = (a + a.T) / 2
  np.fill_diagonal(a, 0.0)
  deg = a.sum(1)
  inv_sqrt = 1.0 / np.sqrt(np.maximum(deg, 1e-12))
  m = inv_sqrt[:, None] * a * inv_sqrt[None, :]
  _, vecs = np.linalg.eigh(m)  # ascending eigenvalues
  v = vecs[:, ::-1][:, :k]
  if method == "njw":
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norms, 1e-12)
  if method == "shi_malik":
    return inv_sqrt[:, None] * v
  raise ValueError(f"unknown spectral method {method!r}; choose 'njw' or 'shi_malik'")


def spectral_groups(affinity_matrix: np.ndarray, k: int, seed: int = 0, restarts: int = 10,
                    method: str = "shi_malik") -> Groups:
  """Splits the joints into ``k`` disjoint groups by spectral clustering (§3.1, Fig. 2b).

  Args:
    affinity_matrix: (K, K) non-negative symmetric affinity (``affinity(mi)``).
    k: number of groups, 1 ≤ k ≤ K.
    seed, restarts: k-means seeding and number of runs (best inertia kept).
    method: "shi_malik" (default) or "njw" (``spectral_embedding``).

  Returns:
    k groups of joint indices in canonical order.
  """
  a = np.asarray(affinity_matrix, np.float64)
  if a.ndim != 2 or a.shape[0] != a.shape[1]:
    raise ValueError(f"affinity must be square, got shape {a.shape}")
  if not 1 <= k <= a.shape[0]:
    raise ValueError(f"k must be in [1, {a.shape[0]}], got {k}")
  if k == 1:
    return (tuple(range(a.shape[0])),)
  labels, _ = kmeans(spectral_embedding(a, k, method), k, seed=seed, restarts=restarts)
  return canonical(tuple(np.flatnonzero(labels == c)) for c in range(k))


# ----------------------------------------------------------------------------------
# From records to groups; persistence.


def records_arrays(records: Sequence[Any]) -> dict[str, np.ndarray]:
  """Stacks ``PoseRecord``-like objects into joints (N,K,2), valid (N,K), centers (N,2),
  scales (N,)."""
  if not records:
    raise ValueError("no records")
  joints = np.stack([np.asarray(r.joints, np.float64)[:, :2] for r in records])
  valid = np.stack([np.asarray(r.valid, np.float64).reshape(-1) for r in records])
  centers = np.stack([np.asarray(r.center, np.float64).reshape(2) for r in records])
  scales = np.asarray([float(r.scale) for r in records], np.float64)
  return {"joints": joints, "valid": valid, "centers": centers, "scales": scales}


def groups_from_records(records: Sequence[Any], k: int, bins: int = 16,
                        mode: str = "crop", extent: Optional[float] = None, seed: int = 0,
                        restarts: int = 10, method: str = "shi_malik",
                        miller_madow: bool = False) -> tuple[Groups, np.ndarray]:
  """The data-driven ("Stat") grouping of §3.1 from annotated records.

  Returns:
    (groups, mi): k canonical groups and the (K, K) mutual information in nats.
  """
  arr = records_arrays(records)
  mi = joint_mutual_information(
      arr["joints"], arr["valid"], arr["centers"] if mode == "crop" else None,
      arr["scales"] if mode == "crop" else None, bins=bins, mode=mode, extent=extent,
      miller_madow=miller_madow)
  return spectral_groups(affinity(mi), k, seed=seed, restarts=restarts, method=method), mi


def save_groups(path: str, groups: Groups, joints: skeleton_lib.Skeleton | Sequence[str],
                mi: Optional[np.ndarray] = None, **metadata: Any) -> None:
  """Writes ``{"joints": [...], "groups": [[names], ...], "mi": [[...]]}`` (plus any
  ``metadata`` keys, e.g. how it was computed)."""
  names = joints.joints if isinstance(joints, skeleton_lib.Skeleton) else tuple(joints)
  doc: dict[str, Any] = dict(metadata)
  doc["joints"] = list(names)
  doc["groups"] = [list(g) for g in group_names(groups, names)]
  doc["mi"] = None if mi is None else np.asarray(mi, np.float64).tolist()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w") as f:
    json.dump(doc, f, indent=1)


def load_groups(path: str, skel: Optional[skeleton_lib.Skeleton | str] = None) -> Grouping:
  """Reads a file written by ``save_groups``.

  With ``skel`` the joint list must name the same joints as the skeleton; the groups
  and MI are then returned in the skeleton's order.
  """
  with open(path) as f:
    doc = json.load(f)
  names = tuple(doc["joints"])
  mi = None if doc.get("mi") is None else np.asarray(doc["mi"], np.float64)
  if skel is not None:
    skel = skeleton_lib.get(skel) if isinstance(skel, str) else skel
    if sorted(names) != sorted(skel.joints):
      raise ValueError(f"{path}: joints {names} are not those of skeleton {skel.name!r}")
    perm = [names.index(n) for n in skel.joints]
    mi = None if mi is None else mi[np.ix_(perm, perm)]
    names = skel.joints
  index = {n: i for i, n in enumerate(names)}
  try:
    groups = canonical(tuple(index[n] for n in g) for g in doc["groups"])
  except KeyError as e:
    raise ValueError(f"{path}: group names unknown joint {e.args[0]!r}") from None
  return Grouping(names, groups, mi)


# ----------------------------------------------------------------------------------
# Plots (Fig. 2).

# A fixed upright pose in MPII order (x right, y down, person height ≈ 1), used to
# draw groups; other skeletons take it through ``skeleton.convert``.
_MPII_POSE = np.array([
    [-0.12, 0.98], [-0.11, 0.74], [-0.09, 0.50], [0.09, 0.50], [0.11, 0.74], [0.12, 0.98],
    [0.00, 0.50], [0.00, 0.18], [0.00, 0.13], [0.00, 0.00], [-0.30, 0.52], [-0.26, 0.35],
    [-0.17, 0.18], [0.17, 0.18], [0.26, 0.35], [0.30, 0.52]])

_COLORS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
           "#bfef45", "#469990", "#9a6324", "#800000", "#808000", "#000075", "#a9a9a9",
           "#ffe119", "#000000")


def canonical_pose(skel: skeleton_lib.Skeleton) -> np.ndarray:
  """(K, 2) the fixed upright pose used by ``plot_groups``; NaN where the skeleton
  has a joint MPII lacks."""
  if skel.name == "mpii":
    return _MPII_POSE.copy()
  idx = skeleton_lib.mapping(skeleton_lib.MPII, skel)
  pose = np.full((skel.num_joints, 2), np.nan)
  pose[idx >= 0] = _MPII_POSE[idx[idx >= 0]]
  return pose


def _pyplot():
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def plot_mi(mi: np.ndarray, names: Sequence[str], path: str, normalize: bool = True,
            title: Optional[str] = None) -> None:
  """Fig. 2(a): the pairwise MI matrix (diagonal removed, normalised to [0, 1] unless
  ``normalize`` is False) as an image with joint names, saved as PNG."""
  plt = _pyplot()
  a = affinity(mi) if normalize else np.asarray(mi)
  fig, ax = plt.subplots(figsize=(7, 6))
  im = ax.imshow(a, cmap="viridis", vmin=0.0, vmax=1.0 if normalize else None)
  ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
  ax.set_yticks(range(len(names)), names, fontsize=8)
  fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
  ax.set_title(title or ("normalised mutual information" if normalize else "mutual information (nats)"))
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)


def plot_groups(groups: Groups, skel: skeleton_lib.Skeleton | str, path: str,
                pose: Optional[np.ndarray] = None, title: Optional[str] = None) -> None:
  """Fig. 2(b): the skeleton's sticks with each joint coloured by its group; a joint
  in several (overlapping) groups is drawn as concentric rings, one per group.

  Args:
    pose: (K, 2) positions to draw at; default ``canonical_pose(skel)``.
  """
  skel = skeleton_lib.get(skel) if isinstance(skel, str) else skel
  plt = _pyplot()
  pose = canonical_pose(skel) if pose is None else np.asarray(pose, np.float64)
  fig, ax = plt.subplots(figsize=(4, 6))
  for a, b in skel.limbs:
    if np.isfinite(pose[[a, b]]).all():
      ax.plot(pose[[a, b], 0], pose[[a, b], 1], color="0.6", lw=2, zorder=1)
  memberships: dict[int, list[int]] = {}
  for gi, g in enumerate(groups):
    for j in g:
      memberships.setdefault(j, []).append(gi)
  for j, gis in memberships.items():
    if not np.isfinite(pose[j]).all():
      continue
    for r, gi in enumerate(gis):
      ax.scatter(*pose[j], s=260 * (1 - 0.45 * r) ** 2, color=_COLORS[gi % len(_COLORS)],
                 edgecolors="k", linewidths=0.5, zorder=2 + r)
    ax.annotate(skel.joints[j], pose[j], xytext=(10, 0), textcoords="offset points",
                fontsize=7, va="center")
  for gi, g in enumerate(groups):
    ax.scatter([], [], color=_COLORS[gi % len(_COLORS)],
               label=", ".join(skel.joints[j] for j in g))
  ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), fontsize=6, frameon=False)
  ax.set_aspect("equal")
  ax.invert_yaxis()
  ax.axis("off")
  ax.set_title(title or f"{len(groups)} groups ({skel.name})")
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)


# ----------------------------------------------------------------------------------
# Command line.


def _skeleton_for(num_joints: int, name: Optional[str]) -> skeleton_lib.Skeleton:
  if name:
    return skeleton_lib.get(name)
  for skel in skeleton_lib.SKELETONS.values():
    if skel.num_joints == num_joints:
      return skel
  raise ValueError(f"no skeleton with {num_joints} joints; pass --skeleton")


def _groups_path(plot: str) -> str:
  root, ext = os.path.splitext(plot)
  return f"{root}_groups{ext or '.png'}"


def main(argv: Optional[Sequence[str]] = None) -> int:
  """``python -m jaxpose.grouping``: prints the groups and writes the plots and JSON."""
  p = argparse.ArgumentParser(prog="python -m jaxpose.grouping", description=__doc__.split("\n")[0])
  p.add_argument("--dataset", default="mpii", help="dataset name for read_split")
  p.add_argument("--split", default="train")
  p.add_argument("--data_root", default=None, help="folder of the raw files")
  p.add_argument("--k", type=int, default=5, help="number of groups")
  p.add_argument("--bins", type=int, default=16, help="lattice side (16 in §3.1)")
  p.add_argument("--normalize", choices=sorted(DEFAULT_EXTENT), default=None,
                 help="pose normalisation (default: box for lsp*, else crop)")
  p.add_argument("--extent", type=float, default=None, help="side of the normalised square")
  p.add_argument("--method", choices=("shi_malik", "njw"), default="shi_malik")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--restarts", type=int, default=10)
  p.add_argument("--miller_madow", action="store_true", help="bias-corrected MI (not the paper's)")
  p.add_argument("--skeleton", default=None, help="skeleton name (default: from joint count)")
  p.add_argument("--plot", default=None, help="MI matrix PNG; groups go to <stem>_groups.png")
  p.add_argument("--output", default=None, help="JSON file for joints, groups and MI")
  args = p.parse_args(argv)

  from jaxpose.data import sources  # lazily: readers are optional for the library part
  records = sources.read_split(args.dataset, args.split, root=args.data_root)
  mode = args.normalize or ("box" if args.dataset.startswith("lsp") else "crop")
  groups, mi = groups_from_records(records, args.k, bins=args.bins, mode=mode,
                                   extent=args.extent, seed=args.seed, restarts=args.restarts,
                                   method=args.method, miller_madow=args.miller_madow)
  skel = _skeleton_for(mi.shape[0], args.skeleton)
  print(f"{args.dataset}/{args.split}: {len(records)} poses, {mode} normalisation, "
        f"{args.bins}x{args.bins} lattice, {args.method} spectral clustering, k={args.k}")
  for i, names in enumerate(group_names(groups, skel)):
    print(f"  group {i + 1}: {', '.join(names)}")
  if args.plot:
    plot_mi(mi, skel.joints, args.plot)
    plot_groups(groups, skel, _groups_path(args.plot))
    print(f"wrote {args.plot} and {_groups_path(args.plot)}")
  if args.output:
    save_groups(args.output, groups, skel, mi, skeleton=skel.name, dataset=args.dataset,
                split=args.split, k=args.k, bins=args.bins, normalize=mode,
                extent=args.extent or DEFAULT_EXTENT[mode], method=args.method, seed=args.seed,
                num_poses=len(records), mi_units="nats", miller_madow=args.miller_madow)
    print(f"wrote {args.output}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
