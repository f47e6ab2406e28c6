"""Multi-scale supervised network (Ke, Chang, Qi & Lyu, "Multi-scale supervised network for human
pose estimation", ICIP 2018).

Four components (§2, Fig. 2):

1. Stacked conv-deconv (hourglass) modules: ``HourglassStem`` and ``Hourglass`` of ``hourglass.py``
   (Newell et al. 2016), one per stack.
2. Multi-scale supervision (§2.1, eq. 1): at every supervised deconvolution (upsampling) level of
   every module a 1×1 convolution (the purple trapezoids of Fig. 2) turns the merged level features
   (``Hourglass(return_levels=True)``) into one heat map per joint, compared by MSE with the ground
   truth rendered at that scale (GT/2, GT/4, GT/8).
3. Intermediate supervision at GT (§2.1; the yellow layers of Fig. 2): the stack's usual score head
   (Residual, 1×1 conv + BN + ReLU, 1×1 conv to ``num_joints``) followed by the feature/heat-map
   re-injection into the next stack, exactly as ``StackedHourglass``. **This score head is the
   GT-level head of the module** — there is no separate 1×1 head at GT — so each stack predicts
   exactly one map per supervised scale and the set of supervised scales is ``supervised_scales``.
4. Global keypoint regression (§2.2, the red layers of Fig. 2): a fully convolutional network after
   the last module. Its input is the last module's heat maps at all of its supervised scales,
   resized to the output (GT) resolution and concatenated along channels; its output — refined heat
   maps of all joints — is supervised at GT and is the final prediction.

Outputs (the model output protocol of ``docs/DESIGN.md``) and which loss term supervises what:

- ``heatmaps``: tuple of (B, H/4, W/4, K) float32, one per stack (the GT score head), then the
  regression output when ``regression`` is on (last = final prediction). Supervised at GT by the
  ``heatmaps`` term of ``jaxpose.losses`` (``heatmap_mse``: Σ over every entry).
- ``pyramid``: tuple over stacks of tuples ordered like the batch key ``heatmap_pyramid`` (GT, GT/2,
  GT/4, GT/8), restricted to the supervised scales. Entry 0 of stack s *is* ``heatmaps[s]`` (the same
  array); the ``pyramid`` term (``pyramid_mse``) supervises only the coarser entries, matched to the
  target level of the same resolution, so that no GT map is counted twice. The total
  ``heatmap_mse + pyramid_mse`` is L = Σ_i L_i of §2.1 over every (stack, scale) once, plus the
  regression output at GT.

Loss normalisation: eq. 1 sums each scale's squared error over its pixels and averages over the
joints (the text calls it a mean square error). ``jaxpose.losses`` keeps that ratio between scales —
level i weighs (h_i·w_i)/(h·w) = 4^-i against GT on a per-pixel mean, i.e. eq. 1 divided by the
constant GT pixel count — so, with σ in each level's own pixels (about the same target energy at
every level), every scale pulls about equally. ``loss.pyramid_weighting="uniform"`` weighs every
level's per-pixel mean by 1 instead (GT/8 then counts 64× per pixel), the choice of this library
before 2026-12; the README's reduced ablation compares the two.

Pyramid targets: ``codecs.heatmap.encode_pyramid`` renders each scale's Gaussians directly at that
scale's resolution (σ in that scale's pixels, with its own sub-pixel coordinate mapping) instead of
pooling the GT map. A peak then stays a well-formed unit-height Gaussian at every scale, whereas
average-pooling a σ=1 map 8× to GT/8 smears it into a low, sub-pixel blob whose height depends on
where the joint falls in the 8×8 cell — a target the 1×1 head cannot match consistently.

Choices where the paper is silent (documented, switchable where useful):

- The 1×1 heads read the *merged* level features (skip + upsampled, the output of each deconvolution
  level), and their heat maps are not fed back into the network: supervision shapes the features
  that the next deconvolution level upsamples ("for use in the next deconv layer", §2.1) without
  changing the architecture, so ``supervised_scales=1, regression=False`` is exactly
  ``StackedHourglass`` (same parameter tree, same outputs; footnote 1 of §2.1 states this reduction).
- Heads exist only at supervised scales (an unsupervised 1×1 head would be unconstrained), so the
  regression network sees the last module's maps at the supervised scales only.
- Resizing for the regression input is bilinear (``jax.image.resize``, half-pixel centres). Under
  the codec convention (pixel centres at integers, outer edges of all grids coinciding) half-pixel
  resampling aligns every scale with GT exactly, and bilinear keeps a coarse peak's sub-cell
  position, where nearest-neighbour would quantise it to 2^i-pixel blocks.
- The regression network is a context-aggregation stack of dilated 3×3 convolutions, each followed
  by BatchNorm + ReLU, with dilations ``regression_dilations`` (1, 2, 4, 8, 16 by default: a
  63×63 receptive field, the whole 64×64 GT map of a 256×256 crop, so the refinement is *global*
  and can relate limbs to head and torso as §2.2 asks) and ``regression_features`` channels (the
  stack width by default), then a 1×1 convolution to ``num_joints`` maps. Keeping full resolution
  throughout avoids the down/up-sampling blur of another hourglass on the final prediction.

Default configuration (§3.2): 4 conv-deconv stacks, 64 feature channels (the state of the art of
the time used 8 stacks of 256), hourglass depth 4, and supervision at every deconvolution level of
Fig. 2 and §2.1 (GT, GT/2, GT/4, GT/8). Fig. 4 and §3.3 evaluate up to (GT, GT/2, GT/4):
``supervised_scales=3`` reproduces that largest set. Training recipe (§3): Adam, lr 5e-4 with decay,
100 epochs.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxpose.models.hourglass import Hourglass, HourglassStem, stack_features
from jaxpose.models.layers import (Conv, Conv1x1, batch_norm, check_input, torch_bias_init,
                                   torch_kernel_init, uses_layer_forms)

Dtype = Any


def scale_divisors(supervised_scales: int | Sequence[int], depth: int) -> tuple[int, ...]:
  """The supervised scales as ascending divisors of GT: ``(1, 2, 4)`` means GT, GT/2, GT/4 (§3.2).

  ``supervised_scales`` is a count n (GT … GT/2^(n-1), the settings of Fig. 4) or a sequence of
  divisors that must contain 1 (GT, the intermediate supervision every stack keeps) and powers of
  two up to 2^(depth-1) (an hourglass of depth d has d deconvolution levels, GT … GT/2^(d-1)).
  """
  coarsest = 2 ** (depth - 1)
  if isinstance(supervised_scales, int):
    if not 1 <= supervised_scales <= depth:
      raise ValueError(f"supervised_scales={supervised_scales}: a count must be in 1..depth={depth} "
                       f"(GT … GT/{coarsest})")
    return tuple(2 ** i for i in range(supervised_scales))
  divisors = tuple(int(d) for d in supervised_scales)
  allowed = tuple(2 ** i for i in range(depth))
  bad = [d for d in divisors if d not in allowed]
  if bad or 1 not in divisors or len(set(divisors)) != len(divisors):
    raise ValueError(f"supervised_scales={tuple(supervised_scales)}: divisors of GT must be distinct, "
                     f"include 1 (GT) and be among {allowed} for depth={depth}")
  return tuple(sorted(divisors))


class KeypointRegression(nn.Module):
  """Global keypoint regression network (Ke et al. 2018, §2.2), fully convolutional.

  ``maps``: the last module's heat maps, one (B, h_i, w_i, K) array per supervised scale, GT first.
  Each is resized bilinearly to the GT size (B, h, w) and all are concatenated along channels; then
  per dilation d a 3×3 convolution with dilation d (padding d, PyTorch init) + BN + ReLU, and a 1×1
  convolution to ``num_joints`` refined heat maps (B, h, w, K). See the module docstring for why.
  """
  num_joints: int
  features: int = 64
  dilations: tuple[int, ...] = (1, 2, 4, 8, 16)
  dtype: Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, maps: Sequence[jax.Array], train: bool = False) -> jax.Array:
    b, h, w, _ = maps[0].shape
    resized = [m if m.shape[1:3] == (h, w)
               else jax.image.resize(m, (b, h, w, m.shape[-1]), "bilinear") for m in maps]
    y = jnp.concatenate(resized, axis=-1).astype(self.dtype)
    for i, d in enumerate(self.dilations):
      fan_in = 9 * y.shape[-1]
      y = Conv(self.features, (3, 3), padding=((d, d), (d, d)), kernel_dilation=(d, d),
                  dtype=self.dtype, kernel_init=torch_kernel_init(),
                  bias_init=torch_bias_init(fan_in), name=f"conv{i}")(y)
      y = nn.relu(batch_norm(train, self.dtype, name=f"bn{i}", axis_name=self.bn_axis_name)(y))
    return Conv1x1(self.num_joints, dtype=self.dtype, name="score")(y)


class MSN(nn.Module):
  """Multi-scale supervised network (Ke et al. 2018, §2, Fig. 2); see the module docstring.

  ``__call__(x (B,H,W,3) float32, train)`` → ``{"heatmaps": tuple of num_stacks (+1 with
  regression) (B,H/4,W/4,K) float32, "pyramid": tuple of num_stacks tuples of (B,H/4/s,W/4/s,K)
  float32 for the supervised divisors s ascending}``; H, W divisible by 4·2^depth.

  Fields: ``num_stacks`` conv-deconv modules of ``depth`` levels, ``features`` channels,
  ``num_blocks`` bottlenecks per residual; ``supervised_scales`` a count or divisors (see
  ``scale_divisors``); ``regression`` adds the §2.2 network (``regression_features`` channels,
  default ``features``; ``regression_dilations``); ``dtype`` the computation dtype;
  ``bn_axis_name`` synchronises every BatchNorm across devices under ``pmap``.
  Parameter names of the hourglass part equal ``StackedHourglass``'s; the multi-scale heads are
  ``scale_head{stack}_{divisor}`` and the regression network ``regression``.
  """
  num_joints: int = 16
  num_stacks: int = 4
  features: int = 64
  depth: int = 4
  num_blocks: int = 1
  supervised_scales: int | tuple[int, ...] = 4
  regression: bool = True
  regression_features: int | None = None
  regression_dilations: tuple[int, ...] = (1, 2, 4, 8, 16)
  dtype: Dtype = jnp.float32
  bn_axis_name: str | None = None
  layer_forms: str = "auto"  # cpu | xla forms of the shared layers (layers.py, "Layer forms")

  @nn.compact
  @uses_layer_forms
  def __call__(self, x: jax.Array, train: bool = False) -> dict:
    check_input(x, self.depth, "MSN")
    divisors = scale_divisors(self.supervised_scales, self.depth)
    x = HourglassStem(self.features, dtype=self.dtype, bn_axis_name=self.bn_axis_name,
                      name="stem")(x, train)
    heatmaps, pyramid = [], []
    for i in range(self.num_stacks):
      y, levels = Hourglass(self.depth, self.features, self.num_blocks, dtype=self.dtype,
                            bn_axis_name=self.bn_axis_name, return_levels=True,
                            name=f"hourglass{i}")(x, train)
      # levels[-1 - j] is the merged output of the deconvolution level at GT/2^j (§2.1).
      coarse = [Conv1x1(self.num_joints, dtype=self.dtype, name=f"scale_head{i}_{d}")(
          levels[-1 - (d.bit_length() - 1)]).astype(jnp.float32) for d in divisors[1:]]
      y = stack_features(y, i, self.features, self.num_blocks, train, self.dtype,
                         self.bn_axis_name)
      score = Conv1x1(self.num_joints, dtype=self.dtype, name=f"score{i}")(y)
      gt = score.astype(jnp.float32)
      heatmaps.append(gt)
      pyramid.append((gt, *coarse))
      if i < self.num_stacks - 1:
        x = (x + Conv1x1(self.features, dtype=self.dtype, name=f"fc_remap{i}")(y)
             + Conv1x1(self.features, dtype=self.dtype, name=f"score_remap{i}")(score))
    if self.regression:
      refined = KeypointRegression(
          self.num_joints, self.regression_features or self.features, self.regression_dilations,
          dtype=self.dtype, bn_axis_name=self.bn_axis_name, name="regression")(pyramid[-1], train)
      heatmaps.append(refined.astype(jnp.float32))
    return {"heatmaps": tuple(heatmaps), "pyramid": tuple(pyramid)}


__all__: Sequence[str] = ["KeypointRegression", "MSN", "scale_divisors"]
