"""FLIC accuracy curves (Li et al. 2014 eq. (7), the MODEC criterion) and their plot.

    acc_{J_i}(r) = 100 / N · Σ_t 1( 100 · ‖J_i⁽ᵗ⁾ − Ĵ_i⁽ᵗ⁾‖₂ / ‖J_lhip⁽ᵗ⁾ − J_rsho⁽ᵗ⁾‖₂ ≤ r )

The distance is expressed in a frame where the torso (right shoulder – left hip, the
torso diagonal of eq. (7); the subscript printed "thip" in the text is the left hip)
measures 100 pixels, and r runs over 0 … 20 such pixels. Samples whose joint or
torso end points are unannotated are left out of N.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

from jaxpose import skeleton as skel
from jaxpose.evaluation.pck import pck_curve, pck_per_joint, torso_norm

DEFAULT_RADII = np.arange(0, 21, dtype=np.float64)


def flic_torso(skeleton: skel.Skeleton) -> tuple[int, int]:
  """The torso pair of eq. (7): (right shoulder, left hip), else ``skeleton.torso``."""
  if "r_shoulder" in skeleton.joints and "l_hip" in skeleton.joints:
    return skeleton.index("r_shoulder"), skeleton.index("l_hip")
  if skeleton.torso is not None:
    return skeleton.torso
  raise ValueError(f"skeleton {skeleton.name!r} has no torso (shoulder and hip) for eq. (7)")


def flic_curves(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray, skeleton: skel.Skeleton,
                radii: Sequence[float] = DEFAULT_RADII,
                torso: Optional[tuple[int, int]] = None,
                torso_length: Optional[np.ndarray] = None) -> dict:
  """Eq. (7) accuracy curves.

  Args:
    pred, gt: (N, K, 2) pixels; valid: (N, K).
    radii: the r values (torso-normalised pixels, torso = 100).
    torso: joint pair of the normaliser (default ``flic_torso(skeleton)``).
    torso_length: (N,) torso lengths in pixels instead of a joint pair: for skeletons without
      the hips (the upper-body view of FLIC, whose records carry FLIC's torso as ``norm``).

  Returns:
    {"r": (R,), "joints": {joint: (R,) percent}, "groups": {column: (R,) percent}} where
    a column (e.g. "Elbow") is the mean of its left and right joints' curves.
  """
  radii = np.asarray(radii, np.float64)
  if torso_length is not None:
    norm = np.asarray(torso_length, np.float64).reshape(-1) / 100.0
  else:
    norm = torso_norm(gt, valid, flic_torso(skeleton) if torso is None else torso) / 100.0
  correct, counted = pck_curve(pred, gt, valid, norm, radii)
  per_joint = np.stack([pck_per_joint(c, counted) for c in correct])  # (R, K)
  joints = {name: per_joint[:, k] for k, name in enumerate(skeleton.joints)}
  groups = {}
  for column, idx in skeleton.groups:
    groups[column] = _nanmean_rows(per_joint[:, list(idx)])
  return {"r": radii, "joints": joints, "groups": groups}


def _nanmean_rows(x: np.ndarray) -> np.ndarray:
  n = np.sum(~np.isnan(x), axis=1)
  s = np.nansum(x, axis=1)
  with np.errstate(divide="ignore", invalid="ignore"):
    return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def plot_curves(curves: dict, path: str, names: Sequence[str] = ("Elbow", "Wrist"),
                title: str = "FLIC accuracy (Li et al. eq. 7)") -> str:
  """Writes the curves of ``names`` (group columns, else joints) to a PNG at ``path``."""
  # The Agg canvas directly, not pyplot: no global backend switch, no display needed.
  from matplotlib.figure import Figure
  from matplotlib.backends.backend_agg import FigureCanvasAgg

  fig = Figure(figsize=(5, 4), dpi=100)
  FigureCanvasAgg(fig)
  ax = fig.add_subplot(1, 1, 1)
  for name in names:
    if name in curves["groups"]:
      y = curves["groups"][name]
    elif name in curves["joints"]:
      y = curves["joints"][name]
    else:
      raise KeyError(f"no curve {name!r}; have {sorted(curves['groups'])} and "
                     f"{sorted(curves['joints'])}")
    ax.plot(curves["r"], y, marker="o", markersize=3, label=name)
  ax.set_xlabel("normalised distance r (torso = 100 px)")
  ax.set_ylabel("accuracy (%)")
  ax.set_xlim(float(np.min(curves["r"])), float(np.max(curves["r"])))
  ax.set_ylim(0, 100)
  ax.grid(True, alpha=0.3)
  ax.legend(loc="lower right")
  ax.set_title(title)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, format="png")
  return path
