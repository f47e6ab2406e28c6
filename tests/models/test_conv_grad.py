"""``layers.conv_nhwc``'s hand-written backward pass equals jax's own rule for the convolution."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpose.models import layers

_DN = ("NHWC", "HWIO", "NHWC")


def _both(x, k, strides, padding, dilation):
  """Value and gradients (input, kernel) of a random linear functional of the output, through
  ``layers.conv_general_dilated`` and through ``lax.conv_general_dilated``."""
  ref = lambda x, k: jax.lax.conv_general_dilated(x, k, strides, padding, rhs_dilation=dilation,
                                                  dimension_numbers=_DN)
  out = ref(x, k)
  w = jax.random.normal(jax.random.PRNGKey(1), out.shape)
  mine = lambda x, k: layers.conv_general_dilated(x, k, strides, padding, rhs_dilation=dilation,
                                                  dimension_numbers=_DN)
  loss = lambda f: (lambda x, k: jnp.sum(f(x, k).astype(jnp.float32) * w))
  return (jax.jit(jax.value_and_grad(loss(mine), (0, 1)))(x, k),
          jax.jit(jax.value_and_grad(loss(ref), (0, 1)))(x, k))


@pytest.mark.parametrize("shape,kernel,strides,padding,dilation", [
    ((2, 9, 8, 3), 3, (1, 1), ((1, 1), (1, 1)), (1, 1)),
    ((2, 9, 8, 3), 3, (1, 1), "SAME", (1, 1)),
    ((1, 11, 10, 4), 7, (2, 2), ((3, 3), (3, 3)), (1, 1)),   # the hourglass stem, odd size
    ((1, 12, 12, 4), 3, (2, 1), ((0, 2), (1, 0)), (1, 1)),   # asymmetric padding and strides
    ((2, 10, 10, 3), 5, (1, 1), "VALID", (1, 1)),
    ((1, 13, 13, 2), 3, (1, 1), ((2, 2), (2, 2)), (2, 2)),   # MSN's dilated 3×3
    ((1, 15, 14, 2), 3, (3, 2), "VALID", (2, 1)),            # windows that leave a remainder
    ((2, 6, 6, 5), 1, (1, 1), "VALID", (1, 1)),
    ((1, 10, 10, 40), 3, (1, 1), "SAME", (1, 1)),             # wide input: one matmul per tap
])
@pytest.mark.slow
def test_gradients_equal_jax_rule(shape, kernel, strides, padding, dilation):
  kx, kk = jax.random.split(jax.random.PRNGKey(0))
  x = jax.random.normal(kx, shape)
  k = jax.random.normal(kk, (kernel, kernel, shape[-1], 6))
  (v, (dx, dk)), (rv, (rdx, rdk)) = _both(x, k, strides, padding, dilation)
  np.testing.assert_allclose(v, rv, rtol=1e-5)
  assert dx.shape == x.shape and dk.shape == k.shape
  np.testing.assert_allclose(dx, rdx, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(dk, rdk, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_the_comparison_can_fail():
  """A kernel gradient off by one tap (the flip forgotten) is caught by the same tolerance."""
  x = jax.random.normal(jax.random.PRNGKey(0), (1, 7, 7, 2))
  k = jax.random.normal(jax.random.PRNGKey(2), (3, 3, 2, 3))
  _, (_, (_, rdk)) = _both(x, k, (1, 1), "SAME", (1, 1))
  with pytest.raises(AssertionError):
    np.testing.assert_allclose(jnp.flip(rdk, (0, 1)), rdk, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_mixed_precision_backward_accumulates_in_float32():
  """bf16 operands: the gradients are those of the float32 convolution to bf16's precision, and
  both backward convolutions / matmuls take bf16 operands with a float32 result."""
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 16, 16, 32))
  k = jax.random.normal(jax.random.PRNGKey(3), (3, 3, 32, 16)) * 0.1
  (_, (dx, dk)), (_, (rdx, rdk)) = _both(x, k, (1, 1), "SAME", (1, 1))
  xb, kb = x.astype(jnp.bfloat16), k.astype(jnp.bfloat16)
  (_, (bdx, bdk)), _ = _both(xb, kb, (1, 1), "SAME", (1, 1))
  assert bdx.dtype == jnp.bfloat16 and bdk.dtype == jnp.bfloat16
  for got, want in ((bdx, rdx), (bdk, rdk)):
    err = float(jnp.max(jnp.abs(got.astype(jnp.float32) - want)) / jnp.max(jnp.abs(want)))
    assert err < 2e-2, err
  g = jnp.ones((2, 16, 16, 16), jnp.float32)
  hlo = jax.jit(lambda x, k: jax.vjp(
      lambda x, k: layers.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=_DN),
      x, k)[1](g)).lower(xb, kb).as_text()
  ops = [l for l in hlo.splitlines() if "stablehlo.convolution" in l or "stablehlo.dot_general" in l]
  # the input gradient in the row-shift form (one matmul per kernel row), one matmul per tap for
  # the kernel gradient
  assert len(ops) == 3 + 9, ops
  for line in ops:
    operands, result = line.rsplit(" : ", 1)[1].split("->")
    assert operands.count("bf16") == 2 and "f32" in result, line


@pytest.mark.parametrize("shape,kernel,padding", [
    ((2, 9, 8, 5), (3, 3), ((1, 1), (1, 1))),
    ((1, 12, 11, 3), (7, 7), ((3, 3), (3, 3))),
    ((1, 10, 9, 4), (3, 5), ((0, 2), (1, 3))),     # non-square kernel, asymmetric padding
    ((2, 8, 8, 6), (3, 3), ((0, 0), (0, 0))),
])
@pytest.mark.slow
def test_rows_form_equals_xla_convolution(shape, kernel, padding, monkeypatch):
  """bf16 stride-1 k×k convolutions run as row-shift matmuls (``_conv_rows``); value and both
  gradients equal those of XLA's convolution on the same bf16 operands (``ROWS_LOW_PRECISION``
  off) to float32-accumulation precision, and the rows form really has no convolution op left."""
  kx, kk = jax.random.split(jax.random.PRNGKey(4))
  x = jax.random.normal(kx, shape).astype(jnp.bfloat16)
  k = (jax.random.normal(kk, (*kernel, shape[-1], 6)) * 0.2).astype(jnp.bfloat16)
  out_shape = jax.eval_shape(lambda: layers.conv_general_dilated(
      x, k, (1, 1), padding, dimension_numbers=_DN)).shape
  w = jax.random.normal(jax.random.PRNGKey(5), out_shape)
  loss = lambda x, k: jnp.sum(layers.conv_general_dilated(
      x, k, (1, 1), padding, dimension_numbers=_DN) * w)
  fn = lambda: jax.jit(jax.value_and_grad(loss, (0, 1)))
  got = fn()(x, k)
  hlo = fn().lower(x, k).as_text()
  assert "stablehlo.convolution" not in hlo
  monkeypatch.setattr(layers, "ROWS_LOW_PRECISION", False)
  want = fn()(x, k)
  assert "stablehlo.convolution" in fn().lower(x, k).as_text()
  (v, (dx, dk)), (rv, (rdx, rdk)) = got, want
  assert v.dtype == jnp.float32 and dx.dtype == jnp.bfloat16 and dk.dtype == jnp.bfloat16
  np.testing.assert_allclose(v, rv, rtol=1e-4)
  for a, b in ((dx, rdx), (dk, rdk)):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    np.testing.assert_allclose(a, b, rtol=1e-2, atol=1e-2 * np.abs(b).max())


@pytest.mark.slow
def test_other_convolutions_keep_lax():
  """Grouped convolutions and input dilation go to ``lax.conv_general_dilated`` unchanged."""
  x = jax.random.normal(jax.random.PRNGKey(0), (1, 8, 8, 4))
  k = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 2, 4))
  got = layers.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=_DN,
                                    feature_group_count=2)
  want = jax.lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=_DN,
                                      feature_group_count=2)
  np.testing.assert_array_equal(got, want)
  k1 = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 4, 4))
  got = layers.conv_general_dilated(x, k1, (1, 1), ((1, 1), (1, 1)), lhs_dilation=(2, 2),
                                    dimension_numbers=_DN)
  assert got.shape == (1, 15, 15, 4)


@pytest.mark.slow
def test_dense_and_conv1x1_backward_in_mixed_precision():
  """``Dense`` / ``Conv1x1`` in bf16: gradients equal float32's to bf16 precision, and every dot of
  the backward pass takes bf16 operands with a float32 result; in float32 they are plain dots."""
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 4, 24))
  for module in (layers.Dense(8), layers.Conv1x1(8)):
    params = module.init(jax.random.PRNGKey(1), x)
    low = module.clone(dtype=jnp.bfloat16, param_dtype=jnp.float32)
    grads = {}
    for name, m in (("f32", module), ("bf16", low)):
      loss = lambda p, x: jnp.sum(jnp.sin(m.apply(p, x)))
      grads[name] = jax.jit(jax.grad(loss, (0, 1)))(params, x)
      hlo = jax.jit(jax.grad(loss, (0, 1))).lower(params, x).as_text()
      dots = [l for l in hlo.splitlines() if "stablehlo.dot_general" in l]
      assert len(dots) == 3, dots  # forward, input gradient, kernel gradient
      for line in dots:
        operands, result = line.rsplit(" : ", 1)[1].split("->")
        want = "bf16" if name == "bf16" else "f32"
        assert operands.count(want) == 2 and "f32" in result, (type(module).__name__, line)
    for got, ref in zip(jax.tree.leaves(grads["bf16"]), jax.tree.leaves(grads["f32"])):
      assert got.dtype == ref.dtype
      err = float(jnp.max(jnp.abs(got - ref)) / jnp.max(jnp.abs(ref)))
      assert err < 3e-2, (type(module).__name__, err)
