"""DNN-based coordinate regressors with a joint-visibility head (Chen, Huang & Tseng, "Human Pose
Estimation", UC San Diego), §2.1–2.2 and §3.3: Baseline-1, Baseline-2, a non-separated AlexNet and
VGG-19, each one ``flax.linen`` module built from the same two pieces, ``conv_stack`` (the
convolutional layers, from a list of ``ConvSpec``) and ``fc_heads`` (the two heads).

Prediction (§2.1, eq. 1–3): ŷ = [ω̂ û v̂], per joint a presence indicator ω_i (eq. 2) and a location
(u_i, v_i). The network branches (§2.2, Fig. 2) into

- a **classification head** (multi-label, eq. 5): fully connected layers on the flattened conv
  features, the last with one output per joint — ``visibility_logits`` (B, K), the pre-sigmoid
  value of ω̂_i (the loss applies the sigmoid cross-entropy of eq. 5);
- a **regression head** (L2, eq. 6–7): fully connected layers that branch off at the output of the
  classification head's *first* fully connected layer (§3.3.1) and end in 2K linear outputs —
  ``coords`` (B, K, 2), x then y per joint, in the library's crop-normalised convention
  ``(x_pixel + 0.5) / image_size`` (so the eq. 1 pixel coordinates are ``coords * W - 0.5``,
  ``codecs.coords.decode``). The output layer predicts the offset from the crop centre:
  ``coords = 0.5 + W h + b``. That is DeepPose's normalisation (coordinates relative to the box
  centre, Toshev & Szegedy 2014 §3, which the report follows in §2.3) shifted into the library's
  [0, 1] frame; it equals a plain linear layer with its bias moved by 0.5, so an untrained network
  starts at the crop centre instead of the corner.

Output dict (docs/DESIGN.md "Model outputs", the regression family's contract):
``{"coords": ((B, K, 2) float32,), "visibility_logits": (B, K) float32}``. ``coords`` is a tuple
with one entry (a single-stage regressor; cascades such as DeepPose have one per stage, last =
final). With ``regression=False`` only ``visibility_logits`` is returned.

Two-phase training (§3.3): "first train the classification head and then append two fully
connected layers at the branch point to train regression head". Phase 1 builds the module with
``regression=False`` (conv layers + classification head); phase 2 with ``regression=True`` (the
default) adds the branch. The phase-2 parameter tree is a strict superset of the phase-1 tree with
the same names and shapes for the shared layers, so phase-1 parameters load unchanged. Every
regression-branch parameter lives in a top-level collection whose name starts with
``REGRESSION_PREFIX`` (``"reg_"``: ``reg_fc1`` … ``reg_out``), and no other does, so phase 2
trains the branch alone with ``train.trainable=("reg_",)`` (``training.optim``).

Parameter names: ``conv1`` … ``convN`` (and ``bn1`` … with ``batch_norm=True``), ``fc1`` …
(the classification head's hidden layers; ``fc1`` is the branch point), ``cls_out`` (K logits),
``reg_fc1`` … (the regression branch's hidden layers), ``reg_out`` (2K outputs).

Choices where the report is silent (all are fields; defaults are "paper size"):

- **Regression head depth**: §3.3.1/§3.3.2 say the branch "is followed by three fully-connected
  layers", §3.3 that "two fully connected layers" are appended. ``regression_layers`` counts the
  branch's fully connected layers including the 2K output layer, default 3 (the per-architecture
  text); 2 gives the §3.3 reading. The hidden width ``regression_features`` defaults to the branch
  point's width ``fc_features[0]``.
- **Classification head**: "three fully-connected layers" (§3.3.1) = ``fc_features`` (two hidden
  layers) + ``cls_out``. AlexNet and VGG-19 keep their originals' 4096, 4096 (Krizhevsky et al.
  2012 §3.5; Simonyan & Zisserman 2014 Table 1); the Baselines use 1024, 1024 (below).
- **Dropout**: 0.5 on the output of every hidden fully connected layer (after its ReLU), as AlexNet
  (Krizhevsky et al. §4.2, first two FC layers) and VGG (§3.1) have it; the Baselines and the
  regression branch follow the same rule so that the four heads differ only in their features.
  ``fc1``'s dropped-out output is the branch point, shared by both heads. Inverted dropout (flax
  ``nn.Dropout``, rng name ``"dropout"``), active only with ``train=True``.
- **Baseline filters** (Fig. 5–6 are not in the text): 5×5 convolutions, 32 and 64 filters
  (Baseline-1; Baseline-2 adds 128), each conv followed by 2×2/2 max-pooling, two 1024-wide FC
  layers — the shape of TensorFlow's estimator CNN tutorial, the toolkit of §3.2 ("customizing
  estimators"), with one doubling per extra layer. The convolutions have **stride 2**
  (``strides``): at the 224-pixel paper input stride-1 convolutions would leave 56×56×64 values
  for ``fc1`` (205 M weights, more than VGG-19); stride 2 leaves 14×14×64 (Baseline-1) and 3×3×128
  (Baseline-2, 224 → 112 → 56 → 28 → 14 → 7 → 3). Convolutions are "same"-padded (k // 2).
- **Input size**: the report rescales every crop to a square "to fit into our input layer" (§3.5)
  without the size. Defaults are the originals' inputs: 227×227 for AlexNet (the size at which
  unpadded 11×11/4 gives 55×55; Krizhevsky's "224" does not divide), 224×224 for VGG-19 and the
  Baselines. The module takes any input whose feature map survives the pooling stack (else a
  ``ValueError`` naming the fields that set the stack and the smallest admissible size); the fully
  connected layers are sized at ``init`` by the input they see.
- **Non-separated AlexNet** (§3.3.3): one tower with the full widths 96, 256, 384, 384, 256
  (Krizhevsky's two GPUs' halves joined, so every layer sees all channels of the one before), ReLU,
  local response normalisation after conv1 and conv2 (``lrn``; Krizhevsky §3.3: k=2, n=5, α=1e-4,
  β=0.75), overlapping 3×3/2 max-pooling after conv1, conv2 and conv5 (§3.4), and the report's extra
  pooling after conv4 (``extra_pool``), also 3×3/2 like AlexNet's others. At 227 px the feature map
  goes 55 → 27 → 27 → 13 → 13 → 13 → 6 → 6 → 2, so ``fc1`` reads 2×2×256 values instead of
  6×6×256 — the weight saving the report added the pool for. The smallest input is then 131 px;
  ``stem_stride`` (conv1's stride, 4) lets the same network run at 96–128 px on a CPU (stride 2:
  smallest input 71 px).
- **VGG-19** (§3.3.4): configuration E of Simonyan & Zisserman Table 1, 3×3/1 "same" convolutions
  in five stages of 2, 2, 4, 4, 4 layers (64, 128, 256, 512, 512 filters), each stage closed by
  2×2/2 max-pooling; 224 px → 7×7×512 for ``fc1``.
- **Normalisation**: none by default — none of the four originals has BatchNorm (Baselines
  unknown). ``batch_norm=True`` inserts BatchNorm after every convolution (before the ReLU, as
  torchvision's ``vgg19_bn``), which helps VGG-19 train from scratch; every BatchNorm gets
  ``bn_axis_name`` (synchronised statistics under ``pmap``). In phase 2 a frozen conv stack's
  BatchNorm statistics would still update under ``train=True``; the trainer keeps them from phase 1
  (``training.step``, ``train.trainable``), while the frozen layers still normalise with each
  batch's statistics during training, as in phase 1.
- **Width for CPU runs**: ``width_mult`` scales every convolution's filter count (rounded, ≥ 1);
  ``fc_features`` / ``regression_features`` set the fully connected widths.
- **Initialisation**: PyTorch's defaults, as every family here (``layers.torch_kernel_init``).

Performance: no 1×1 convolutions here; non-overlapping pooling is reshape + max (as
``layers.max_pool_2x2``); AlexNet's overlapping 3×3/2 pooling is a max over nine strided slices,
whose gradient avoids ``nn.max_pool``'s scatter (docs/DESIGN.md, performance notes).

Paper-scale parameter counts (14 joints, regression branch of 3 layers, no BatchNorm):
Baseline-1 (224 px) 16,091,626; Baseline-2 (224 px) 4,631,146; non-separated AlexNet (227 px)
58,461,610; VGG-19 (224 px) 173,304,938 (pinned in ``tests/models/test_regressors.py``).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxpose.models.layers import batch_norm as _batch_norm_layer
from jaxpose.models import layers
from jaxpose.models.layers import (Conv, Dense, torch_bias_init, torch_kernel_init,
                                   uses_layer_forms)

Dtype = Any

REGRESSION_PREFIX = "reg_"


class ConvSpec(NamedTuple):
  """One convolutional layer of a stack: conv (+ BatchNorm) + ReLU (+ LRN) (+ max-pool).

  ``padding``: symmetric zero padding on each side; ``pool``: ``(window, stride)`` of an unpadded
  max-pooling after the layer, or ``None``; ``lrn``: Krizhevsky's local response normalisation
  after the ReLU.
  """
  features: int
  kernel: int
  stride: int = 1
  padding: int = 0
  pool: tuple[int, int] | None = None
  lrn: bool = False


def _out_size(n: int, window: int, stride: int, padding: int = 0) -> int:
  return (n + 2 * padding - window) // stride + 1


def output_size(size: int, specs: Sequence[ConvSpec]) -> int:
  """Side of the stack's output map for a ``size``-pixel input side; 0 when a layer empties it."""
  for spec in specs:
    size = _out_size(size, spec.kernel, spec.stride, spec.padding)
    if spec.pool is not None and size >= 1:
      size = _out_size(size, *spec.pool)
    if size < 1:
      return 0
  return size


def min_input_size(specs: Sequence[ConvSpec], limit: int = 1 << 14) -> int:
  """The smallest input side whose feature map survives every layer of ``specs``."""
  return next((n for n in range(1, limit) if output_size(n, specs) >= 1), limit)


def max_pool(x: jax.Array, window: int, stride: int) -> jax.Array:
  """Unpadded ``window``×``window`` max-pooling with ``stride`` on NHWC (VALID: a partial window
  at the border is dropped, as ``nn.max_pool(..., padding="VALID")``): ``layers.max_pool``, in
  the layer forms in force (reshape + max or strided-slice maxima on the CPU, whose gradient
  avoids ``nn.max_pool``'s scatter there; ``nn.max_pool`` in the xla form)."""
  return layers.max_pool(x, window, stride)


def local_response_norm(x: jax.Array, size: int = 5, k: float = 2.0, alpha: float = 1e-4,
                        beta: float = 0.75) -> jax.Array:
  """Krizhevsky et al. 2012 §3.3: ``b_i = a_i / (k + α Σ_j a_j²)^β`` over the ``size`` channels
  centred on i (clipped at the ends, i.e. zero-padded). α is not divided by ``size`` (PyTorch's
  ``LocalResponseNorm`` divides it; the paper's formula does not)."""
  c = x.shape[-1]
  half = size // 2
  sq = jnp.pad(jnp.square(x), ((0, 0), (0, 0), (0, 0), (half, half)))
  total = sum(sq[..., i:i + c] for i in range(size))
  return x / (k + alpha * total) ** beta


def conv_stack(x: jax.Array, specs: Sequence[ConvSpec], train: bool, *, batch_norm: bool = False,
               dtype: Dtype = jnp.float32, bn_axis_name: str | None = None) -> jax.Array:
  """The convolutional layers of a regressor, ``specs`` in order.

  A function, not a module: called inside a ``@nn.compact`` method its layers belong to the caller,
  named ``conv1`` … (``bn1`` … with ``batch_norm``), so every architecture has flat, stable names.
  """
  for i, spec in enumerate(specs, start=1):
    p = spec.padding
    cin = x.shape[-1]
    x = Conv(spec.features, (spec.kernel, spec.kernel), strides=(spec.stride, spec.stride),
                padding=((p, p), (p, p)), dtype=dtype, kernel_init=torch_kernel_init(),
                bias_init=torch_bias_init(spec.kernel * spec.kernel * cin), name=f"conv{i}")(x)
    if batch_norm:
      x = _batch_norm_layer(train, dtype, name=f"bn{i}", axis_name=bn_axis_name)(x)
    x = nn.relu(x)
    if spec.lrn:
      x = local_response_norm(x)
    if spec.pool is not None:
      x = max_pool(x, *spec.pool)
  return x


def _dense(x: jax.Array, features: int, dtype: Dtype, name: str) -> jax.Array:
  return Dense(features, dtype=dtype, kernel_init=torch_kernel_init(),
                  bias_init=torch_bias_init(x.shape[-1]), name=name)(x)


def _hidden(x: jax.Array, features: int, rate: float, train: bool, dtype: Dtype, name: str):
  """Fully connected + ReLU + dropout (the originals' hidden FC layer)."""
  x = nn.relu(_dense(x, features, dtype, name))
  return nn.Dropout(rate, deterministic=not train, name=f"{name}_dropout")(x) if rate else x


def fc_heads(x: jax.Array, train: bool, *, num_joints: int, fc_features: Sequence[int],
             dropout_rate: float = 0.5, regression: bool = True, regression_layers: int = 3,
             regression_features: int | None = None, dtype: Dtype = jnp.float32,
             visibility: bool = True) -> dict:
  """The classification and regression heads of §2.2 (Fig. 2) on a conv feature map ``x``.

  Classification: ``fc1`` … (``fc_features``, each FC + ReLU + dropout), then ``cls_out``, one
  logit per joint (eq. 5). Regression (§3.3.1): branches at ``fc1``'s output; ``regression_layers
  - 1`` hidden layers ``reg_fc1`` … of width ``regression_features`` (default ``fc_features[0]``),
  then ``reg_out``, 2K linear outputs read as (x, y) per joint, offset from the crop centre 0.5
  (module docstring). ``visibility=False`` leaves the classification head out (``fc2`` … and
  ``cls_out`` are not built; ``fc1`` stays as the branch point): a plain coordinate regressor
  such as DeepPose's stages (Toshev & Szegedy §3: AlexNet's fc6, fc7, then 2K outputs is
  ``regression_layers=2``). Called inside a compact method: the layers belong to the caller.
  """
  if not (visibility or regression):
    raise ValueError("visibility=False needs regression=True: the network would have no output")
  if not fc_features:
    raise ValueError("fc_features must name at least one hidden layer: the regression head "
                     "branches at the output of the first fully connected layer (§3.3.1)")
  if regression_layers < 1:
    raise ValueError(f"regression_layers must be >= 1 (the 2K output layer), got {regression_layers}")
  h = x.reshape(x.shape[0], -1)
  branch = h = _hidden(h, fc_features[0], dropout_rate, train, dtype, "fc1")
  out = {}
  if visibility:
    for i, width in enumerate(fc_features[1:], start=2):
      h = _hidden(h, width, dropout_rate, train, dtype, f"fc{i}")
    out["visibility_logits"] = _dense(h, num_joints, dtype, "cls_out").astype(jnp.float32)
  if regression:
    r = branch
    width = regression_features or fc_features[0]
    for i in range(1, regression_layers):
      r = _hidden(r, width, dropout_rate, train, dtype, f"{REGRESSION_PREFIX}fc{i}")
    r = _dense(r, 2 * num_joints, dtype, f"{REGRESSION_PREFIX}out").astype(jnp.float32)
    out["coords"] = (0.5 + r.reshape(-1, num_joints, 2),)
  return out


class RegressorBase(nn.Module):
  """What the four regressors share: fields of the heads, the input check, ``__call__``.

  Subclasses define the conv layers (``conv_specs``) and name in ``STACK_FIELDS`` the fields that
  set the conv/pool stack (quoted by the input-size error). ``__call__(x (B,H,W,C) float32,
  train=False)`` → ``{"coords": ((B,K,2),), "visibility_logits": (B,K)}`` float32 (only
  ``visibility_logits`` with ``regression=False``). ``train=True`` turns dropout on and needs
  ``rngs={"dropout": key}`` (and ``mutable=["batch_stats"]`` with ``batch_norm``).
  """
  num_joints: int = 14
  fc_features: tuple[int, ...] = (4096, 4096)
  dropout_rate: float = 0.5
  regression: bool = True
  regression_layers: int = 3
  regression_features: int | None = None
  visibility: bool = True
  width_mult: float = 1.0
  batch_norm: bool = False
  dtype: Dtype = jnp.float32
  bn_axis_name: str | None = None
  layer_forms: str = "auto"  # cpu | xla forms of the shared layers (layers.py, "Layer forms")

  STACK_FIELDS = ()

  def conv_specs(self) -> tuple[ConvSpec, ...]:
    raise NotImplementedError

  def _width(self, features: int) -> int:
    return max(1, int(round(features * self.width_mult)))

  def check_input(self, x: jax.Array, specs: Sequence[ConvSpec]) -> None:
    """Raises ``ValueError`` unless ``x`` is (B, H, W, C) large enough for the pooling stack."""
    name = type(self).__name__
    if x.ndim != 4:
      raise ValueError(f"{name} expects images (B, H, W, C), got shape {tuple(x.shape)}")
    h, w = x.shape[1:3]
    if output_size(min(h, w), specs) < 1:
      fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.STACK_FIELDS)
      raise ValueError(
          f"{name}: input {h}×{w} is too small for its conv/pool stack ({fields}): H and W must be "
          f">= {min_input_size(specs)} px. Raise the input size (data.image_size) or change "
          f"{' / '.join(self.STACK_FIELDS)}")

  @nn.compact
  @uses_layer_forms
  def __call__(self, x: jax.Array, train: bool = False) -> dict:
    specs = self.conv_specs()
    self.check_input(x, specs)
    x = conv_stack(x.astype(self.dtype), specs, train, batch_norm=self.batch_norm,
                   dtype=self.dtype, bn_axis_name=self.bn_axis_name)
    return fc_heads(x, train, num_joints=self.num_joints, fc_features=self.fc_features,
                    dropout_rate=self.dropout_rate, regression=self.regression,
                    regression_layers=self.regression_layers,
                    regression_features=self.regression_features, dtype=self.dtype,
                    visibility=self.visibility)


class Baseline1(RegressorBase):
  """Baseline-1 (§3.3.1): conv + max-pool twice, then the heads (three FC layers each).

  Each entry of ``features`` is a ``kernel_size``×``kernel_size`` "same" convolution with stride
  ``strides`` followed by 2×2/2 max-pooling; sizes are the module docstring's choices (32, 64
  filters of 5×5, stride 2; FC 1024, 1024; 224 px: 16,091,626 parameters).
  """
  fc_features: tuple[int, ...] = (1024, 1024)
  features: tuple[int, ...] = (32, 64)
  kernel_size: int = 5
  strides: int = 2

  STACK_FIELDS = ("features", "strides")

  def conv_specs(self) -> tuple[ConvSpec, ...]:
    return tuple(ConvSpec(self._width(f), self.kernel_size, self.strides, self.kernel_size // 2,
                          (2, 2)) for f in self.features)


class Baseline2(Baseline1):
  """Baseline-2 (§3.3.2): Baseline-1 with a third conv + max-pool layer (128 filters; 224 px:
  4,631,146 parameters)."""
  features: tuple[int, ...] = (32, 64, 128)


class AlexNet(RegressorBase):
  """The non-separated AlexNet of §3.3.3 (Krizhevsky et al. 2012, one tower) with the report's extra
  max-pooling after conv4, and the two heads (fc1 4096 = branch point, fc2 4096).

  ``features``: the five conv widths (11×11/``stem_stride`` unpadded, 5×5 pad 2, 3×3 pad 1 ×3);
  ``extra_pool=False`` gives Krizhevsky's original stack; ``lrn`` the LRN after conv1 and conv2.
  Paper input 227 px: 58,461,610 parameters.
  """
  features: tuple[int, ...] = (96, 256, 384, 384, 256)
  extra_pool: bool = True
  lrn: bool = True
  stem_stride: int = 4

  STACK_FIELDS = ("stem_stride", "extra_pool")

  def conv_specs(self) -> tuple[ConvSpec, ...]:
    if len(self.features) != 5:
      raise ValueError(f"AlexNet features must have 5 entries (conv1..conv5), got {self.features}")
    f = [self._width(c) for c in self.features]
    pool = (3, 2)  # overlapping pooling, Krizhevsky et al. §3.4
    return (ConvSpec(f[0], 11, self.stem_stride, 0, pool, self.lrn),
            ConvSpec(f[1], 5, 1, 2, pool, self.lrn),
            ConvSpec(f[2], 3, 1, 1),
            ConvSpec(f[3], 3, 1, 1, pool if self.extra_pool else None),
            ConvSpec(f[4], 3, 1, 1, pool))


class VGG19(RegressorBase):
  """VGG-19 (§3.3.4; Simonyan & Zisserman 2014, configuration E) and the two heads (fc1 4096 =
  branch point, fc2 4096).

  ``convs_per_stage[s]`` 3×3/1 "same" convolutions of ``features[s]`` filters, then 2×2/2
  max-pooling, per stage; other tuples give the other configurations of their Table 1 (A: 1, 1,
  2, 2, 2; D: 2, 2, 3, 3, 3). Paper input 224 px: 173,304,938 parameters.
  """
  features: tuple[int, ...] = (64, 128, 256, 512, 512)
  convs_per_stage: tuple[int, ...] = (2, 2, 4, 4, 4)

  STACK_FIELDS = ("convs_per_stage",)

  def conv_specs(self) -> tuple[ConvSpec, ...]:
    if len(self.features) != len(self.convs_per_stage):
      raise ValueError(f"VGG19 features {self.features} and convs_per_stage "
                       f"{self.convs_per_stage} need one entry per stage")
    return tuple(ConvSpec(self._width(f), 3, 1, 1, (2, 2) if j == n - 1 else None)
                 for f, n in zip(self.features, self.convs_per_stage) for j in range(n))


__all__: Sequence[str] = [
    "AlexNet", "Baseline1", "Baseline2", "ConvSpec", "REGRESSION_PREFIX",
    "RegressorBase", "VGG19", "conv_stack", "fc_heads", "local_response_norm", "max_pool",
    "min_input_size", "output_size",
]
