"""Convolutional Pose Machines (Wei, Ramakrishna, Kanade & Sheikh, CVPR 2016), as summarised by
Chen (UCSD, "DNN-based regressors for human pose estimation") §2.4, eq. 8–9, Fig. 4, and built layer
for layer like the authors' released 6-stage VGG-based Caffe model
(shihenw/convolutional-pose-machines-release, ``model/_trained_MPI/pose_deploy_resize.prototxt``;
the ``pose_deploy_centerMap`` deploy files of its MPII / LSP / MPII+LSP models, ``testing/config.m``,
take the same image + centre-map input, and ports of them show the same layers).

A pose machine is a sequence of T predictors (Chen eq. 8): stage t maps the image features and the
*context features* ψ of the previous stage's belief maps b_{t−1} (eq. 9: one map per joint over all
locations) to new beliefs b_t; every stage is supervised (intermediate supervision, Wei et al. §3),
which also counters vanishing gradients in this deep plain network. Here, as in the release:

- **Image features x′** (Wei et al. §3.2; computed once, shared by stages ≥ 2 and by stage 1): the
  VGG-19 convolutions conv1_1 … conv4_2 (3×3, ReLU; 2×2 max-poolings after conv1_2, conv2_2 and
  conv3_4), then five CPM convolutions conv4_3_CPM … conv4_7_CPM (3×3, ReLU; 256, 256, 256, 256 and
  128 channels). Output: 128 channels at input/8 (368 → 46).
- **Stage 1** (Wei et al. Fig. 2; Chen Fig. 4): two 1×1 convolutions on x′, conv5_1_CPM (512,
  ReLU) and conv5_2_CPM → K + 1 maps (the K joints and a background map, no ReLU).
- **Stage t ≥ 2** (same figures): the concatenation [b_{t−1} (K + 1), x′ (128), centre map (1)],
  in the release's channel order, then Mconv1 … Mconv5 (7×7, 128, ReLU), Mconv6 (1×1, 128, ReLU),
  Mconv7 (1×1 → K + 1, no ReLU). ψ of eq. 8 is not a separate layer: Mconv1's filters over the
  belief channels *are* the learned context features (Wei et al. §3.2 replace the hand-designed
  ψ of pose machines by convolutions over the belief maps).
- **Centre map** (the release's ``center_map`` input, Gaussian σ = 21 px at 368 px pooled to the
  belief grid by ``pool_center_lower``): it tells the later stages which person to parse. jaxpose
  crops are centred on the person, so the module builds it itself (``center_map``) as a constant
  Gaussian at the crop centre, σ = ``center_sigma`` × input height (21/368 by default, so it scales
  with the input), evaluated directly at the belief-map pixel centres. The release instead
  average-pools (9×9, stride 8) a full-resolution Gaussian; that adds a box blur of variance
  (9² − 1)/12 ≈ 6.7 px² to σ² = 441 px² and centres the 9×9 window half a pixel off the pooled
  cell — both negligible, and the direct form works for any number of poolings.

Receptive field (Wei et al. §3.2: accuracy grows with the receptive field of the later stages,
which must cover most of the person to capture long-range part relations): ``CPM.layers(stage)``
lists the geometry of the longest input → output path of a stage (trunk, stage 1, then each further
stage through its beliefs) from the same fields that build the network, for
``receptive_field.geometry``. At paper scale (368 px, 3 poolings) stage 1 sees 164 px and every
later stage adds 5·6·8 = 240 px: 404 px at stage 2 (already the whole crop), 1364 px at stage 6.
The CPU variant (128 px, 2 poolings) sees 104 px at stage 1, plus 120 px per later stage.

Fields for this 2-core CPU (and beyond the release):

- ``width``: conv1's channels (64 in the release); every other layer keeps the release's ratio to it
  (VGG 1, 2, 4, 8×; CPM convs 4×, features x′ 2×, conv5_1_CPM 8×, stage convs 2×).
- ``num_pools``: the number of 2× poolings in the trunk (the first ``num_pools`` of VGG's three are
  kept). 3 = the release (input/8); 2 gives input/4 maps, 128 → 32 like the library's other models.

Initialisation (the paper is silent; the release's prototxt fills every layer from N(0, 0.01²) with
zero biases, and its trunk carries ImageNet VGG-19's layer names, conv1_1 … conv4_2, which suggests
it started from those weights): ReLU convolutions use He et al. 2015's N(0, 2/fan_in) and zero
biases, so that a from-scratch network of this depth (15 trunk convolutions plus 7 per stage, no
BatchNorm) keeps its activation scale — with N(0, 0.01²) each 3×3 layer of 256 inputs would shrink
the activation variance by about 0.01²·2304/2 ≈ 0.12 and the features would vanish. The belief
layers (conv5_2_CPM, Mconv7) keep the release's N(0, 0.01²) and zero bias, so that the first
beliefs are small and the later stages start from a near-neutral context. Layer names follow the
release so that its weights could be mapped in.

No BatchNorm and no dropout in the release's VGG model: by default ``train`` changes nothing and
there are no ``batch_stats``. ``batch_norm=True`` is a departure for training from scratch on a small
budget (the release fine-tuned ImageNet weights; the stacked hourglass, which has BatchNorm, leaves
the empty-belief plateau in a few hundred steps where this plain network did not, issue #17's
run): a BatchNorm (``layers.batch_norm``, synchronised over ``bn_axis_name`` under ``pmap``)
between every ReLU layer and its ReLU, and no bias there; the belief layers stay linear and
unnormalised. 1×1
convolutions are ``nn.Dense`` on the channel axis and poolings ``layers.max_pool_2x2`` (the fast
forms on XLA's CPU backend, see ``layers.py``).

Outputs (docs/DESIGN.md "Model outputs"): ``{"heatmaps": tuple of T (B, h, w, K) float32 joint
beliefs, last = final; "background": tuple of T (B, h, w, 1) float32 background beliefs}``.
The training target of the background map is ``background_target`` (the release's data layer).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxpose.models.layers import Conv, Dense, batch_norm, max_pool_2x2, uses_layer_forms
from jaxpose.models.receptive_field import Layer

Dtype = Any

# The release's reference geometry: σ = 21 px for a 368 px crop (testing/config.m, ``param.sigma``).
CENTER_SIGMA = 21.0 / 368.0

# He et al. 2015 for ReLU layers; the release's Gaussian filler for the linear belief layers.
_RELU_INIT = nn.initializers.variance_scaling(2.0, "fan_in", "normal")
_BELIEF_INIT = nn.initializers.normal(stddev=0.01)


@dataclasses.dataclass(frozen=True)
class Op:
  """One layer of the network, as built and as seen by ``receptive_field``.

  ``kind`` is ``"conv"`` (``kernel``×``kernel``, stride 1, padding ``kernel // 2`` on each side, as
  the release's ``pad: 1`` / ``pad: 3``) or ``"pool"`` (2×2 max-pooling, stride 2). ``relu``: a
  ReLU follows; ``belief``: the linear output layer of a stage (its own initialisation).
  """
  name: str
  kind: str
  kernel: int = 2
  features: int = 0
  relu: bool = True
  belief: bool = False

  def layer(self) -> Layer:
    if self.kind == "pool":
      return Layer(self.name, 2, 2, 0)
    return Layer(self.name, self.kernel, 1, self.kernel // 2)


def center_map(height: int, width: int, stride: int, sigma: float) -> np.ndarray:
  """(height // stride, width // stride) float32 Gaussian at the crop centre (the release's
  ``pool_center_lower``), σ in input pixels.

  Sampled at the belief-map pixel centres expressed in input pixels, ``x = (u + 0.5)·stride − 0.5``
  (docs/DESIGN.md "Geometry conventions": pixel centres at integers at both resolutions), around
  the crop centre ``((width − 1)/2, (height − 1)/2)``; the peak value is 1 where a map pixel centre
  falls on the crop centre (odd map sides), slightly less otherwise (the 2×2 centre pixels share it).
  """
  h, w = height // stride, width // stride
  ys = (np.arange(h) + 0.5) * stride - 0.5 - (height - 1) / 2
  xs = (np.arange(w) + 0.5) * stride - 0.5 - (width - 1) / 2
  d2 = ys[:, None] ** 2 + xs[None, :] ** 2
  return np.exp(-d2 / (2.0 * sigma ** 2)).astype(np.float32)


def background_target(heatmaps: jax.Array) -> jax.Array:
  """The background belief target: ``max(1 − max_k heatmaps[..., k], 0)``, shape (..., h, w, 1).

  This is the released definition, not only its spirit: the CPM Caffe data layer
  (``CPMDataTransformer::generateLabelMap``, "put background channel") sets the last target
  channel to ``max(1.0 − maximum, 0.0)`` over the joint Gaussians of the person, and the stage
  losses supervise it with the same L2 loss as the joint maps. Joints without a target (weight 0)
  have all-zero maps in ``codecs.heatmap.encode``, so, as in the release, they leave the
  background at 1 there. The clip at 0 only acts where a joint map exceeds 1 (never for
  ``codecs.heatmap`` Gaussians, which peak at 1; the release clips each joint map at 1 as well).
  """
  heatmaps = jnp.asarray(heatmaps)
  return jnp.maximum(1.0 - jnp.max(heatmaps, axis=-1, keepdims=True), 0.0)


def _apply(ops: Sequence[Op], x: jax.Array, dtype: Dtype, norm: Callable[[str], nn.Module] | None
           = None) -> jax.Array:
  """Runs ``ops`` on ``x``. A function, not a module, so that inside ``CPM.__call__`` the layers
  belong to ``CPM`` and keep the release's flat names (``conv4_3_CPM``, ``Mconv1_stage2``, …).
  ``norm(name)``: a BatchNorm placed between every ReLU layer and its ReLU (``CPM.batch_norm``;
  that layer then has no bias, which the BatchNorm's own offset replaces)."""
  for op in ops:
    if op.kind == "pool":
      x = max_pool_2x2(x)
      continue
    init = _BELIEF_INIT if op.belief else _RELU_INIT
    normed = norm is not None and op.relu
    if op.kernel == 1:  # a matmul over channels: the fast 1×1 form on XLA CPU (layers.py)
      x = Dense(op.features, dtype=dtype, kernel_init=init, bias_init=nn.initializers.zeros,
                   use_bias=not normed, name=op.name)(x)
    else:
      p = op.kernel // 2
      x = Conv(op.features, (op.kernel, op.kernel), padding=((p, p), (p, p)), dtype=dtype,
                  kernel_init=init, bias_init=nn.initializers.zeros, use_bias=not normed,
                  name=op.name)(x)
    if normed:
      x = norm(f"{op.name}_bn")(x)
    if op.relu:
      x = nn.relu(x)
  return x


class CPM(nn.Module):
  """Convolutional Pose Machine (Wei et al. 2016; Chen §2.4 eq. 8–9), the released VGG-based model.

  ``__call__(x (B, H, W, 3) float32, train=False)`` → ``{"heatmaps": tuple of num_stages
  (B, H/2^num_pools, W/2^num_pools, num_joints) float32, "background": tuple of num_stages
  (B, h, w, 1) float32}``, stage order, last = final. H and W must be divisible by 2^num_pools.

  Paper scale: ``CPM(num_joints=14)`` (the release's 14 joints + background) at 368×368.
  A CPU variant: ``CPM(width=16, num_pools=2)`` at 128×128 → 32×32 maps.
  """
  num_joints: int = 16
  num_stages: int = 6
  width: int = 64
  num_pools: int = 3
  center_sigma: float = CENTER_SIGMA
  dtype: Dtype = jnp.float32
  batch_norm: bool = False  # True: BatchNorm before every ReLU (not in the release; see above)
  bn_axis_name: str | None = None  # the pmap axis of synchronised BatchNorm (batch_norm=True)
  layer_forms: str = "auto"  # cpu | xla forms of the shared layers (layers.py, "Layer forms")

  # ---- the layer lists (one source for the network and for its receptive field) ----

  def _check_fields(self) -> None:
    if self.num_stages < 1:
      raise ValueError(f"CPM num_stages must be >= 1, got {self.num_stages}")
    if not 0 <= self.num_pools <= 3:
      raise ValueError(f"CPM num_pools must be 0, 1, 2 or 3 (the trunk has three VGG poolings), "
                       f"got {self.num_pools}")
    if self.width < 1:
      raise ValueError(f"CPM width must be >= 1, got {self.width}")
    if self.num_joints < 1:
      raise ValueError(f"CPM num_joints must be >= 1, got {self.num_joints}")

  def trunk_ops(self) -> list[Op]:
    """Image features x′: VGG-19 conv1_1 … conv4_2 and conv4_3_CPM … conv4_7_CPM (Wei et al. §3.2)."""
    self._check_fields()
    w = self.width
    ops: list[Op] = []
    blocks = [(1, 2, w), (2, 2, 2 * w), (3, 4, 4 * w), (4, 2, 8 * w)]  # VGG-19 blocks 1–4 (to conv4_2)
    for b, (block, n, features) in enumerate(blocks):
      ops += [Op(f"conv{block}_{i + 1}", "conv", 3, features) for i in range(n)]
      if b < self.num_pools:
        ops.append(Op(f"pool{block}_stage1", "pool"))
    ops += [Op(f"conv4_{i}_CPM", "conv", 3, 4 * w) for i in (3, 4, 5, 6)]
    ops.append(Op("conv4_7_CPM", "conv", 3, 2 * w))
    return ops

  def stage_ops(self, stage: int) -> list[Op]:
    """The layers of stage ``stage`` (1-based): stage 1's 1×1 head on x′, or a refinement stage
    on [b_{t−1}, x′, centre] (Wei et al. Fig. 2)."""
    self._check_fields()
    if not 1 <= stage <= self.num_stages:
      raise ValueError(f"CPM stage must be in 1 … num_stages={self.num_stages}, got {stage}")
    w, k = self.width, self.num_joints + 1
    if stage == 1:
      return [Op("conv5_1_CPM", "conv", 1, 8 * w),
              Op("conv5_2_CPM", "conv", 1, k, relu=False, belief=True)]
    ops = [Op(f"Mconv{i}_stage{stage}", "conv", 7, 2 * w) for i in range(1, 6)]
    ops += [Op(f"Mconv6_stage{stage}", "conv", 1, 2 * w),
            Op(f"Mconv7_stage{stage}", "conv", 1, k, relu=False, belief=True)]
    return ops

  def layers(self, stage: int | None = None) -> list[Layer]:
    """The longest input → output path of stage ``stage`` (default: the last) as
    ``receptive_field.Layer``s: the trunk, stage 1, then stages 2 … ``stage`` through their
    beliefs. All branches are centred alike (odd kernels, same poolings), so this path's receptive
    field is the stage's receptive field."""
    stage = self.num_stages if stage is None else stage
    ops = self.trunk_ops()
    for t in range(1, stage + 1):
      ops += self.stage_ops(t)
    return [op.layer() for op in ops]

  # ---- the network ----

  @nn.compact
  @uses_layer_forms
  def __call__(self, x: jax.Array, train: bool = False) -> dict:
    self._check_fields()
    norm = None
    if self.batch_norm:  # no dropout in either form; ``train`` only switches the BatchNorm
      norm = lambda name: batch_norm(train, self.dtype, name=name, axis_name=self.bn_axis_name)
    div = 2 ** self.num_pools
    if x.ndim != 4 or x.shape[1] % div or x.shape[2] % div:
      raise ValueError(f"CPM expects (B, H, W, C) with H and W divisible by 2**num_pools = {div} "
                       f"(num_pools={self.num_pools}), got shape {tuple(x.shape)}")
    b, height, width = x.shape[:3]
    feats = _apply(self.trunk_ops(), x.astype(self.dtype), self.dtype, norm)
    center = center_map(height, width, div, self.center_sigma * height)
    center = jnp.broadcast_to(jnp.asarray(center, self.dtype)[None, :, :, None],
                              (b, *center.shape, 1))
    belief = _apply(self.stage_ops(1), feats, self.dtype, norm)
    beliefs = [belief]
    for t in range(2, self.num_stages + 1):
      belief = _apply(self.stage_ops(t), jnp.concatenate([belief, feats, center], axis=-1), self.dtype,
                      norm)
      beliefs.append(belief)
    k = self.num_joints
    return {"heatmaps": tuple(s[..., :k].astype(jnp.float32) for s in beliefs),
            "background": tuple(s[..., k:].astype(jnp.float32) for s in beliefs)}


__all__: Sequence[str] = ["CENTER_SIGMA", "CPM", "Op", "background_target", "center_map"]
