"""Groups as data: canonical form, the handcrafted §3.1 groups, overlap (§4.3), JSON files.

Groups are tuples of joint indices in the skeleton's order; every group is sorted and
the groups are sorted by their smallest index (``canonical``). The JSON file written by
``save_groups`` (and by ``python -m jaxpose.grouping --output=...``) is
``{"joints": [names], "groups": [[names], ...], "mi": [[...]] or null, ...metadata}``;
groups are stored by joint *name*, so ``load_groups`` can check them against a skeleton.
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterable, NamedTuple, Optional, Sequence

import numpy as np

from jaxpose import skeleton as skeleton_lib

Groups = tuple[tuple[int, ...], ...]

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


