"""Layers shared by the model families (NHWC throughout).

Performance (see docs/DESIGN.md, "Performance notes"): on XLA's CPU backend the weight gradient of a
1×1 ``lax.conv`` becomes a slow huge-window convolution, and the gradient of ``nn.max_pool`` is a
scatter. Writing 1×1 convolutions as a matmul over the channel axis and 2×2 max-pooling as
reshape + max made the hourglass train step 1.6× faster; the k×k convolutions' kernel gradient
has the same problem, and ``Conv`` differentiates them by hand (``conv_nhwc``: the train step 2×
faster again). Every model should use these helpers instead of ``nn.Conv`` / ``nn.max_pool``.

Initialisation: PyTorch's defaults (``nn.Conv2d.reset_parameters``), so that a model trained with a
PyTorch recipe starts from the same distribution: kernel ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
(kaiming-uniform with a=sqrt(5), i.e. variance 1/(3·fan_in)) and bias ~ U(-1/sqrt(fan_in),
1/sqrt(fan_in)); BatchNorm scale 1, bias 0. ``fan_in`` = kernel height × width × input channels.

BatchNorm: PyTorch ``momentum=0.1`` (weight of the new batch) is flax ``momentum=0.9`` (weight of the
running average); ``epsilon=1e-5`` as in PyTorch.

Precision: ``dtype`` is the computation dtype (``model.dtype``); parameters are always float32.
Mixed precision (``dtype=jnp.bfloat16`` or ``float16``): every matmul and convolution of every family
goes through ``Conv`` / ``Dense`` / ``Conv1x1`` here, which feed bf16 operands to XLA with
``preferred_element_type=float32``: the products accumulate in float32 and the layer returns
float32 (the bias is added in float32); the next layer casts its input to ``dtype`` again, where XLA
fuses the cast. This is the form that reaches a CPU's bf16 matrix units (AMX / AVX-512 BF16) from
XLA — a bf16 dot with a bf16 result does not (../shared/docs/PERFORMANCE.md) — and the one
accelerators use. BatchNorm computes its statistics in float32 (flax's
``force_float32_reductions``) and keeps them in float32; the models return float32 outputs, so
the losses are float32. In float32 the helpers are exactly ``nn.Conv`` / ``nn.Dense``.
``jaxpose.runtime.bf16_matrix_units()`` says whether this CPU has the units.

Layer forms (``model.layer_forms``, issue #37): everything above about matmul forms, the
hand-written backward and reshape pooling was measured on XLA's CPU backend. On a GPU or TPU
XLA sends its own convolutions (forward, input and kernel gradient) to cuDNN / the MXU and fuses
``reduce_window`` pooling, and the row-shift form would triple every 3×3 convolution's
activation traffic. So the helpers here have two forms, chosen at trace time:
- ``"cpu"``: the forms above (``conv_nhwc`` with its written-out backward and the bf16
  row-shift forward, 1×1 convolutions and ``Dense`` as matmuls with a ``custom_vjp`` in low
  precision, max-pooling as reshape + max or strided-slice maxima);
- ``"xla"``: ``lax.conv_general_dilated`` and ``lax.dot_general`` differentiated by jax itself,
  max-pooling as ``lax.reduce_window`` (``nn.max_pool``; its gradient is XLA's
  select-and-scatter); 1×1 convolutions stay a dot over the channel axis (the kernel keeps its
  (C_in, C_out) shape, and XLA's GPU backend rewrites a 1×1 convolution into the same GEMM).
  In low precision the operands are bf16 / f16 and the product is returned in that type, then
  cast to float32 (bias, BatchNorm and the residual stream stay float32 as in the cpu form):
  cuDNN, cuBLAS and the TPU's MXU accumulate bf16 products in float32 internally, and jax's
  transpose rules then see a bf16 cotangent, so both gradients are bf16 convolutions too. With
  ``preferred_element_type=float32`` instead, jax 0.10's transpose rules upcast the bf16 operand
  to the float32 cotangent's type: the backward pass — two thirds of the step — would run float32
  (TF32 at best) convolutions.
``"auto"`` (the default) is ``"cpu"`` where ``jax.default_backend() == "cpu"`` at trace time and
``"xla"`` elsewhere. A model takes the form from its ``layer_forms`` field: its ``__call__`` is
wrapped in ``uses_layer_forms``, which sets the context (``layer_forms(...)``) that every helper
here reads while the network is traced; submodules inherit it. Outside a model the context is
``"auto"``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

Dtype = Any

BN_MOMENTUM = 0.9  # flax convention; = PyTorch momentum 0.1
BN_EPSILON = 1e-5


_LOW_PRECISION = (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16))

LAYER_FORMS = ("auto", "cpu", "xla")  # model.layer_forms (module docstring, "Layer forms")
_FORMS = contextvars.ContextVar("jaxpose_layer_forms", default="auto")


def check_layer_forms(value: str) -> str:
  """``value`` if it is one of ``LAYER_FORMS``, else ``ValueError`` naming ``model.layer_forms``."""
  if value not in LAYER_FORMS:
    raise ValueError(f"model.layer_forms={value!r}: expected one of {', '.join(LAYER_FORMS)} "
                     "(auto = the cpu forms on the CPU backend, xla elsewhere)")
  return value


@contextlib.contextmanager
def layer_forms(value: str):
  """Within the block, the helpers of this module trace in the forms ``value`` ("auto", "cpu",
  "xla"); the previous setting comes back afterwards."""
  token = _FORMS.set(check_layer_forms(value))
  try:
    yield
  finally:
    _FORMS.reset(token)


def current_forms() -> str:
  """The forms in force now, resolved: ``"cpu"`` or ``"xla"`` (``"auto"`` → ``"cpu"`` on the
  CPU backend, ``"xla"`` on any other)."""
  value = _FORMS.get()
  if value == "auto":
    return "cpu" if jax.default_backend() == "cpu" else "xla"
  return value


def uses_layer_forms(call: Callable) -> Callable:
  """Decorator of a model's ``__call__`` (under ``@nn.compact``): runs it in the forms of the
  model's ``layer_forms`` field, so that every layer it calls, submodules included, traces in
  them."""
  @functools.wraps(call)
  def wrapped(self, *args, **kwargs):
    with layer_forms(self.layer_forms):
      return call(self, *args, **kwargs)
  return wrapped


def _xla_low_precision(fn, acc):
  """The xla form of a product: XLA's own op on the operands as they are, its result in the
  operands' type when they are bf16 / f16 (``acc`` set) and then cast to ``acc`` — see the
  module docstring for why not ``preferred_element_type``."""
  if acc is None:
    return fn(None)
  return fn(None).astype(acc)


def accumulation_dtype(*operands: jax.Array) -> Any:
  """float32 when an operand is bf16 / f16 (mixed precision: accumulate in float32), else None
  (XLA's default: the operands' type)."""
  return jnp.float32 if any(jnp.dtype(a.dtype) in _LOW_PRECISION for a in operands) else None


_NHWC = ("NHWC", "HWIO", "NHWC")
_FEW_CHANNELS = 32  # below this input width the kernel gradient is one matmul over all taps


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, batch_group_count=1,
                         precision=None, preferred_element_type=None):
  """``lax.conv_general_dilated`` that accumulates bf16 / f16 operands in float32. The cpu form
  has a faster gradient for the plain 2-D NHWC convolution every family uses (``conv_nhwc``);
  anything else (input dilation, groups, other layouts) goes to ``lax.conv_general_dilated`` as
  it is. The xla form is XLA's convolution with jax's gradient (module docstring)."""
  if preferred_element_type is None and current_forms() == "xla":
    return _xla_low_precision(lambda pref: lax.conv_general_dilated(
        lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
        feature_group_count, batch_group_count, precision=precision,
        preferred_element_type=pref), accumulation_dtype(lhs, rhs))
  acc = preferred_element_type or accumulation_dtype(lhs, rhs)
  dn = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
  plain = (lhs.ndim == 4 and dn == lax.conv_dimension_numbers(lhs.shape, rhs.shape, _NHWC)
           and all(d == 1 for d in (lhs_dilation or (1, 1)))
           and feature_group_count == 1 and batch_group_count == 1 and precision is None)
  if not plain:
    return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                    dimension_numbers, feature_group_count, batch_group_count,
                                    precision=precision, preferred_element_type=acc)
  strides = tuple(int(s) for s in window_strides)
  dilation = tuple(int(d) for d in (rhs_dilation or (1, 1)))
  if isinstance(padding, str):
    window = [(k - 1) * d + 1 for k, d in zip(rhs.shape[:2], dilation)]
    padding = lax.padtype_to_pads(lhs.shape[1:3], window, strides, padding)
  pads = tuple((int(lo), int(hi)) for lo, hi in padding)
  return conv_nhwc(lhs, rhs, strides, pads, dilation, None if acc is None else jnp.dtype(acc))


ROWS_LOW_PRECISION = True  # bf16 / f16 stride-1 k×k: the row-shift matmul form (_conv_rows)


def _conv(x, k, strides, pads, dilation, acc, lhs_dilation=(1, 1)):
  if (ROWS_LOW_PRECISION and jnp.dtype(x.dtype) in _LOW_PRECISION and k.shape[1] > 1
      and all(s == 1 for s in (*strides, *dilation, *lhs_dilation))):
    return _conv_rows(x, k, pads, acc)
  return lax.conv_general_dilated(x, k, strides, pads, lhs_dilation=lhs_dilation,
                                  rhs_dilation=dilation, dimension_numbers=_NHWC,
                                  preferred_element_type=acc)


def _pad_hw(x, pads):
  """Zero-pads an NHWC array's two spatial axes by ``pads`` ((lo, hi) each; negative crops)."""
  return lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0),) + tuple((lo, hi, 0) for lo, hi in pads)
                 + ((0, 0, 0),))


def _conv_rows(x, k, pads, acc):
  """A stride-1 k_h×k_w convolution as k_h matmuls: the input's k_w column shifts laid side by
  side (B, H + pads, W', k_w·C), then one (B·H'·W', k_w·C) × (k_w·C, O) matmul per kernel row
  over its row window, summed. In bf16 with float32 accumulation this ran 1.1–1.5× faster than
  XLA's convolution on the hourglasses' 3×3 shapes (benchmarks/conv_forms.py, "rows"), whose
  bf16 convolution does not reach the CPU's bf16 matrix units; in float32 XLA's is faster."""
  kh, kw, cin, cout = k.shape
  xp = _pad_hw(x, pads)
  b, hp, wp, _ = xp.shape
  ho, wo = hp - kh + 1, wp - kw + 1
  wide = jnp.concatenate([xp[:, :, j:j + wo] for j in range(kw)], axis=-1)
  out = None
  for i in range(kh):
    y = jnp.dot(wide[:, i:i + ho].reshape(-1, kw * cin), k[i].reshape(kw * cin, cout),
                preferred_element_type=acc)
    out = y if out is None else out + y
  return out.reshape(b, ho, wo, cout)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def conv_nhwc(x, k, strides, pads, dilation, acc):
  """A 2-D convolution, NHWC input and HWIO kernel, explicit ``pads`` ((lo, hi) per spatial axis),
  kernel ``dilation``, accumulating in ``acc`` (None = the operands' type).

  The forward pass is XLA's convolution, except for bf16 / f16 operands at stride 1 with a kernel
  wider than one column, which run as row-shift matmuls (``_conv_rows``; ``ROWS_LOW_PRECISION``):
  XLA's CPU convolution does not reach the bf16 matrix units, its dots do. The backward pass is
  written out, because XLA's CPU
  backend differentiates the kernel as a convolution whose window is the whole feature map, which
  ran at 7–12 GFLOP/s where the forward ran at 60–77 (4×64×64×128 → 128, 3×3;
  benchmarks/conv_grad.py):
  - the input gradient is the convolution of the (stride-dilated) output gradient with the
    spatially flipped, in/out-swapped kernel — the transpose XLA would build, but with float32
    accumulation in mixed precision (jax's own rule takes the cotangent's float32); at stride 1 in
    bf16 it takes the row-shift form too;
  - the kernel gradient is one matmul per kernel tap, the output gradient (O, B·H'·W') times the
    tap's strided window of the padded input (B·H'·W', C): k_h·k_w dense matmuls instead of one
    huge-window convolution; for fewer than 32 input channels (the RGB stems) the windows are
    laid side by side and multiplied once (B·H'·W', k_h·k_w·C), since a 3-column matmul is slow.
  In mixed precision both gradients take bf16 operands and accumulate in float32.
  """
  return _conv(x, k, strides, pads, dilation, acc)


def _conv_nhwc_fwd(x, k, strides, pads, dilation, acc):
  return _conv(x, k, strides, pads, dilation, acc), (x, k)


def _conv_nhwc_bwd(strides, pads, dilation, acc, res, g):
  x, k = res
  kh, kw, cin, cout = k.shape
  b, h, w, _ = x.shape
  ho, wo = g.shape[1], g.shape[2]
  g = g.astype(x.dtype)
  # input gradient: a stride-1 convolution of g dilated by the strides with the flipped kernel
  ke = [(n - 1) * d + 1 for n, d in zip((kh, kw), dilation)]
  full = [(e - 1 - lo, size + lo - (out - 1) * s - 1)
          for e, (lo, _), size, out, s in zip(ke, pads, (h, w), (ho, wo), strides)]
  kt = jnp.flip(k, (0, 1)).swapaxes(2, 3)
  dx = _conv(g, kt, (1, 1), full, dilation, acc, lhs_dilation=strides)
  # kernel gradient: one (O, N) × (N, C) matmul per tap over its strided window of the input
  xp = _pad_hw(x, pads)
  gt = g.reshape(-1, cout).T
  (sh, sw), (dh, dw) = strides, dilation
  wins = [lax.slice(xp, (0, i * dh, j * dw, 0),
                    (b, i * dh + (ho - 1) * sh + 1, j * dw + (wo - 1) * sw + 1, cin), (1, sh, sw, 1))
          .reshape(-1, cin) for i in range(kh) for j in range(kw)]
  if cin < _FEW_CHANNELS:  # a thin matmul per tap is slow: all taps side by side, one matmul
    dk = jnp.dot(gt, jnp.concatenate(wins, axis=1), preferred_element_type=acc)
    dk = dk.reshape(cout, kh, kw, cin).transpose(1, 2, 3, 0)
  else:
    dk = jnp.stack([jnp.dot(gt, win, preferred_element_type=acc) for win in wins])
    dk = dk.reshape(kh, kw, cout, cin).swapaxes(2, 3)
  return dx.astype(x.dtype), dk.astype(k.dtype)


conv_nhwc.defvjp(_conv_nhwc_fwd, _conv_nhwc_bwd)


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None, **kwargs):
  """``lax.dot_general`` that accumulates bf16 / f16 operands in float32. In the cpu form
  ``Dense``'s matmul (the last axis of ``lhs`` with the first of a 2-D ``rhs``) in low precision
  goes through ``matmul``, whose gradients are low-precision matmuls too; in the xla form jax
  differentiates XLA's dot (module docstring)."""
  if preferred_element_type is None and current_forms() == "xla":
    return _xla_low_precision(lambda pref: lax.dot_general(
        lhs, rhs, dimension_numbers, precision=precision, preferred_element_type=pref, **kwargs),
        accumulation_dtype(lhs, rhs))
  acc = preferred_element_type or accumulation_dtype(lhs, rhs)
  (contract, batch) = dimension_numbers
  if (acc is not None and rhs.ndim == 2 and precision is None and not kwargs
      and tuple(map(tuple, contract)) == ((lhs.ndim - 1,), (0,)) and not any(map(len, batch))):
    return matmul(lhs, rhs)
  return lax.dot_general(lhs, rhs, dimension_numbers, precision=precision,
                         preferred_element_type=acc, **kwargs)


@jax.custom_vjp
def matmul(a, k):
  """``a @ k`` over ``a``'s last axis, accumulated in float32 (float32 result) — for bf16 / f16
  operands. Its gradients cast the float32 cotangent to the operands' type and accumulate in
  float32 as well, where jax's own rule would multiply a float32 cotangent by the bf16 operand
  (a float32 matmul)."""
  return jnp.dot(a, k, preferred_element_type=jnp.float32)


def _matmul_fwd(a, k):
  return matmul(a, k), (a, k)


def _matmul_bwd(res, g):
  a, k = res
  g = g.astype(a.dtype)
  da = jnp.dot(g, k.T, preferred_element_type=jnp.float32)
  dk = jnp.dot(a.reshape(-1, a.shape[-1]).T, g.reshape(-1, g.shape[-1]),
               preferred_element_type=jnp.float32)
  return da.astype(a.dtype), dk.astype(k.dtype)


matmul.defvjp(_matmul_fwd, _matmul_bwd)


class Conv(nn.Conv):
  """``nn.Conv`` with float32 accumulation in low precision (module docstring, "Precision");
  the same parameters and names."""
  conv_general_dilated: Callable[..., jax.Array] = conv_general_dilated


class Dense(nn.Dense):
  """``nn.Dense`` with float32 accumulation in low precision (module docstring, "Precision")."""
  dot_general: Callable[..., jax.Array] = dot_general


def torch_kernel_init():
  """PyTorch's default conv/linear kernel init: U(±1/sqrt(fan_in)) (fan_in from the kernel shape)."""
  return nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def torch_bias_init(fan_in: int):
  """PyTorch's default conv/linear bias init: U(±1/sqrt(fan_in))."""
  bound = 1.0 / math.sqrt(fan_in)

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


def batch_norm(train: bool, dtype: Dtype = jnp.float32, name: str | None = None,
               axis_name: str | None = None) -> nn.BatchNorm:
  """``nn.BatchNorm`` with PyTorch's defaults (momentum 0.1 ≡ flax 0.9, eps 1e-5).

  ``axis_name``: the ``pmap`` axis over which batch statistics are averaged (synchronised
  BatchNorm, so that N devices on N shards normalise exactly like one device on the whole
  batch); ``None`` for per-device statistics or outside ``pmap``.
  """
  return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                      dtype=dtype, name=name, axis_name=axis_name if train else None)


class Conv1x1(nn.Module):
  """1×1 convolution written as a matmul over the channel axis (NHWC).

  Same function as ``nn.Conv(features, kernel_size=(1, 1))`` with its kernel reshaped to
  ``(C_in, features)``; much faster to differentiate on XLA's CPU backend. Both layer forms keep
  it a dot (module docstring, "Layer forms").
  """
  features: int
  use_bias: bool = True
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    cin = x.shape[-1]
    kernel = self.param("kernel", torch_kernel_init(), (cin, self.features), self.param_dtype)
    a, k = x.reshape(-1, cin).astype(self.dtype), kernel.astype(self.dtype)
    acc = accumulation_dtype(a, k)
    if current_forms() == "xla":
      y = _xla_low_precision(lambda pref: jnp.dot(a, k, preferred_element_type=pref), acc)
    else:
      y = matmul(a, k) if acc is not None else jnp.dot(a, k)
    if self.use_bias:
      bias = self.param("bias", torch_bias_init(cin), (self.features,), self.param_dtype)
      y = y + bias.astype(y.dtype)
    return y.reshape(*x.shape[:-1], self.features)


def conv(features: int, kernel_size: int, cin: int, *, stride: int = 1,
         dtype: Dtype = jnp.float32, name: str | None = None) -> nn.Conv:
  """A k×k ``nn.Conv`` with PyTorch's padding (k // 2 on each side) and PyTorch init.

  Explicit symmetric padding (not "SAME") so that a strided convolution samples the same pixels as
  the PyTorch port (``padding=3`` for the 7×7 stride-2 stem), which keeps heatmap geometry equal.
  ``cin`` (input channels) sets the bias init bound.
  """
  p = kernel_size // 2
  fan_in = kernel_size * kernel_size * cin
  return Conv(features, (kernel_size, kernel_size), strides=(stride, stride),
                 padding=((p, p), (p, p)), use_bias=True, dtype=dtype,
                 kernel_init=torch_kernel_init(), bias_init=torch_bias_init(fan_in), name=name)


def max_pool_2x2(x: jax.Array) -> jax.Array:
  """2×2 max-pooling with stride 2 on NHWC; height and width must be even.

  Equals ``nn.max_pool(x, (2, 2), strides=(2, 2))``. The cpu form is reshape + max, whose
  gradient is cheap on XLA's CPU backend (ties within a window share the gradient; ``nn.max_pool``
  gives it to one element; ties are measure-zero in practice); the xla form is ``nn.max_pool``.
  """
  n, h, w, c = x.shape
  if h % 2 or w % 2:
    raise ValueError(f"max_pool_2x2 needs even height and width, got {h}×{w} (input shape "
                     f"{tuple(x.shape)}); choose an input size divisible by 4·2^depth")
  return max_pool(x, 2, 2)


def max_pool(x: jax.Array, window: int, stride: int) -> jax.Array:
  """Unpadded ``window``×``window`` max-pooling with ``stride`` on NHWC (VALID: a partial window
  at the border is dropped, as ``nn.max_pool(..., padding="VALID")``).

  xla form: ``nn.max_pool`` (``lax.reduce_window``). cpu form: non-overlapping windows as
  reshape + max, overlapping ones as the maximum of ``window²`` strided slices — both avoid
  ``nn.max_pool``'s scatter gradient on XLA's CPU backend; ties share the gradient.
  """
  if current_forms() == "xla":
    return nn.max_pool(x, (window, window), strides=(stride, stride), padding="VALID")
  n, h, w, c = x.shape
  oh, ow = (h - window) // stride + 1, (w - window) // stride + 1
  if window == stride:
    x = x[:, :oh * window, :ow * window]
    return x.reshape(n, oh, window, ow, window, c).max(axis=(2, 4))
  span_h, span_w = stride * (oh - 1) + 1, stride * (ow - 1) + 1
  slices = [x[:, i:i + span_h:stride, j:j + span_w:stride] for i in range(window)
            for j in range(window)]
  out = slices[0]
  for s in slices[1:]:
    out = jnp.maximum(out, s)
  return out


def upsample_nearest_2x(x: jax.Array) -> jax.Array:
  """Nearest-neighbour ×2 upsampling on NHWC (PyTorch ``F.interpolate(scale_factor=2)``)."""
  n, h, w, c = x.shape
  y = jnp.broadcast_to(x[:, :, None, :, None, :], (n, h, 2, w, 2, c))
  return y.reshape(n, 2 * h, 2 * w, c)


def check_input(x: jax.Array, depth: int, model: str) -> None:
  """Raises unless ``x`` is (B, H, W, C) with H and W divisible by 4·2^depth (a stride-4 stem
  followed by ``depth`` 2×2 poolings), naming the model and the shape."""
  div = 4 * 2 ** depth
  if x.ndim != 4 or x.shape[1] % div or x.shape[2] % div:
    raise ValueError(f"{model} expects (B, H, W, C) with H, W divisible by 4·2^depth = {div}, "
                     f"got shape {tuple(x.shape)}")


class Bottleneck(nn.Module):
  """Pre-activation bottleneck residual block of the stacked hourglass (Newell et al. 2016, §3.1).

  As in the PyTorch port (bearpaw/pytorch-pose ``Bottleneck``, expansion 2): BN-ReLU-conv1×1(w),
  BN-ReLU-conv3×3(w), BN-ReLU-conv1×1(2w) with ``w = features // 2``, all convolutions with bias;
  the skip is the identity, or a 1×1 convolution (with bias) of the raw input when the number of
  channels changes.
  """
  features: int
  dtype: Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    if self.features % 2:
      raise ValueError(f"Bottleneck features must be even (width = features // 2), got {self.features}")
    cin = x.shape[-1]
    width = self.features // 2
    y = nn.relu(batch_norm(train, self.dtype, name="bn1", axis_name=self.bn_axis_name)(x))
    y = Conv1x1(width, dtype=self.dtype, name="conv1")(y)
    y = nn.relu(batch_norm(train, self.dtype, name="bn2", axis_name=self.bn_axis_name)(y))
    y = conv(width, 3, width, dtype=self.dtype, name="conv2")(y)
    y = nn.relu(batch_norm(train, self.dtype, name="bn3", axis_name=self.bn_axis_name)(y))
    y = Conv1x1(self.features, dtype=self.dtype, name="conv3")(y)
    skip = x
    if cin != self.features:
      skip = Conv1x1(self.features, dtype=self.dtype, name="project")(x)
    return skip.astype(y.dtype) + y


class Residual(nn.Module):
  """``num_blocks`` bottlenecks in a row (the port's ``_make_residual``); the first may project."""
  features: int
  num_blocks: int = 1
  dtype: Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    for i in range(self.num_blocks):
      x = Bottleneck(self.features, dtype=self.dtype, bn_axis_name=self.bn_axis_name,
                     name=f"block{i}")(x, train)
    return x


__all__: Sequence[str] = [
    "BN_EPSILON", "BN_MOMENTUM", "Bottleneck", "Conv", "Conv1x1", "Dense", "LAYER_FORMS",
    "Residual", "accumulation_dtype", "batch_norm", "check_input", "check_layer_forms", "conv",
    "conv_general_dilated", "current_forms", "dot_general", "layer_forms", "max_pool",
    "max_pool_2x2", "torch_bias_init", "torch_kernel_init", "upsample_nearest_2x",
    "uses_layer_forms",
]
