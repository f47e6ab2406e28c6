"""Mutual information between joint locations (Tang & Wu 2019 §3.1, eq. 1, Fig. 2a).

Each joint location ``l_m`` is a random variable on a normalised 16×16 lattice; the
pairwise histograms ``p(l_m, l_n)`` are estimated from annotations. Choices the paper
leaves open, fixed here:

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
"""
from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence

import numpy as np

# The default side of the normalised square, per normalisation mode (see module doc).
DEFAULT_EXTENT = {"crop": 1.25, "box": 1.0}


def default_normalization(dataset: str) -> str:
  """"box" for the LSP family (no annotated person centre and scale), else "crop"."""
  return "box" if dataset.startswith("lsp") else "crop"


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
# Annotations as arrays.


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
