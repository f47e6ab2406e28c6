"""Convolutional Pose Machines (jaxpose.models.cpm; Wei et al. 2016, the released VGG-based model)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpose.models.cpm import CENTER_SIGMA, CPM, background_target, center_map
from jaxpose.models.receptive_field import Geometry, geometry, input_box
from param_counts import conv as _conv


def _count(tree):
  return sum(math.prod(x.shape) for x in jax.tree.leaves(tree))


def _abstract_variables(model, size):
  return jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, size, size, 3))))


# ---- parameter count, from the release's layer list (pose_deploy_resize.prototxt), not the module ----

def _expected_params(num_joints=14, num_stages=6, w=64):
  vgg = [(3, w), (w, w), (w, 2 * w), (2 * w, 2 * w), (2 * w, 4 * w), (4 * w, 4 * w), (4 * w, 4 * w),
         (4 * w, 4 * w), (4 * w, 8 * w), (8 * w, 8 * w)]                     # conv1_1 … conv4_2
  # conv4_3_CPM … conv4_7_CPM
  cpm = [(8 * w, 4 * w), (4 * w, 4 * w), (4 * w, 4 * w), (4 * w, 4 * w), (4 * w, 2 * w)]
  trunk = sum(_conv(a, b, 3) for a, b in vgg + cpm)
  k = num_joints + 1  # joints + background
  stage1 = _conv(2 * w, 8 * w) + _conv(8 * w, k)  # conv5_1_CPM, conv5_2_CPM
  cin = k + 2 * w + 1  # beliefs, features x′, centre map
  later = _conv(cin, 2 * w, 7) + 4 * _conv(2 * w, 2 * w, 7) + _conv(2 * w, 2 * w) + _conv(2 * w, k)
  return trunk + stage1 + (num_stages - 1) * later


def test_paper_scale_parameter_count():
  model = CPM(num_joints=14)  # the release: 14 joints + background, 6 stages, 368×368
  variables = _abstract_variables(model, 368)
  n = _count(variables["params"])
  print(f"CPM paper scale (LSP/MPII 14 joints, 6 stages): {n:,} parameters")
  assert list(variables) == ["params"]  # no BatchNorm → no batch_stats
  assert n == _expected_params(14) == 29_852_058


@pytest.mark.parametrize("kw", [dict(num_joints=16), dict(num_joints=16, width=16, num_pools=2),
                                dict(num_joints=5, num_stages=3, width=8, num_pools=0)])
def test_parameter_count_variants(kw):
  model = CPM(**kw)
  size = 64
  assert _count(_abstract_variables(model, size)["params"]) == _expected_params(
      model.num_joints, model.num_stages, model.width)


def test_layer_list_is_the_built_network():
  """``layers()`` / the op lists name exactly the parameterised layers, with their kernel sizes."""
  model = CPM(num_joints=14)
  params = _abstract_variables(model, 368)["params"]
  ops = model.trunk_ops() + [op for t in range(1, 7) for op in model.stage_ops(t)]
  convs = [op for op in ops if op.kind == "conv"]
  assert {op.name for op in convs} == set(params)
  for op in convs:
    kernel = params[op.name]["kernel"].shape
    if op.kernel == 1:
      assert kernel[1:] == (op.features,), op.name  # nn.Dense (C_in, features)
    else:
      assert kernel[:2] == (op.kernel, op.kernel) and kernel[-1] == op.features, op.name
  assert sum(op.kind == "pool" for op in ops) == 3
  # the last stage's path: trunk, stage 1, then each further stage through its beliefs
  assert [l.name for l in model.layers()] == [op.name for op in ops]
  assert [l.name for l in model.layers(2)][-7:] == [f"Mconv{i}_stage2" for i in range(1, 8)]


# ---- shapes ----

@pytest.mark.parametrize("kw,size,out", [
    (dict(num_joints=14), 368, 46),                          # the release: input/8
    (dict(num_joints=16, width=16, num_pools=2), 128, 32),   # CPU variant: input/4
    (dict(num_joints=3, num_stages=2, width=4, num_pools=1), 32, 16),
])
def test_stage_count_and_shapes(kw, size, out):
  model = CPM(**kw)
  variables = _abstract_variables(model, size)
  y = jax.eval_shape(lambda v: model.apply(v, jnp.zeros((2, size, size, 3))), variables)
  assert set(y) == {"heatmaps", "background"}
  assert len(y["heatmaps"]) == len(y["background"]) == model.num_stages
  for h, b in zip(y["heatmaps"], y["background"]):
    assert h.shape == (2, out, out, model.num_joints) and h.dtype == jnp.float32
    assert b.shape == (2, out, out, 1) and b.dtype == jnp.float32


def test_bfloat16_outputs_float32():
  model = CPM(num_joints=3, num_stages=2, width=4, num_pools=2, dtype=jnp.bfloat16)
  variables = _abstract_variables(model, 32)
  y = jax.eval_shape(lambda v: model.apply(v, jnp.zeros((1, 32, 32, 3))), variables)
  assert all(h.dtype == jnp.float32 for h in y["heatmaps"] + y["background"])


def test_input_size_must_divide():
  model = CPM(num_joints=3, num_stages=2, width=4, num_pools=3)
  with pytest.raises(ValueError, match=r"num_pools.*\(1, 36, 36, 3\)"):
    jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 36, 36, 3))))
  jax.eval_shape(lambda: CPM(num_joints=3, num_stages=2, width=4, num_pools=2).init(
      jax.random.key(0), jnp.zeros((1, 36, 36, 3))))  # 36 = 4·9 divides by 2^2


@pytest.mark.parametrize("kw,field", [(dict(num_pools=4), "num_pools"), (dict(num_stages=0), "num_stages"),
                                      (dict(width=0), "width")])
def test_bad_fields(kw, field):
  with pytest.raises(ValueError, match=field):
    CPM(**kw).layers()


# ---- centre map ----

def test_center_map_peaks_at_crop_centre():
  # the release's geometry: 368 px, σ = 21 px, belief grid 46 (stride 8)
  m = center_map(368, 368, 8, CENTER_SIGMA * 368)
  assert m.shape == (46, 46) and m.dtype == np.float32
  peak = np.argwhere(m == m.max())
  np.testing.assert_array_equal(peak, [[22, 22], [22, 23], [23, 22], [23, 23]])  # around (45/2, 45/2)
  np.testing.assert_allclose(m, m[::-1], atol=0)  # symmetric about the centre
  np.testing.assert_allclose(m, m.T, atol=0)
  # value at the centre cells: distance 4 px each way from the crop centre 183.5
  np.testing.assert_allclose(m.max(), np.exp(-(4 ** 2 + 4 ** 2) / (2 * 21.0 ** 2)), rtol=1e-6)
  # an odd grid puts a pixel centre on the crop centre: peak exactly 1 there; σ in input pixels
  m = center_map(36, 36, 4, 3.0)
  assert m.shape == (9, 9) and m[4, 4] == 1.0 and np.argmax(m) == 4 * 9 + 4
  np.testing.assert_allclose(m[4, 5], np.exp(-16 / 18), rtol=1e-6)  # one cell = 4 input px
  # non-square: centred on each axis
  m = center_map(64, 32, 4, 5.0)
  assert m.shape == (16, 8)
  np.testing.assert_allclose(m, m[::-1, ::-1], atol=0)


# ---- receptive field ----

def test_receptive_field_paper_scale():
  model = CPM(num_joints=14)
  sizes = [geometry(model.layers(t))[-1] for t in range(1, 7)]
  # trunk 164 px (15 3×3 convs, three 2×2 poolings, jump 8); each later stage adds 5·(7−1)·8 = 240
  assert sizes == [Geometry(164 + 240 * t, 8, 3.5) for t in range(6)]
  # stage 1 sees less than the 368 crop; from stage 2 on the centre position sees all of it
  y0, x0, y1, x1 = input_box(model.layers(1), 23, 23)
  assert y1 - y0 == 164 < 368
  for t in range(2, 7):
    y0, x0, y1, x1 = input_box(model.layers(t), 23, 23)
    assert y0 <= 0 and x0 <= 0 and y1 >= 368 and x1 >= 368


def test_receptive_field_cpu_variant():
  model = CPM(num_joints=16, width=16, num_pools=2)
  sizes = [geometry(model.layers(t))[-1] for t in range(1, 7)]
  # two poolings: trunk 104 px at jump 4; each later stage adds 5·6·4 = 120
  assert sizes == [Geometry(104 + 120 * t, 4, 1.5) for t in range(6)]
  for t in range(2, 7):
    y0, x0, y1, x1 = input_box(model.layers(t), 16, 16)
    assert y0 <= 0 and x0 <= 0 and y1 >= 128 and x1 >= 128


def _numpy_params(model, size, seed=0):
  """Parameters filled from numpy (He-scaled normal), skipping the initialisers' compile time."""
  rng = np.random.default_rng(seed)
  abstract = _abstract_variables(model, size)["params"]

  def fill(s):
    fan_in = math.prod(s.shape[:-1]) if len(s.shape) > 1 else 1
    return jnp.asarray(rng.standard_normal(s.shape) * math.sqrt(2.0 / fan_in), s.dtype)

  return jax.tree.map(fill, abstract)


@pytest.mark.slow
def test_stage1_gradient_stays_inside_the_computed_box():
  """The real network's input gradient of one stage-1 output lies inside ``input_box`` (max-pooling
  and ReLU make it a subset) and spans more than half of the box's side."""
  model = CPM(num_joints=2, num_stages=1, width=2, num_pools=1)
  size = 80
  params = _numpy_params(model, size)
  x = jax.random.normal(jax.random.key(1), (1, size, size, 3))
  r, c = 20, 20
  g = jax.jit(jax.grad(lambda x: model.apply({"params": params}, x)["heatmaps"][0][0, r, c].sum()))(x)
  support = np.argwhere(np.abs(np.asarray(g[0])).sum(-1) > 0)
  y0, x0, y1, x1 = input_box(model.layers(1), r, c)
  # one pooling: trunk 58 px, jump 2, start 0.5 → centre 40.5, box [12, 70)
  assert (y0, x0, y1, x1) == (12.0, 12.0, 70.0, 70.0)
  assert support.size
  assert support[:, 0].min() >= y0 and support[:, 0].max() < y1
  assert support[:, 1].min() >= x0 and support[:, 1].max() < x1
  assert support[:, 0].max() - support[:, 0].min() > (y1 - y0) / 2


# ---- executed on one tiny model, initialised once (each compile costs seconds on this CPU) ----

TINY = dict(num_joints=3, num_stages=3, width=4, num_pools=2)


@pytest.fixture(scope="module")
def tiny():
  model = CPM(**TINY)
  x = jax.random.normal(jax.random.key(1), (2, 32, 32, 3))
  # the module's own initialisers; the "rbg" PRNG compiles about 5× faster than threefry on XLA CPU
  variables = jax.jit(model.init)(jax.random.key(0, impl="rbg"), x)
  return model, variables, x


@pytest.mark.slow
def test_forward_train_and_eval(tiny):
  model, variables, x = tiny
  assert list(variables) == ["params"]
  apply = jax.jit(lambda v, x: (model.apply(v, x, train=False), model.apply(v, x, train=True)))
  y_eval, y_train = apply(variables, x)  # train=True: no BatchNorm / dropout, nothing mutable
  for key in ("heatmaps", "background"):
    assert len(y_eval[key]) == 3
    for a, b in zip(y_eval[key], y_train[key]):
      assert np.all(np.isfinite(a))
      np.testing.assert_array_equal(a, b)
  # He-initialised ReLU layers keep the features alive; the N(0, 0.01²) belief layers keep the
  # beliefs small
  for t in range(3):
    beliefs = np.asarray(y_eval["heatmaps"][t])
    assert np.std(beliefs) > 0 and np.abs(beliefs).mean() < 1
  p = variables["params"]
  assert float(jnp.abs(p["conv5_2_CPM"]["bias"]).max()) == 0.0
  np.testing.assert_allclose(float(jnp.std(p["Mconv2_stage2"]["kernel"])),
                             math.sqrt(2.0 / (49 * 8)), rtol=0.1)
  np.testing.assert_allclose(float(jnp.std(p["Mconv7_stage3"]["kernel"])), 0.01, rtol=0.3)


@pytest.mark.slow
def test_model_uses_the_centre_map(tiny):
  model, variables, x = tiny
  a = jax.jit(model.apply)(variables, x)
  b = jax.jit(CPM(**TINY, center_sigma=0.5).apply)(variables, x)
  np.testing.assert_array_equal(a["heatmaps"][0], b["heatmaps"][0])  # stage 1 has no centre input
  assert not np.allclose(a["heatmaps"][1], b["heatmaps"][1])


@pytest.mark.slow
def test_stage_t_depends_on_stage_t_minus_1_beliefs(tiny):
  """Stage t's output has a gradient w.r.t. the belief layer of stage t − 1 (whose only other use
  is stage t − 1's own output), and no stage depends on a later one."""
  model, variables, x = tiny
  belief_layer = {1: "conv5_2_CPM", 2: "Mconv7_stage2"}
  w = jax.random.normal(jax.random.key(2), (2, 8, 8, 4))

  def stage_out(p, t):
    y = model.apply({"params": p}, x)
    return jnp.sum(jnp.concatenate([y["heatmaps"][t - 1], y["background"][t - 1]], -1) * w)

  grads = jax.jit(lambda p: {t: jax.grad(stage_out)(p, t) for t in (2, 3)})(variables["params"])
  for t, g in grads.items():
    prev = belief_layer[t - 1]
    assert float(jnp.abs(g[prev]["kernel"]).sum()) > 0, f"stage {t} ignores {prev}"
    for name in [op.name for s in range(t + 1, 4) for op in model.stage_ops(s)]:
      assert all(float(jnp.abs(v).sum()) == 0 for v in jax.tree.leaves(g[name])), name


def test_accepts_bn_axis_name():
  model = CPM(num_joints=3, num_stages=2, width=4, num_pools=2, bn_axis_name="batch")
  x = jnp.zeros((1, 32, 32, 3))
  y = jax.eval_shape(lambda: model.init_with_output(jax.random.key(0), x, train=True))
  assert len(y[0]["heatmaps"]) == 2


@pytest.mark.slow
def test_batch_norm_variant():
  """``batch_norm=True``: a BatchNorm before every ReLU (those layers lose their bias), none on
  the linear belief layers; batch statistics in training, running averages at test."""
  model = CPM(**TINY, batch_norm=True)
  x = jax.random.normal(jax.random.key(1), (2, 32, 32, 3))
  variables = jax.jit(model.init)(jax.random.key(0, impl="rbg"), x)
  p, stats = variables["params"], variables["batch_stats"]
  relu_layers = [op.name for op in model.trunk_ops() if op.kind == "conv"]
  for t in range(1, 4):
    relu_layers += [op.name for op in model.stage_ops(t) if op.relu]
  assert sorted(stats) == sorted(f"{n}_bn" for n in relu_layers)
  assert all(set(p[n]) == {"kernel"} for n in relu_layers)
  assert set(p["conv5_2_CPM"]) == {"kernel", "bias"} and "Mconv7_stage3_bn" not in stats
  # each normalised layer trades its bias (C) for a BatchNorm scale and offset (2C)
  plain = _count(jax.eval_shape(CPM(**TINY).init, jax.random.key(0), x)["params"])
  assert _count(p) == plain + sum(p[n]["kernel"].shape[-1] for n in relu_layers)

  @jax.jit
  def run(v, x):
    y_train, upd = model.apply(v, x, train=True, mutable=["batch_stats"])
    return y_train, upd, model.apply(v, x, train=False)

  y_train, upd, y_eval = run(variables, x)
  assert not np.allclose(y_train["heatmaps"][-1], y_eval["heatmaps"][-1])
  moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), upd["batch_stats"], stats)
  assert max(jax.tree.leaves(moved)) > 0


# ---- background target ----

def test_background_target():
  h = np.zeros((2, 5, 5, 3), np.float32)
  h[0, 1, 1, 0] = 1.0
  h[0, 1, 1, 1] = 0.5   # max, not sum, over joints
  h[0, 2, 3, 2] = 0.25
  h[1, 4, 4, 0] = 1.2   # above 1: clipped at 0
  bg = np.asarray(background_target(h))
  assert bg.shape == (2, 5, 5, 1)
  expect = np.ones((2, 5, 5, 1), np.float32)
  expect[0, 1, 1, 0] = 0.0
  expect[0, 2, 3, 0] = 0.75
  expect[1, 4, 4, 0] = 0.0
  np.testing.assert_allclose(bg, expect)
  # with Gaussian joint maps: 1 − the upper envelope, in [0, 1]
  yy, xx = np.mgrid[0:16, 0:16]
  g = np.stack([np.exp(-((xx - 4) ** 2 + (yy - 5) ** 2) / 8.0),
                np.exp(-((xx - 10) ** 2 + (yy - 9) ** 2) / 8.0)], -1)[None].astype(np.float32)
  bg = np.asarray(background_target(g))[0, ..., 0]
  np.testing.assert_allclose(bg, 1 - g[0].max(-1), rtol=1e-6)
  assert bg[5, 4] == 0.0 and bg[9, 10] == 0.0 and bg.min() >= 0 and bg.max() <= 1
