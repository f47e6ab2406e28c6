"""Plots of Fig. 2: the normalised MI matrix (a) and the groups on a skeleton (b), as PNG."""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

from jaxpose import skeleton as skeleton_lib
from jaxpose.grouping.groups import Groups
from jaxpose.grouping.mi import affinity

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
