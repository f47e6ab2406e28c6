"""Joint sets of the supported datasets, their flip pairs, limbs and conversions.

Every array of joints in jaxpose is ordered as one of the skeletons below; the order
is that of the dataset's own annotation files (see ``../shared/data/README.md``), so
readers never reorder and writers of official-format predictions never reorder back.

* ``MPII``  — the 16 MPII joints, MPII joint-id order (the canonical set).
* ``LSP``   — the 14 LSP / LSP-extended joints.
* ``UPPER_BODY`` — the 8 upper-body joints and 7 parts of Li et al. 2014 §4.1
  (nose, neck, shoulders, elbows, wrists; head, shoulders, upper and lower arms),
  used for Buffy and FLIC by the heterogeneous multi-task (HMLPE) family.
* ``FLIC``  — the 11 FLIC joints of the stacked-hourglass FLIC annotations.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Skeleton:
  """A named joint set.

  Attributes:
    name: registry name.
    joints: joint names in annotation order.
    flip_pairs: (left, right) index pairs swapped by a horizontal flip.
    limbs: index pairs drawn as sticks in overlays.
    parts: named sticks (index pairs) scored by PCP (Li et al. 2014 eq. 6) and,
      for the HMLPE family, detected by the sliding-window part classifiers (§3.2).
    groups: the paper table columns, name -> joint indices (e.g. MPII's Head,
      Shoulder, ... layout used by PCKh tables).
    head: (top, neck) joint indices whose distance stands in for head size where
      a dataset has no head box.
    torso: (left shoulder, right hip) indices; PCK's person-centric torso size.
  """
  name: str
  joints: tuple[str, ...]
  flip_pairs: tuple[tuple[int, int], ...]
  limbs: tuple[tuple[int, int], ...]
  parts: tuple[tuple[str, int, int], ...] = ()
  groups: tuple[tuple[str, tuple[int, ...]], ...] = ()
  head: tuple[int, int] | None = None
  torso: tuple[int, int] | None = None

  @property
  def num_joints(self) -> int:
    return len(self.joints)

  def index(self, name: str) -> int:
    try:
      return self.joints.index(name)
    except ValueError:
      raise KeyError(f"skeleton {self.name!r} has no joint {name!r}; it has {self.joints}") from None

  @property
  def flip_permutation(self) -> np.ndarray:
    """perm such that ``joints_flipped = joints[perm]`` swaps left and right."""
    perm = np.arange(self.num_joints)
    for a, b in self.flip_pairs:
      perm[a], perm[b] = b, a
    return perm


def _ix(names: Sequence[str], *wanted: str) -> tuple[int, ...]:
  return tuple(names.index(w) for w in wanted)


_MPII_JOINTS = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder",
    "l_elbow", "l_wrist")

MPII = Skeleton(
    name="mpii",
    joints=_MPII_JOINTS,
    flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
    limbs=((0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9),
           (10, 11), (11, 12), (12, 7), (7, 13), (13, 14), (14, 15)),
    parts=(("r_lower_leg", 0, 1), ("r_upper_leg", 1, 2), ("l_upper_leg", 3, 4),
           ("l_lower_leg", 4, 5), ("r_lower_arm", 10, 11), ("r_upper_arm", 11, 12),
           ("l_upper_arm", 13, 14), ("l_lower_arm", 14, 15), ("torso", 7, 6),
           ("head", 8, 9)),
    # The official MPII evaluation table (Total excludes pelvis and thorax).
    groups=(("Head", (8, 9)), ("Shoulder", (12, 13)), ("Elbow", (11, 14)),
            ("Wrist", (10, 15)), ("Hip", (2, 3)), ("Knee", (1, 4)), ("Ankle", (0, 5))),
    head=(9, 8),
    torso=(13, 2),
)

_LSP_JOINTS = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow",
    "r_shoulder", "l_shoulder", "l_elbow", "l_wrist", "neck", "head_top")

LSP = Skeleton(
    name="lsp",
    joints=_LSP_JOINTS,
    flip_pairs=((0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9)),
    limbs=((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 12), (12, 9),
           (9, 10), (10, 11), (12, 13), (8, 2), (9, 3)),
    parts=(("r_lower_leg", 0, 1), ("r_upper_leg", 1, 2), ("l_upper_leg", 3, 4),
           ("l_lower_leg", 4, 5), ("r_lower_arm", 6, 7), ("r_upper_arm", 7, 8),
           ("l_upper_arm", 9, 10), ("l_lower_arm", 10, 11), ("head", 12, 13)),
    groups=(("Head", (12, 13)), ("Shoulder", (8, 9)), ("Elbow", (7, 10)),
            ("Wrist", (6, 11)), ("Hip", (2, 3)), ("Knee", (1, 4)), ("Ankle", (0, 5))),
    head=(13, 12),
    torso=(9, 2),
)

_UB_JOINTS = ("nose", "neck", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
              "l_wrist", "r_wrist")

UPPER_BODY = Skeleton(
    name="upper_body",
    joints=_UB_JOINTS,
    flip_pairs=((2, 3), (4, 5), (6, 7)),
    limbs=((0, 1), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7)),
    # Li et al. 2014 §4.1: head, left/right shoulder, left/right upper and lower arms.
    parts=(("head", 0, 1), ("l_shoulder", 1, 2), ("r_shoulder", 1, 3),
           ("l_upper_arm", 2, 4), ("r_upper_arm", 3, 5), ("l_lower_arm", 4, 6),
           ("r_lower_arm", 5, 7)),
    groups=(("Head", (0, 1)), ("Shoulder", (2, 3)), ("Elbow", (4, 5)), ("Wrist", (6, 7))),
    head=(0, 1),
)

# The 11 joints of the stacked-hourglass FLIC annotations (hg_annot/*.h5).
_FLIC_JOINTS = ("l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
                "l_hip", "r_hip", "l_eye", "r_eye", "nose")

FLIC = Skeleton(
    name="flic",
    joints=_FLIC_JOINTS,
    flip_pairs=((0, 3), (1, 4), (2, 5), (6, 7), (8, 9)),
    limbs=((0, 1), (1, 2), (3, 4), (4, 5), (0, 3), (0, 6), (3, 7), (6, 7), (8, 10),
           (9, 10)),
    parts=(("l_upper_arm", 0, 1), ("l_lower_arm", 1, 2), ("r_upper_arm", 3, 4),
           ("r_lower_arm", 4, 5)),
    groups=(("Shoulder", (0, 3)), ("Elbow", (1, 4)), ("Wrist", (2, 5)), ("Hip", (6, 7))),
    torso=(0, 7),
)

SKELETONS = {s.name: s for s in (MPII, LSP, UPPER_BODY, FLIC)}

# Joints that are the same anatomical point under another name.
_ALIASES = {"neck": ("upper_neck",), "upper_neck": ("neck",)}


def get(name: str) -> Skeleton:
  try:
    return SKELETONS[name]
  except KeyError:
    raise KeyError(f"unknown skeleton {name!r}; known: {sorted(SKELETONS)}") from None


def mapping(src: Skeleton, dst: Skeleton) -> np.ndarray:
  """For each joint of ``dst``, its index in ``src`` or -1 when ``src`` lacks it."""
  out = np.full(dst.num_joints, -1, dtype=np.int32)
  for j, name in enumerate(dst.joints):
    for candidate in (name, *_ALIASES.get(name, ())):
      if candidate in src.joints:
        out[j] = src.joints.index(candidate)
        break
  return out


def convert(joints: np.ndarray, src: Skeleton, dst: Skeleton) -> np.ndarray:
  """Re-orders ``(..., K_src, C)`` joints into ``dst``'s order.

  Joints that ``src`` lacks come out as zeros in every channel, i.e. with
  ``valid`` (and ``visible``) = 0 when the last channel carries a flag.
  """
  joints = np.asarray(joints)
  if joints.shape[-2] != src.num_joints:
    raise ValueError(f"convert: expected {src.num_joints} {src.name} joints, got shape {joints.shape}")
  idx = mapping(src, dst)
  out = np.zeros(joints.shape[:-2] + (dst.num_joints, joints.shape[-1]), joints.dtype)
  have = idx >= 0
  out[..., have, :] = joints[..., idx[have], :]
  return out
