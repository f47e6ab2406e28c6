"""Heterogeneous multi-task network for pose estimation, HMLPE (Li, Liu & Chan, "Heterogeneous
Multi-task Learning for Human Pose Estimation with Deep Convolutional Neural Network", CVPR
Workshops 2014), §3.4 and Fig. 1/Fig. 3, with the feature backtracking of §5 (Algorithm 1).

Architecture (``HMLPE``):

- **Shared layers** (§3.4, "the first 6 hidden layers are shared"): three convolutional layers,
  each followed by ReLU (eq. 5) and max pooling, on a 112×112 RGB crop. Only convolution and
  pooling, so that every activation depends on a local window of the input ("preservation of
  location information"), with small filters and unit strides. No fully connected layer is shared.
- **Regression sub-network** (§3.1, eq. 1): three fully connected layers on the last pooling layer,
  ReLU, dropout 0.5 on the first (§3.5), a tanh output layer of 2K units (K = 8 joints, x then y).
- **Detection sub-network** (§3.2, eq. 3): three fully connected layers, dropout 0.5 on the first,
  and a logistic output layer of P × L units, one independent logistic classifier C_{p,l} per body
  part p and window l (P = 7 parts, L = 64 windows, §4.2): every window has its own weights, which is
  what makes the detectors location-specific (§3.2). ``part_logits`` are the pre-sigmoid values;
  the loss applies the sigmoid cross-entropy of eq. (3).

Output dict (``__call__(x (B,H,W,3), train)``, docs/DESIGN.md "Model outputs"):
``{"coords": ((B,K,2) float32 in [0, 1],), "part_logits": (B,P,L) float32}``. ``coords`` follows
the library convention ``(x_pixel + 0.5) / image_size`` (x then y), i.e. coordinates normalised by
the size of the box (§3.1). ``coords`` is a tuple (one entry: a single-stage regressor) so that the
regression family and cascades read the last entry alike. ``heads`` builds only some of the two
sub-networks: ``heads=("coords",)`` is the regression-only network of §4.5 (λ_d = 0 in eq. 4),
``heads=("parts",)`` the detection-only one; the missing key is absent from the dict.

From tanh to [0, 1]. §3.1 normalises the targets to [0, 1] and §3.4 puts a tanh on the last
regression layer, whose range is (-1, 1). Here ``coords = (tanh(z) + 1) / 2`` (= sigmoid(2z)).
Regressing the [0, 1] targets with tanh directly would use half of its range and treat the two sides
of the box unequally — the top-left edge (0) at tanh's linear origin, the bottom-right edge (1) at
saturation, where the gradient vanishes — and could emit negative coordinates outside the crop
(breaking the [0, 1] contract of ``coords``). The affine map is the same network as the paper's tanh layer regressing
targets rescaled to [-1, 1] (``2J - 1``): the squared error of eq. (1) in [0, 1] units is 1/4 of the
one in [-1, 1] units, a constant that λ_r of eq. (4) absorbs.

Dropout (§3.5): the paper keeps each neuron of the first fully connected layer with probability 0.5
in training and multiplies all activations by 0.5 at test. ``flax.linen.Dropout`` is inverted dropout
— kept activations are multiplied by 1/(1 - 0.5) = 2 in training, nothing at test. The two are the
same family of functions: a network trained one way equals the other with the next layer's weights
multiplied or divided by 2, so test-time predictions agree. Dropout is applied to the output of the
first fully connected layer (after its ReLU): "the neurons in dropout layers ... forward their
activation to the output units" (§3.5). ``train=True`` needs ``rngs={"dropout": key}``.

Sizes the paper leaves open (all are fields; the defaults are "paper size"):

- ``features=(32, 16, 16)``: 32 filters in conv1 (Fig. 6a shows "32 filter weights"). For conv2 and
  conv3 the only evidence is §5: Fig. 6b and 6c show the average backtracked patch "for each map" of
  those layers and the text cites features numbered up to 14 and 15 — 16 maps each.
- ``kernel_sizes=(5, 3, 3)``, ``conv_strides=(1, 1, 1)``, ``pool_sizes=(2, 2, 2)`` (non-overlapping
  max pooling, window = stride): "a small filter and stride size" (§3.4). Convolutions are unpadded
  ("valid"), which is what Algorithm 1 assumes (R_l ← R_l·stride, R_u ← R_u·stride + filter − 1 has
  no padding term), so a backtracked box never leaves the image. With these sizes every map of the
  112×112 input pools exactly: 112 →conv 108 →pool 54 →conv 52 →pool 26 →conv 24 →pool 12, so the
  regression and detection sub-networks read 12×12×16 = 2304 values. A conv3 unit sees a 20×20 input
  window, a pool3 unit 24×24 — comparable to the 30×30 detection windows (§4.2) and the body parts.
- ``regression_hidden=(1024, 1024)``, ``detection_hidden=(1024, 1024)``: the widths of the first two
  fully connected layers of each sub-network (the third is the output layer). A power of two wider
  than the 448 detection outputs (so the last hidden layer is no bottleneck for 448 independent
  classifiers) and, with dropout 0.5, still 512 active units per step; the same for both tasks so
  that neither sub-network is favoured by capacity in the λ_r/λ_d study of §4.5.

Parameter count at paper size (8 joints, 7 parts, 64 windows, 112×112 input): 7,304,816 — shared
convolutions 9,376; regression 3,426,320; detection 3,869,120 (tests/models/test_hmlpe.py derives it from
the layer list).

No BatchNorm (the network predates it): ``bn_axis_name`` is accepted for the registry contract
(every model takes it) and unused; there are no ``batch_stats``. Initialisation follows the other
families (PyTorch defaults, ``layers.torch_kernel_init``).

Feature visualisation (§5): ``HMLPE.layers()`` lists the shared stack as ``receptive_field.Layer``s
built from the same fields as the modules; ``backtrack(model, layer, row, col)`` is Algorithm 1 (the
input box of one activation); ``HMLPE.feature_maps(variables, images, layer)`` returns the
activations of a shared layer (conv2 or conv3 for Fig. 6b/6c and Fig. 7) so that a caller can find
each map's maximum; ``HMLPE.first_layer_filters(variables)`` returns the conv1 kernels for Fig. 6a.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxpose.models import receptive_field
from jaxpose.models import layers
from jaxpose.models.layers import (Conv, Dense, torch_bias_init, torch_kernel_init,
                                   uses_layer_forms)

Dtype = Any

HEADS = ("coords", "parts")


def max_pool(x: jax.Array, size: int) -> jax.Array:
  """Non-overlapping ``size``×``size`` max pooling (stride = size) on NHWC, as reshape + max.

  Equals ``nn.max_pool(x, (size, size), strides=(size, size), padding="VALID")``: trailing rows
  and columns that do not fill a window are dropped. Written as reshape + max because its gradient
  is much cheaper on XLA's CPU backend than ``nn.max_pool``'s scatter (docs/DESIGN.md, performance
  notes); ties within a window share the gradient. In the xla layer form ``nn.max_pool``
  (``layers.max_pool``).
  """
  if size == 1:
    return x
  return layers.max_pool(x, size, size)


def _dense(features: int, cin: int, dtype: Dtype, name: str) -> nn.Dense:
  return Dense(features, dtype=dtype, kernel_init=torch_kernel_init(),
                  bias_init=torch_bias_init(cin), name=name)


class HMLPE(nn.Module):
  """The HMLPE network of Li, Liu & Chan 2014 (§3.4, Fig. 3); see the module docstring.

  ``__call__(x (B,H,W,3) float32, train=False)`` → ``{"coords": ((B,num_joints,2),),
  "part_logits": (B,num_parts,num_windows)}`` (only the keys of ``heads``), float32. ``train=True``
  turns dropout on and needs ``rngs={"dropout": key}``. ``part_logits[:, p, l]`` is the logit of
  classifier C_{p,l}; windows are ordered as ``codecs.part_windows.window_boxes`` (row-major).
  The input size is free as long as the shared maps stay non-empty; the fully connected layers are
  sized for the input the model was initialised with (112×112 in the paper).
  """
  num_joints: int = 8
  num_parts: int = 7
  num_windows: int = 64
  features: tuple[int, ...] = (32, 16, 16)
  kernel_sizes: tuple[int, ...] = (5, 3, 3)
  conv_strides: tuple[int, ...] = (1, 1, 1)
  pool_sizes: tuple[int, ...] = (2, 2, 2)
  regression_hidden: tuple[int, ...] = (1024, 1024)
  detection_hidden: tuple[int, ...] = (1024, 1024)
  dropout_rate: float = 0.5
  heads: tuple[str, ...] = HEADS
  dtype: Dtype = jnp.float32
  bn_axis_name: str | None = None  # no BatchNorm here; accepted for the registry contract
  layer_forms: str = "auto"  # cpu | xla forms of the shared layers (layers.py, "Layer forms")

  def _check(self) -> None:
    n = len(self.features)
    if not (len(self.kernel_sizes) == len(self.conv_strides) == len(self.pool_sizes) == n) or n == 0:
      raise ValueError(
          f"HMLPE features, kernel_sizes, conv_strides and pool_sizes need one entry per shared conv "
          f"layer, got {self.features}, {self.kernel_sizes}, {self.conv_strides}, {self.pool_sizes}")
    unknown = [h for h in self.heads if h not in HEADS]
    if unknown or not self.heads:
      raise ValueError(f"HMLPE heads must be a non-empty subset of {HEADS}, got {self.heads}")

  def layers(self) -> list[receptive_field.Layer]:
    """The shared stack as ``receptive_field.Layer``s: conv1, pool1, conv2, pool2, ... (§3.4).

    Built from the same fields as the modules of ``__call__`` (unpadded convolutions, pooling
    window = stride), so the geometry cannot drift from the network.
    """
    self._check()
    out = []
    for i, (k, s, p) in enumerate(zip(self.kernel_sizes, self.conv_strides, self.pool_sizes)):
      out.append(receptive_field.Layer(f"conv{i + 1}", int(k), int(s), 0))
      out.append(receptive_field.Layer(f"pool{i + 1}", int(p), int(p), 0))
    return out

  @nn.compact
  @uses_layer_forms
  def __call__(self, x: jax.Array, train: bool = False) -> dict:
    self._check()
    if x.ndim != 4:
      raise ValueError(f"HMLPE expects images (B, H, W, C), got shape {tuple(x.shape)}")
    x = x.astype(self.dtype)
    for i, (f, k, s, p) in enumerate(zip(self.features, self.kernel_sizes, self.conv_strides,
                                         self.pool_sizes)):
      cin = x.shape[-1]
      x = Conv(int(f), (int(k), int(k)), strides=(int(s), int(s)), padding="VALID",
                  dtype=self.dtype, kernel_init=torch_kernel_init(),
                  bias_init=torch_bias_init(int(k) * int(k) * cin), name=f"conv{i + 1}")(x)
      x = nn.relu(x)
      self.sow("intermediates", f"conv{i + 1}_out", x)  # not "conv1": the module's name
      x = max_pool(x, int(p))
      self.sow("intermediates", f"pool{i + 1}_out", x)
      if x.shape[1] < 1 or x.shape[2] < 1:
        raise ValueError(f"HMLPE: the input is too small for the shared stack (empty map after "
                         f"pool{i + 1}); got input of shape {tuple(x.shape)}")
    shared = x.reshape(x.shape[0], -1)  # the last pooling layer, (row, col, channel) order

    out = {}
    if "coords" in self.heads:
      z = self._subnetwork(shared, self.regression_hidden, 2 * self.num_joints, train, "reg")
      coords = (jnp.tanh(z.astype(jnp.float32)) + 1.0) / 2.0
      out["coords"] = (coords.reshape(-1, self.num_joints, 2),)
    if "parts" in self.heads:
      z = self._subnetwork(shared, self.detection_hidden, self.num_parts * self.num_windows, train,
                           "det")
      out["part_logits"] = z.astype(jnp.float32).reshape(-1, self.num_parts, self.num_windows)
    return out

  def _subnetwork(self, x, hidden: Sequence[int], outputs: int, train: bool, prefix: str):
    """FC-ReLU-dropout, FC-ReLU, ..., FC (linear; the caller applies tanh or the loss's sigmoid).

    Called inside the compact ``__call__``, so its layers are named ``{prefix}_fc1``, ... there.
    """
    for j, width in enumerate(hidden):
      cin = x.shape[-1]
      x = nn.relu(_dense(int(width), cin, self.dtype, f"{prefix}_fc{j + 1}")(x))
      if j == 0:
        x = nn.Dropout(self.dropout_rate, deterministic=not train, name=f"{prefix}_dropout")(x)
    return _dense(outputs, x.shape[-1], self.dtype, f"{prefix}_fc{len(hidden) + 1}")(x)

  def feature_maps(self, variables, images: jax.Array, layer: int | str = 3) -> jax.Array:
    """Activations (B, h, w, C) of one shared layer at test time, for the visualisation of §5.

    ``layer``: a conv layer number (2 or 3 for Fig. 6b/6c and Fig. 7; 1 also works) or a name of
    ``layers()`` ("conv3", "pool2", ...). Conv activations are after the ReLU (the neuron's value,
    eq. 5). Position (r, c) of the result is position (r, c) of ``backtrack(model, name, r, c)``.
    """
    name = f"conv{layer}" if isinstance(layer, (int, np.integer)) else str(layer)
    names = [l.name for l in self.layers()]
    if name not in names:
      raise ValueError(f"HMLPE has no shared layer {layer!r}; layers: {names}")
    _, state = self.apply(variables, images, train=False, mutable=["intermediates"])
    return state["intermediates"][f"{name}_out"][0]

  def first_layer_filters(self, variables) -> np.ndarray:
    """The conv1 kernels as (num_filters, k, k, 3) float32 in [0, 1], ready for an image grid
    (Fig. 6a: "32 filter weights in the first convolutional layer").

    Each filter is min-max scaled on its own (a constant filter becomes 0.5 grey), as filter
    visualisations usually are; the sign and relative strength across filters are not kept.
    """
    kernel = np.asarray(variables["params"]["conv1"]["kernel"], np.float32)  # (k, k, cin, F)
    filters = np.transpose(kernel, (3, 0, 1, 2))
    lo = filters.min(axis=(1, 2, 3), keepdims=True)
    hi = filters.max(axis=(1, 2, 3), keepdims=True)
    span = hi - lo
    return np.where(span > 0, (filters - lo) / np.where(span > 0, span, 1.0), 0.5).astype(np.float32)


def backtrack(model: HMLPE, layer_index: int | str, row: int, col: int) -> tuple[int, int, int, int]:
  """Algorithm 1 of Li et al. 2014 (§5): the input box of activation (row, col) of a shared layer.

  ``layer_index``: an index into ``model.layers()`` (0 = conv1, 1 = pool1, 2 = conv2, ...) or a
  layer name ("conv3"). Returns ``(y0, x0, y1, x1)`` in input pixels, start inclusive and end
  exclusive (``image[y0:y1, x0:x1]`` is the backtracked patch). Algorithm 1 walks back through each
  layer, ``R_l ← R_l·stride``, ``R_u ← R_u·stride + filter_size − 1``; on these unpadded layers that
  is exactly the forward receptive-field recurrence of ``receptive_field.input_box``, which this
  evaluates.
  """
  layers = model.layers()
  if isinstance(layer_index, str):
    names = [l.name for l in layers]
    if layer_index not in names:
      raise ValueError(f"HMLPE has no shared layer {layer_index!r}; layers: {names}")
    layer_index = names.index(layer_index)
  if not 0 <= int(layer_index) < len(layers):
    raise ValueError(f"layer_index {layer_index} out of range for {len(layers)} shared layers")
  y0, x0, y1, x1 = receptive_field.input_box(layers[:int(layer_index) + 1], int(row), int(col))
  return int(y0), int(x0), int(y1), int(x1)


__all__: Sequence[str] = ["HEADS", "HMLPE", "backtrack", "max_pool"]
