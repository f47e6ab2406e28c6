"""Receptive-field arithmetic (jaxpose.models.receptive_field): hand-worked stacks and the support of a
real flax model's input gradient."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpose.models.receptive_field import Geometry, Layer, geometry, input_box

# conv 5×5/1 pad 2, pool 2/2, conv 3×3/1 pad 1, pool 2/2
STACK = [Layer("conv1", 5, 1, 2), Layer("pool1", 2, 2), Layer("conv2", 3, 1, 1), Layer("pool2", 2, 2)]


def test_hand_computed_stack():
  # conv1: size 1+4 = 5, jump 1, start 0 + (2-2)·1 = 0
  # pool1: size 5+1 = 6, jump 2, start 0 + (0.5-0)·1 = 0.5
  # conv2: size 6+2·2 = 10, jump 2, start 0.5 + (1-1)·2 = 0.5
  # pool2: size 10+1·2 = 12, jump 4, start 0.5 + 0.5·2 = 1.5
  assert geometry(STACK) == [Geometry(5, 1, 0.0), Geometry(6, 2, 0.5), Geometry(10, 2, 0.5),
                             Geometry(12, 4, 1.5)]
  # output (0, 0): pool2 reads conv2 0..1, which (pad 1) read pool1 -1..2, which read input conv1
  # -2..5, which (pad 2) read input pixels -4..7 → [-4, 8).
  assert input_box(STACK, 0, 0) == (-4.0, -4.0, 8.0, 8.0)
  # one step down and two right moves by one and two jumps
  assert input_box(STACK, 1, 2) == (0.0, 4.0, 12.0, 16.0)


def test_identity_and_valid_layers():
  assert geometry([Layer("fc", 1)]) == [Geometry(1, 1, 0.0)]
  assert input_box([Layer("fc", 1)], 3, 4) == (3.0, 4.0, 4.0, 5.0)
  # a VALID 3×3 shifts the centre of output 0 to input pixel 1
  assert geometry([Layer("c", 3)]) == [Geometry(3, 1, 1.0)]
  assert input_box([Layer("c", 3)], 0, 0) == (0.0, 0.0, 3.0, 3.0)


def test_bad_layer_and_empty_stack():
  with pytest.raises(ValueError, match="kernel"):
    Layer("bad", 0)
  with pytest.raises(ValueError, match="at least one"):
    input_box([], 0, 0)


class _Stack(nn.Module):
  """A small conv/pool stack built from a Layer list; all-positive weights and average pooling, so
  every input pixel inside a receptive field has a strictly positive effect (max-pooling would route
  the gradient to one pixel per window)."""
  layers: tuple

  @nn.compact
  def __call__(self, x):
    for layer in self.layers:
      pad = ((layer.padding, layer.padding),) * 2
      if layer.name.startswith("pool"):
        x = nn.avg_pool(x, (layer.kernel,) * 2, (layer.stride,) * 2, padding=pad)
      else:
        x = nn.Conv(2, (layer.kernel,) * 2, (layer.stride,) * 2, padding=pad,
                    kernel_init=nn.initializers.uniform(1.0), name=layer.name)(x)
    return x[..., 0]


@pytest.mark.parametrize("layers", [
    STACK,
    [Layer("conv1", 3, 2, 1), Layer("conv2", 3, 1, 1), Layer("pool1", 2, 2), Layer("conv3", 5, 1, 2)],
])
@pytest.mark.slow
def test_gradient_support_equals_box(layers):
  size = 16
  model = _Stack(tuple(layers))
  x = jnp.zeros((1, size, size, 1))
  params = model.init(jax.random.key(0), x)
  f = lambda x: model.apply(params, x)[0]
  out = f(x)
  jac = np.asarray(jax.jacrev(f)(x))[..., 0]  # (h, w, 1, H, W)
  jac = jac[:, :, 0]
  h, w = out.shape
  for r in range(h):
    for c in range(w):
      y0, x0, y1, x1 = input_box(layers, r, c)
      expect = np.zeros((size, size), bool)
      expect[max(int(y0), 0):min(int(y1), size), max(int(x0), 0):min(int(x1), size)] = True
      np.testing.assert_array_equal(jac[r, c] > 0, expect, err_msg=f"output ({r}, {c})")
  # the transposed view: a single active pixel changes exactly the outputs whose box holds it
  py, px = 5, 9
  one = x.at[0, py, px, 0].set(1.0)
  changed = np.asarray(f(one) != f(x))
  boxes = np.array([[input_box(layers, r, c) for c in range(w)] for r in range(h)])
  holds = ((boxes[..., 0] <= py) & (py < boxes[..., 2]) & (boxes[..., 1] <= px) & (px < boxes[..., 3]))
  np.testing.assert_array_equal(changed, holds)
