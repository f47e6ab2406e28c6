"""HMLPE (Li, Liu & Chan 2014 §3.4, §5 Algorithm 1): shapes, heads, dropout, capacity, backtracking."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpose.models.hmlpe import HMLPE, backtrack, max_pool
from jaxpose.models.receptive_field import Layer

SIZE = 112  # the paper's crop (§3.4, Fig. 3)


def _count(tree):
  return sum(math.prod(x.shape) for x in jax.tree.leaves(tree))


def _variables(model, size=SIZE, seed=0):
  """Parameters of ``model``'s shapes drawn like PyTorch's init, U(±1/sqrt(fan_in)), in numpy
  (cheaper than compiling ``model.init``)."""
  abstract = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, size, size, 3))))
  rng = np.random.default_rng(seed)

  def draw(path, s):
    kernel = abstract["params"]
    for k in path[1:-1]:
      kernel = kernel[k.key]
    fan_in = math.prod(kernel["kernel"].shape[:-1])
    return jnp.asarray(rng.uniform(-1, 1, s.shape) / math.sqrt(fan_in), s.dtype)

  return jax.tree_util.tree_map_with_path(draw, abstract)


@pytest.fixture(scope="module")
def paper():
  model = HMLPE()
  return model, _variables(model)


def _images(n=2, seed=0, size=SIZE):
  return jnp.asarray(np.random.default_rng(seed).standard_normal((n, size, size, 3)), jnp.float32)


# ---- outputs ----

def test_output_dict(paper):
  model, variables = paper
  out = model.apply(variables, _images(), train=False)
  assert set(out) == {"coords", "part_logits"}
  assert isinstance(out["coords"], tuple) and len(out["coords"]) == 1
  coords = out["coords"][-1]
  assert coords.shape == (2, 8, 2) and coords.dtype == jnp.float32
  assert bool(jnp.all((coords >= 0) & (coords <= 1)))
  assert out["part_logits"].shape == (2, 7, 64) and out["part_logits"].dtype == jnp.float32
  assert variables.keys() == {"params"}  # no BatchNorm, so no batch_stats


def test_single_task_networks():
  x = jnp.zeros((1, SIZE, SIZE, 3))
  reg = HMLPE(heads=("coords",))
  v = jax.eval_shape(lambda: reg.init(jax.random.key(0), x))
  assert not any(k.startswith("det_") for k in v["params"])
  assert set(jax.eval_shape(lambda v: reg.apply(v, x), v)) == {"coords"}
  det = HMLPE(heads=("parts",))
  v = jax.eval_shape(lambda: det.init(jax.random.key(0), x))
  assert not any(k.startswith("reg_") for k in v["params"])
  assert set(jax.eval_shape(lambda v: det.apply(v, x), v)) == {"part_logits"}
  with pytest.raises(ValueError, match="heads"):
    HMLPE(heads=("heatmaps",)).init(jax.random.key(0), x)
  with pytest.raises(ValueError, match="one entry per shared conv"):
    HMLPE(kernel_sizes=(5, 3)).init(jax.random.key(0), x)


def test_accepts_bn_axis_name(paper):
  _, variables = paper
  out = jax.eval_shape(lambda v: HMLPE(bn_axis_name="batch").apply(v, _images(1), train=True,
                                                                    rngs={"dropout": jax.random.key(0)}),
                       variables)
  assert out["part_logits"].shape == (1, 7, 64)


# ---- capacity, derived from the layer list independently of the module code ----

def _expected_params(features=(32, 16, 16), kernels=(5, 3, 3), size=SIZE, hidden=(1024, 1024),
                     joints=8, parts=7, windows=64):
  dense = lambda cin, cout: cin * cout + cout
  n, cin, side = 0, 3, size
  for f, k in zip(features, kernels):
    n += k * k * cin * f + f
    side = (side - k + 1) // 2  # valid conv, 2×2/2 pool
    cin = f
  flat = side * side * cin
  head = lambda out: dense(flat, hidden[0]) + dense(hidden[0], hidden[1]) + dense(hidden[1], out)
  return n, head(2 * joints), head(parts * windows)


def test_parameter_count_at_paper_size(paper):
  _, variables = paper
  shared, reg, det = _expected_params()
  print(f"HMLPE paper size: {_count(variables):,} parameters (shared {shared:,}, regression {reg:,},"
        f" detection {det:,})")
  assert (shared, reg, det) == (9_376, 3_426_320, 3_869_120)
  assert _count(variables) == shared + reg + det == 7_304_816
  p = variables["params"]
  assert _count([p[k] for k in p if k.startswith("conv")]) == shared
  assert _count([p[k] for k in p if k.startswith("reg_")]) == reg
  assert _count([p[k] for k in p if k.startswith("det_")]) == det


# ---- one independent classifier per (part, window), §3.2 ----

@pytest.mark.slow
def test_detection_outputs_are_independent_per_part_and_window():
  model = HMLPE(heads=("parts",), detection_hidden=(16, 8))
  x = _images(1, seed=1)
  variables = _variables(model)
  last = variables["params"]["det_fc3"]
  P, L = 7, 64

  def logits(w):
    params = {**variables["params"], "det_fc3": w}
    return model.apply({"params": params}, x)["part_logits"][0]  # (P, L)

  jac = jax.jacrev(logits)(last)
  # d logit[p, l] / d bias[j] is 1 where j = p·L + l and 0 elsewhere: one output per column.
  np.testing.assert_array_equal(np.asarray(jac["bias"]).reshape(P * L, P * L), np.eye(P * L))
  # the same for the kernel: logit (p, l) depends on column p·L + l only, and on all its rows
  # whose input unit is active
  k = np.abs(np.asarray(jac["kernel"])).reshape(P * L, 8, P * L).sum(axis=1)
  assert np.count_nonzero(k - np.diag(np.diag(k))) == 0
  assert np.all(np.diag(k) > 0)


# ---- dropout on the first fully connected layers, §3.5 ----

def test_dropout_in_training_only(paper):
  model, variables = paper
  x = _images(2, seed=2)
  run = lambda train, seed: model.apply(variables, x, train=train, rngs={"dropout": jax.random.key(seed)})
  a, b, a2 = run(True, 1), run(True, 2), run(True, 1)
  for key in ("part_logits",):
    assert not np.allclose(a[key], b[key])
    np.testing.assert_array_equal(a[key], a2[key])
  assert not np.allclose(a["coords"][0], b["coords"][0])
  e1, e2, e3 = run(False, 1), run(False, 2), model.apply(variables, x, train=False)
  for e in (e2, e3):
    np.testing.assert_array_equal(e1["part_logits"], e["part_logits"])
    np.testing.assert_array_equal(e1["coords"][0], e["coords"][0])
  # with rate 0 training is the test-time function (flax dropout is inverted: no test-time scaling)
  nodrop = HMLPE(dropout_rate=0.0).apply(variables, x, train=True, rngs={"dropout": jax.random.key(1)})
  np.testing.assert_allclose(nodrop["part_logits"], e1["part_logits"], rtol=1e-5, atol=1e-5)


# ---- the shared stack's geometry and Algorithm 1 ----

def _algorithm1(layers, row, col):
  """Li et al. 2014 Algorithm 1 as printed: inclusive box, walked back layer by layer (no padding)."""
  ly, lx, uy, ux = row, col, row, col
  for layer in reversed(layers):
    assert layer.padding == 0
    ly, lx = ly * layer.stride, lx * layer.stride
    uy, ux = uy * layer.stride + layer.kernel - 1, ux * layer.stride + layer.kernel - 1
  return ly, lx, uy + 1, ux + 1  # exclusive end, as backtrack returns


def test_layers_follow_the_fields():
  model = HMLPE(kernel_sizes=(7, 5, 3), conv_strides=(2, 1, 1), pool_sizes=(2, 3, 1))
  assert model.layers() == [Layer("conv1", 7, 2), Layer("pool1", 2, 2), Layer("conv2", 5, 1),
                            Layer("pool2", 3, 3), Layer("conv3", 3, 1), Layer("pool3", 1, 1)]
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 96, 96, 3))))
  side = 96
  for layer in model.layers():
    side = (side - layer.kernel) // layer.stride + 1
    shape = jax.eval_shape(lambda v: model.feature_maps(v, jnp.zeros((1, 96, 96, 3)), layer.name),
                           variables)
    assert shape.shape[1:3] == (side, side), layer


def test_backtrack_hand_worked_and_algorithm1(paper):
  model, _ = paper
  assert [l.name for l in model.layers()] == ["conv1", "pool1", "conv2", "pool2", "conv3", "pool3"]
  # conv3 units see 20×20 pixels, 4 apart; pool3 units 24×24, 8 apart (module docstring)
  assert backtrack(model, "conv3", 0, 0) == (0, 0, 20, 20)
  assert backtrack(model, "conv3", 1, 2) == (4, 8, 24, 28)
  assert backtrack(model, 4, 23, 23) == (92, 92, 112, 112)  # the last conv3 unit ends at the border
  assert backtrack(model, "pool3", 11, 0) == (88, 0, 112, 24)
  layers = model.layers()
  for i in range(len(layers)):
    for row, col in ((0, 0), (3, 7), (9, 2)):
      assert backtrack(model, i, row, col) == _algorithm1(layers[:i + 1], row, col)
  with pytest.raises(ValueError):
    backtrack(model, "fc1", 0, 0)


def _support(model, variables, images, layer, row, col, channel):
  grad = jax.grad(lambda x: model.feature_maps(variables, x, layer)[0, row, col, channel])(images)
  ys, xs = np.nonzero(np.abs(np.asarray(grad[0])).sum(-1))
  return ys, xs


@pytest.mark.parametrize("layer,row,col", [("conv2", 0, 0), ("conv2", 10, 37), ("conv3", 5, 17),
                                           ("conv3", 23, 0), ("pool3", 11, 11), ("pool3", 4, 6)])
@pytest.mark.slow
def test_backtrack_is_the_gradient_support(paper, layer, row, col):
  """The box of Algorithm 1 is exactly the set of input pixels that can change the activation.

  Positive weights and biases on a constant positive input: no ReLU is off, and every map of the
  unpadded stack is spatially constant, so each max-pooling window is a tie and ``jnp.max``'s
  gradient shares itself over all of it. Every path from the activation to the input is then live,
  and the support of d activation / d input is the whole box, and nothing outside it."""
  model, variables = paper
  positive = jax.tree.map(lambda w: jnp.abs(w) + 1e-3, variables)
  images = jnp.full((1, SIZE, SIZE, 3), 0.5, jnp.float32)
  y0, x0, y1, x1 = backtrack(model, layer, row, col)
  ys, xs = _support(model, positive, images, layer, row, col, channel=3)
  assert (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1) == (y0, x0, y1, x1)
  assert ys.size == (y1 - y0) * (x1 - x0)  # every pixel of the box
  # with the trained-like signed weights and a signed input, the support still stays inside
  ys, xs = _support(model, variables, _images(1, seed=4), layer, row, col, channel=0)
  assert ys.size == 0 or (ys.min() >= y0 and xs.min() >= x0 and ys.max() < y1 and xs.max() < x1)


# ---- visualisation helpers, §5 ----

def test_feature_maps(paper):
  model, variables = paper
  x = _images(2, seed=5)
  for layer, side in ((2, 52), (3, 24), ("conv1", 108), ("pool3", 12)):
    maps = model.feature_maps(variables, x, layer)
    assert maps.shape == (2, side, side, 32 if layer == "conv1" else 16)
  assert bool(jnp.all(model.feature_maps(variables, x, 3) >= 0))  # after the ReLU
  pooled = model.feature_maps(variables, x, "pool2")
  np.testing.assert_array_equal(pooled, max_pool(model.feature_maps(variables, x, 2), 2))
  with pytest.raises(ValueError, match="no shared layer"):
    model.feature_maps(variables, x, 4)


def test_first_layer_filters(paper):
  model, variables = paper
  filters = model.first_layer_filters(variables)
  assert filters.shape == (32, 5, 5, 3) and filters.dtype == np.float32
  np.testing.assert_allclose(filters.min(axis=(1, 2, 3)), 0.0)
  np.testing.assert_allclose(filters.max(axis=(1, 2, 3)), 1.0)
  kernel = np.asarray(variables["params"]["conv1"]["kernel"])[..., 7]
  np.testing.assert_allclose(filters[7], (kernel - kernel.min()) / (kernel.max() - kernel.min()),
                             rtol=1e-6)


def test_max_pool_matches_flax():
  import flax.linen as nn
  x = _images(1, seed=6, size=13)
  for size in (1, 2, 3):
    np.testing.assert_array_equal(max_pool(x, size),
                                  nn.max_pool(x, (size, size), strides=(size, size), padding="VALID"))
