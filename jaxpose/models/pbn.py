"""Part-based branching network (Tang & Wu, "Does Learning Specific Features for Related Parts Help
Human Pose Estimation?", CVPR 2019), stacked as in §3.3, with the baselines of §4.3.

Architecture (``PBN``):

- **Trunk stem** (§3.2): 3×3 conv (64) + BN + ReLU, 2×2 max-pool, two 3×3 convs (64) + BN + ReLU,
  bottleneck → 128, 2×2 max-pool, bottleneck → 128, bottleneck → 256: 256×256×3 → 64×64×256
  (``HourglassStem(entry="pbn")``, the stem of ``hourglass.py`` with this entry). The paper does
  not say whether the 3×3 convolutions carry BatchNorm; as in the standard hourglass code (conv +
  BN + ReLU for its 7×7 stem) they do (3 × 128 parameters, 0.001% of the model, which the
  parameter count cannot decide).
- **Trunk per stack** (§3.2, "shared features", the yellow rectangles of Fig. 3): the hourglass of
  Newell et al. (``Hourglass(depth=4)``, 4×4 at the lowest resolution for a 64×64 input), "a
  subsequent residual block at the output resolution", and the 1×1 conv (256) + BN + ReLU of the
  hourglass code.
- **Branches** (§3.2, green rectangles of Fig. 3): per part group a 1×1 conv 256 → W, D bottleneck
  residual blocks of width W, a 1×1 conv to that group's heat maps. The group maps are scattered
  back to the skeleton's joint order; a joint in several groups (overlapping groups, §4.3) gets the
  average of its maps (``scatter_groups``).
- **Stacking** (§3.3, Fig. 4): the next stack's input is the sum of the current stack's input
  (identity), the heat maps remapped by a 1×1 conv, and the features propagated along the orange
  (``fusion="shared"``, the paper's choice: the shared features through a 1×1 conv) or green
  (``fusion="specific"``: the branch features, concatenated, through a 1×1 conv) dashed line of
  Fig. 4, or both (``fusion="both"``). Every stack's heat maps are returned (MSE on all of them,
  §3.3); the last is the prediction (§4.1).
- **Baselines** (§4.3, "Do specific feature layers help?"): ``head="linear"`` removes the branches
  and regresses all joints with one linear 1×1 layer (this is exactly the stacked hourglass head, on
  the PBN stem); ``head="deep"`` (Deep BS) replaces the branches with one 256-channel residual block
  followed by a linear 1×1 layer.

Capacity (Table 6: 8 stacks, W = 64, D = 1, the five MPII groups of Fig. 2b, 16 joints: PBN 26.69M,
Deep BS 27.22M). Where §3.2–3.3 leave the per-stack layout open, the readings and their counts are
(PBN / Deep BS, relative to the paper):

  per stack, after the hourglass (stem as above)        PBN                 Deep BS
  branches; orange path via 1×1                         24,435,072 −8.45%   24,970,112 −8.27%
  1×1+BN+ReLU → branches; orange via 1×1                24,965,504 −6.46%   25,500,544 −6.32%
  residual → branches; orange via 1×1                   26,151,296 −2.02%   26,686,336 −1.96%
  residual → 1×1+BN+ReLU → branches; orange identity    26,221,184 −1.76%   26,756,224 −1.70%
  residual → 1×1+BN+ReLU → branches; orange via 1×1 ◀   26,681,728 −0.03%   27,216,768 −0.01%

Only the last reading — the per-stack layout of Newell et al.'s code with its heat-map regressor
replaced by the branches, and the orange path through a 1×1 conv as in Fig. 4 — is within 0.5% of
both numbers, so it is the one built here. The plain baseline (``head="linear"``) has 25,500,544
parameters with the same settings. The two undecidable details (BN after the stem's 3×3 convs, ±384
parameters; BN + ReLU between a branch's residual blocks and its regressor, ±5,120) are resolved by
the standard hourglass code and by the text of §3.2 ("another 1×1 convolution is used to regress"),
respectively: the branch regressor reads the residual output directly, as Deep BS's linear layer
reads its residual block.

Fusion of specific features (``fusion="specific"``/``"both"``): the green path is drawn but not
specified in Fig. 4; here the branch features (G groups × W channels, after their residual blocks)
are concatenated and remapped by one 1×1 conv to ``features`` channels (for Deep BS, its 256-channel
residual block output). The linear baseline has no specific features, so it only supports
``fusion="shared"``.
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxpose.models.hourglass import Hourglass, HourglassStem, stack_features
from jaxpose.models.layers import Bottleneck, Conv1x1, Residual, check_input, uses_layer_forms

Dtype = Any
Groups = tuple[tuple[int, ...], ...]

# MPII joint ids: 0 r_ankle, 1 r_knee, 2 r_hip, 3 l_hip, 4 l_knee, 5 l_ankle, 6 pelvis, 7 thorax,
# 8 upper_neck, 9 head_top, 10 r_wrist, 11 r_elbow, 12 r_shoulder, 13 l_shoulder, 14 l_elbow,
# 15 l_wrist.

# The five groups found by spectral clustering of the mutual information (§3.1, Fig. 2b): the
# default of ``PBN.groups`` (the "Stat" strategy of §4.3).
MPII_STAT_GROUPS: Groups = (
    (9, 8, 7, 12, 13),  # head top, upper neck, thorax, shoulders
    (2, 3, 6),          # hips, pelvis
    (11, 10),           # right elbow, right wrist
    (14, 15),           # left elbow, left wrist
    (1, 4, 0, 5),       # knees, ankles
)

# The six handcrafted groups from the body structure (§3.1, the "Body" strategy of §4.3, Fig. 5d).
MPII_BODY_GROUPS: Groups = (
    (9, 8, 7),     # head top, upper neck, thorax
    (15, 14, 13),  # left wrist, elbow, shoulder
    (10, 11, 12),  # right wrist, elbow, shoulder
    (4, 5),        # left knee, ankle
    (1, 0),        # right knee, ankle
    (3, 2, 6),     # left hip, right hip, pelvis
)

# Overlapping groups of §4.3 (Fig. 5f): each shoulder also joins its arm's group.
MPII_OVERLAP_GROUPS: Groups = (
    (9, 8, 7, 12, 13),
    (2, 3, 6),
    (11, 10, 12),
    (14, 15, 13),
    (1, 4, 0, 5),
)

HEADS = ("branches", "linear", "deep")
FUSIONS = ("shared", "specific", "both")


def validate_groups(groups: Sequence[Sequence[int]], num_joints: int) -> Groups:
  """Checks a part grouping (§3.1) and returns it as a tuple of tuples of ints.

  Every group must be non-empty and free of repeats, every index in ``[0, num_joints)``, and every
  joint in at least one group (joints may be in several: overlapping groups, §4.3). Raises
  ``ValueError`` naming the offending group or joints.
  """
  if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence) or not groups:
    raise ValueError(f"groups must be a non-empty sequence of joint-index sequences, "
                     f"got {groups!r}")
  out = []
  for g, group in enumerate(groups):
    if isinstance(group, (str, bytes)) or not isinstance(group, Sequence) or not group:
      raise ValueError(f"group {g} must be a non-empty sequence of joint indices, got {group!r}")
    try:
      if any(isinstance(j, bool) for j in group):
        raise TypeError
      idx = tuple(operator.index(j) for j in group)
    except TypeError:
      raise ValueError(f"group {g} holds a non-integer joint index: {group!r}") from None
    bad = [j for j in idx if not 0 <= j < num_joints]
    if bad:
      raise ValueError(f"group {g} {idx} has joint indices {bad} outside [0, {num_joints}) "
                       f"(num_joints={num_joints}; the default groups are the 16 MPII joints of "
                       f"Fig. 2b: pass groups for other skeletons)")
    if len(set(idx)) != len(idx):
      raise ValueError(f"group {g} {idx} repeats a joint")
    out.append(idx)
  covered = {j for group in out for j in group}
  missing = [j for j in range(num_joints) if j not in covered]
  if missing:
    raise ValueError(f"joints {missing} are in no group (every one of the {num_joints} joints "
                     f"needs a branch to predict it); groups={tuple(out)}")
  return tuple(out)


def check_grouping(name: str, grouping: Any, cfg: dict, fields: Sequence[str]) -> None:
  """``models.create``'s check of ``model.grouping`` (for a model called ``name``, whose other
  config keys are ``cfg`` and constructor fields ``fields``). The key says how the trainer
  computes ``model.groups`` at start-up (``jaxpose/grouping/resolve.py``, §3.1); it is not a
  constructor field, and a model is built only from resolved groups: ``ValueError`` for a
  grouping on a model without a ``groups`` field, or one not yet resolved (``groups`` empty)."""
  if grouping is None:
    return
  if "groups" not in fields:
    raise ValueError(f"model.grouping is set, but model {name!r} has no groups field")
  if not cfg.get("groups"):
    strategy = grouping.get("strategy") if hasattr(grouping, "get") else grouping
    raise ValueError(
        f"model.grouping.strategy={strategy!r} is not resolved: model.groups is empty. The "
        f"trainer resolves it at start-up (jaxpose.grouping.resolve_config(config)); call that "
        f"before models.create, or set model.groups to explicit joint-index groups")


def scatter_groups(group_maps: Sequence[jax.Array], groups: Sequence[Sequence[int]],
                   num_joints: int) -> jax.Array:
  """Per-group (…, |g|) maps, each in its group's joint order → (…, num_joints) in joint order.

  A joint predicted by several groups gets the average of its maps (overlapping groups, Tang & Wu
  2019 §4.3: "we use their average as the final prediction"). It inverts the split of (…, K) maps
  by group, ``[h[..., g] for g in groups]``: the result is ``h`` again for every valid grouping
  (exactly for disjoint groups).
  """
  groups = validate_groups(groups, num_joints)
  if len(group_maps) != len(groups):
    raise ValueError(f"{len(group_maps)} group maps for {len(groups)} groups")
  for g, (m, idx) in enumerate(zip(group_maps, groups)):
    if m.shape[-1] != len(idx):
      raise ValueError(f"group {g} {idx} needs {len(idx)} maps, got shape {tuple(m.shape)}")
  flat = jnp.concatenate(list(group_maps), axis=-1)
  index = np.concatenate([np.asarray(g, dtype=np.int32) for g in groups])
  counts = np.bincount(index, minlength=num_joints)
  if counts.max() == 1:  # disjoint groups: a permutation, exact
    return flat[..., np.argsort(index, kind="stable")]
  out = jnp.zeros((*flat.shape[:-1], num_joints), flat.dtype).at[..., index].add(flat)
  return out / jnp.asarray(counts, flat.dtype)


class PartBranches(nn.Module):
  """The branches of a PBN (Tang & Wu 2019 §3.2, Fig. 3): specific features per part group.

  For group g: 1×1 conv features → ``width`` (W), ``depth`` (D) bottleneck residual blocks of width
  W, 1×1 conv → |g| heat maps. Returns ``(heatmaps (…, num_joints) in joint order — averaged where
  groups overlap, specific features (…, G·W) concatenated in group order)``.
  """
  groups: Groups
  num_joints: int
  width: int = 64
  depth: int = 1
  dtype: Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> tuple[jax.Array, jax.Array]:
    groups = validate_groups(self.groups, self.num_joints)
    maps, feats = [], []
    for g, idx in enumerate(groups):
      y = Conv1x1(self.width, dtype=self.dtype, name=f"reduce{g}")(x)
      y = Residual(self.width, self.depth, dtype=self.dtype, bn_axis_name=self.bn_axis_name,
                   name=f"res{g}")(y, train)
      feats.append(y)
      maps.append(Conv1x1(len(idx), dtype=self.dtype, name=f"score{g}")(y))
    return scatter_groups(maps, groups, self.num_joints), jnp.concatenate(feats, axis=-1)


class PBN(nn.Module):
  """Stacked part-based branching network (Tang & Wu 2019 §3.2–3.3, Figs. 3–4) and its §4.3
  baselines; see the module docstring for the layout and the parameter-count reasoning.

  Fields: ``num_joints`` K; ``num_stacks``; ``features`` (256, the shared width); ``branch_width``
  W and ``branch_depth`` D (§3.2; the paper's benchmark model: W = 64, D = 1); ``groups`` (joint
  indices per part group, default the five MPII groups of Fig. 2b, ``MPII_STAT_GROUPS``;
  configs compute them from ``model.grouping`` at training start-up, ``jaxpose/grouping/resolve.py``);
  ``depth`` (hourglass depth, 4); ``num_blocks`` (bottlenecks per hourglass Residual and in the
  post-hourglass Residual); ``head`` (``"branches"`` = PBN, ``"linear"`` = plain baseline,
  ``"deep"`` = Deep BS, §4.3); ``fusion`` (``"shared"`` = orange path of Fig. 4, the paper's
  choice, ``"specific"`` = green path, ``"both"``); ``dtype`` (computation dtype; parameters and
  returned heat maps are float32); ``bn_axis_name`` (synchronised BatchNorm under ``pmap``).

  ``__call__(x (B,H,W,3), train)`` → ``{"heatmaps": tuple of num_stacks (B,H/4,W/4,K) float32}``,
  last = final; H and W must be divisible by 4·2^depth.
  """
  num_joints: int = 16
  num_stacks: int = 8
  features: int = 256
  branch_width: int = 64
  branch_depth: int = 1
  groups: Groups = MPII_STAT_GROUPS
  depth: int = 4
  num_blocks: int = 1
  head: str = "branches"
  fusion: str = "shared"
  dtype: Dtype = jnp.float32
  bn_axis_name: str | None = None
  layer_forms: str = "auto"  # cpu | xla forms of the shared layers (layers.py, "Layer forms")

  def _check(self) -> Groups:
    if self.head not in HEADS:
      raise ValueError(f"PBN head must be one of {HEADS}, got {self.head!r}")
    if self.fusion not in FUSIONS:
      raise ValueError(f"PBN fusion must be one of {FUSIONS}, got {self.fusion!r}")
    if self.head == "linear" and self.fusion != "shared":
      raise ValueError(f"PBN head='linear' has no specific features to propagate: fusion must be "
                       f"'shared', got {self.fusion!r}")
    if self.num_stacks < 1:
      raise ValueError(f"PBN num_stacks must be >= 1, got {self.num_stacks}")
    if self.head == "branches":
      if self.branch_width < 2 or self.branch_width % 2:
        raise ValueError(f"PBN branch_width must be even and >= 2 (bottleneck width W/2), got "
                         f"{self.branch_width}")
      if self.branch_depth < 0:
        raise ValueError(f"PBN branch_depth must be >= 0, got {self.branch_depth}")
      return validate_groups(self.groups, self.num_joints)
    return ()

  @nn.compact
  @uses_layer_forms
  def __call__(self, x: jax.Array, train: bool = False) -> dict:
    groups = self._check()
    check_input(x, self.depth, "PBN")
    kw = dict(dtype=self.dtype, bn_axis_name=self.bn_axis_name)
    x = HourglassStem(self.features, entry="pbn", name="stem", **kw)(x, train)
    heatmaps = []
    for i in range(self.num_stacks):
      # Shared features (§3.2): hourglass, residual block at the output resolution, 1×1 + BN + ReLU.
      y = Hourglass(self.depth, self.features, self.num_blocks, name=f"hourglass{i}",
                    **kw)(x, train)
      shared = stack_features(y, i, self.features, self.num_blocks, train, **kw)
      specific = None
      if self.head == "branches":
        score, specific = PartBranches(groups, self.num_joints, self.branch_width,
                                       self.branch_depth, name=f"branches{i}", **kw)(shared, train)
      elif self.head == "deep":
        specific = Bottleneck(self.features, name=f"deep{i}", **kw)(shared, train)
        score = Conv1x1(self.num_joints, dtype=self.dtype, name=f"score{i}")(specific)
      else:
        score = Conv1x1(self.num_joints, dtype=self.dtype, name=f"score{i}")(shared)
      heatmaps.append(score.astype(jnp.float32))
      if i < self.num_stacks - 1:
        # Fig. 4: identity + remapped heat maps + the orange (shared) and/or green (specific) path.
        nxt = x + Conv1x1(self.features, dtype=self.dtype, name=f"score_remap{i}")(score)
        if self.fusion in ("shared", "both"):
          nxt = nxt + Conv1x1(self.features, dtype=self.dtype, name=f"fc_remap{i}")(shared)
        if self.fusion in ("specific", "both"):
          nxt = nxt + Conv1x1(self.features, dtype=self.dtype, name=f"specific_remap{i}")(specific)
        x = nxt
    return {"heatmaps": tuple(heatmaps)}


__all__: Sequence[str] = [
    "FUSIONS", "HEADS", "MPII_BODY_GROUPS", "MPII_OVERLAP_GROUPS", "MPII_STAT_GROUPS", "PBN",
    "PartBranches", "check_grouping", "scatter_groups", "validate_groups",
]
