"""Stacked hourglass network (Newell, Yang & Deng, "Stacked Hourglass Networks for Human Pose
Estimation", ECCV 2016), built layer for layer like the widely used PyTorch port
(bearpaw/pytorch-pose ``models/hourglass.py``) so that capacities agree to the parameter
(2 stacks, 16 joints, ``num_blocks=1``: 6,730,912 parameters).

Reusable pieces (the part-based branching network, Tang & Wu 2019 §3.2–3.3, swaps the stem and the
heads; the multi-scale network, Ke et al. 2018 §2.1, reads the features of every upsampling level):

- ``HourglassStem``: 7×7/2 conv + BN + ReLU, bottleneck → features/2, 2×2 max-pool, two bottlenecks
  → features (input H×W → H/4×W/4); ``entry="pbn"`` swaps the 7×7/2 conv for the three 3×3 convs
  and first pooling of Tang & Wu §3.2 (the PBN trunk), so both families share one stem.
- ``Hourglass(depth, features, num_blocks)``: one recursive hourglass module (Newell et al. §3.2).
- ``StackedHourglass``: stem + stacks with intermediate supervision and feature re-injection
  (Newell et al. §3.4).

The building blocks (``Bottleneck``, ``Residual``, ``Conv1x1``, pooling/upsampling) live in
``layers.py``; initialisation and BatchNorm conventions are documented there.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxpose.models.layers import (Bottleneck, Conv1x1, Residual, batch_norm, check_input, conv,
                                   max_pool_2x2, upsample_nearest_2x, uses_layer_forms)

Dtype = Any


STEM_ENTRIES = ("hourglass", "pbn")


class HourglassStem(nn.Module):
  """The stem shared by the hourglass families, H×W×3 → H/4×W/4×features.

  Two entries, then the bottlenecks both papers put after them (named ``res1``–``res3``):

  - ``entry="hourglass"`` (Newell et al. 2016 §3.4, as in the PyTorch port; StackedHourglass,
    MSN): 7×7 stride-2 conv (features/4 = 64 channels, padding 3) + BN + ReLU (``conv``,
    ``bn``), bottleneck → features/2 (128), 2×2 max-pool, bottleneck → features (256),
    bottleneck → features.
  - ``entry="pbn"`` (Tang & Wu 2019 §3.2, PBN): three stride-1 3×3 convs (features/4 = 64)
    each + BN + ReLU (``conv0``–``conv2``, ``bn0``–``bn2``) with a 2×2 max-pool after the first
    ("three 3×3 convolutional layers (64 channels) and one 2×2 pooling layer (after the first
    convolution), followed by a residual block (128 channels) and another round of pooling […].
    After two subsequent residual blocks (128 and 256 channels), we get a 256-channel feature
    map"), bottleneck → features/2, 2×2 max-pool, bottleneck → features/2, bottleneck →
    features. §3.2 does not say whether the 3×3 convs carry BatchNorm; as the 7×7 conv of the
    hourglass code they do.

  The bottlenecks are single blocks whatever ``num_blocks`` is (as in the port). Channel counts
  scale with ``features`` (the papers fix 64/128/256, i.e. ``features=256``). The layer names
  are those of the two stems before they were merged, so stored checkpoints keep loading.
  """
  features: int = 256
  entry: str = "hourglass"
  dtype: Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    if self.entry not in STEM_ENTRIES:
      raise ValueError(f"HourglassStem entry must be one of {STEM_ENTRIES}, got {self.entry!r}")
    if self.features % 4:
      raise ValueError(f"HourglassStem features must be divisible by 4, got {self.features}")
    kw = dict(dtype=self.dtype, bn_axis_name=self.bn_axis_name)
    x = x.astype(self.dtype)
    if self.entry == "hourglass":
      x = conv(self.features // 4, 7, x.shape[-1], stride=2, dtype=self.dtype, name="conv")(x)
      x = nn.relu(batch_norm(train, self.dtype, name="bn", axis_name=self.bn_axis_name)(x))
      mid = self.features
    else:
      for i in range(3):
        x = conv(self.features // 4, 3, x.shape[-1], dtype=self.dtype, name=f"conv{i}")(x)
        x = nn.relu(batch_norm(train, self.dtype, name=f"bn{i}", axis_name=self.bn_axis_name)(x))
        if i == 0:
          x = max_pool_2x2(x)
      mid = self.features // 2
    x = Bottleneck(self.features // 2, name="res1", **kw)(x, train)
    x = max_pool_2x2(x)
    x = Bottleneck(mid, name="res2", **kw)(x, train)
    return Bottleneck(self.features, name="res3", **kw)(x, train)


class Hourglass(nn.Module):
  """One hourglass module of depth ``depth`` (Newell et al. 2016, §3.2, Fig. 3), recursive.

  At each level: ``skip = Residual(x)`` at the input resolution; ``low = Residual(max_pool(x))``;
  then the hourglass of depth ``depth - 1`` on ``low`` (at the lowest level, one more Residual
  instead); ``low = Residual(low)``; output ``skip + upsample_nearest_2x(low)``. Every Residual is
  ``num_blocks`` bottlenecks with ``features`` output channels. Input channels must equal
  ``features``; H and W must be divisible by 2^depth.

  With ``return_levels=True`` returns ``(out, levels)``, where ``levels`` is the list of ``depth``
  merged (skip + upsampled) features of every level from the lowest resolution (H/2^(depth-1)) to
  the highest (H; ``levels[-1] is out``) — the deconvolution-level features that multi-scale
  supervision (Ke et al. 2018, §2.1: GT/8, GT/4, GT/2, GT for depth 4) attaches its heads to.
  Parameters do not depend on it.
  """
  depth: int = 4
  features: int = 256
  num_blocks: int = 1
  dtype: Dtype = jnp.float32
  bn_axis_name: str | None = None
  return_levels: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False):
    if self.depth < 1:
      raise ValueError(f"Hourglass depth must be >= 1, got {self.depth}")
    if x.shape[-1] != self.features:
      raise ValueError(f"Hourglass input has {x.shape[-1]} channels, expected features={self.features}")
    res = lambda name: Residual(self.features, self.num_blocks, dtype=self.dtype,
                                bn_axis_name=self.bn_axis_name, name=name)
    skip = res("skip")(x, train)
    low = res("down")(max_pool_2x2(x), train)
    if self.depth > 1:
      low, levels = Hourglass(self.depth - 1, self.features, self.num_blocks, dtype=self.dtype,
                              bn_axis_name=self.bn_axis_name, return_levels=True, name="inner")(low, train)
    else:
      low, levels = res("bottom")(low, train), []
    low = res("up")(low, train)
    out = skip + upsample_nearest_2x(low)
    if self.return_levels:
      return out, [*levels, out]
    return out


def stack_features(y: jax.Array, i: int, features: int, num_blocks: int, train: bool,
                   dtype: Dtype = jnp.float32, bn_axis_name: str | None = None) -> jax.Array:
  """Stack ``i``'s features after its hourglass (Newell et al. 2016 §3.4): a Residual of
  ``num_blocks`` bottlenecks, then 1×1 conv + BN + ReLU — the input of the stack's heat-map head.

  A function, not a module: called inside a ``@nn.compact`` method its layers belong to the
  caller, named ``res{i}``, ``fc{i}``, ``fc_bn{i}``, so the families that share this tail (MSN,
  PBN's "shared features" of Tang & Wu §3.2) keep ``StackedHourglass``'s parameter names.
  """
  y = Residual(features, num_blocks, dtype=dtype, bn_axis_name=bn_axis_name, name=f"res{i}")(
      y, train)
  y = Conv1x1(features, dtype=dtype, name=f"fc{i}")(y)
  return nn.relu(batch_norm(train, dtype, name=f"fc_bn{i}", axis_name=bn_axis_name)(y))


class StackedHourglass(nn.Module):
  """Stacked hourglass network (Newell et al. 2016, §3.4) as in the PyTorch port.

  ``HourglassStem``, then per stack: ``Hourglass(depth)``, a Residual of ``num_blocks`` bottlenecks,
  1×1 conv + BN + ReLU, 1×1 conv to ``num_joints`` heatmaps. Between stacks, 1×1 convs remap the
  features and the heatmaps back to ``features`` channels and both are added to the stack's input.

  ``__call__(x (B,H,W,3) float32, train)`` → ``{"heatmaps": tuple of num_stacks (B,H/4,W/4,K)
  float32 arrays, last = final}``; H and W must be divisible by 4·2^depth. ``train=True`` uses batch
  statistics and needs ``mutable=["batch_stats"]``; ``bn_axis_name`` (set by the trainer under
  ``pmap``) synchronises those statistics across devices.
  """
  num_joints: int = 16
  num_stacks: int = 2
  num_blocks: int = 1
  features: int = 256
  depth: int = 4
  dtype: Dtype = jnp.float32
  bn_axis_name: str | None = None
  layer_forms: str = "auto"  # cpu | xla forms of the shared layers (layers.py, "Layer forms")

  @nn.compact
  @uses_layer_forms
  def __call__(self, x: jax.Array, train: bool = False) -> dict:
    check_input(x, self.depth, "StackedHourglass")
    x = HourglassStem(self.features, dtype=self.dtype, bn_axis_name=self.bn_axis_name,
                      name="stem")(x, train)
    heatmaps = []
    for i in range(self.num_stacks):
      y = Hourglass(self.depth, self.features, self.num_blocks, dtype=self.dtype,
                    bn_axis_name=self.bn_axis_name, name=f"hourglass{i}")(x, train)
      y = stack_features(y, i, self.features, self.num_blocks, train, self.dtype,
                         self.bn_axis_name)
      score = Conv1x1(self.num_joints, dtype=self.dtype, name=f"score{i}")(y)
      heatmaps.append(score.astype(jnp.float32))
      if i < self.num_stacks - 1:
        x = (x + Conv1x1(self.features, dtype=self.dtype, name=f"fc_remap{i}")(y)
             + Conv1x1(self.features, dtype=self.dtype, name=f"score_remap{i}")(score))
    return {"heatmaps": tuple(heatmaps)}
