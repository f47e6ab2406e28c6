"""Coordinate regressors with a visibility head (Chen, Huang & Tseng, UCSD, §2.2 and §3.3)."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxpose import config_check
from jaxpose.models.regressors import (REGRESSION_PREFIX, AlexNet, Baseline1, Baseline2, VGG19,
                                       local_response_norm, max_pool)
from jaxpose.training import optim


def _count(tree):
  return sum(math.prod(x.shape) for x in jax.tree.leaves(tree))


def _abstract(model, size, batch=1):
  return jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((batch, size, size, 3)), train=False))


def _concrete(abstract, seed=0):
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda s: jnp.asarray(0.1 * rng.standard_normal(s.shape), s.dtype), abstract)


# ---- parameter counts, derived from layer lists independently of the module code ----

from param_counts import bn as _bn, conv as _conv  # noqa: E402


def _dense(cin, cout):
  return cin * cout + cout


def _heads(flat, fc, k=14, reg_layers=3, reg_width=None):
  """Classification: fc[0], fc[1], …, K; regression from fc[0]: (reg_layers − 1) hidden, then 2K."""
  widths = [flat, *fc]
  cls = sum(_dense(a, b) for a, b in zip(widths, widths[1:])) + _dense(fc[-1], k)
  w = reg_width or fc[0]
  reg_widths = [fc[0]] + [w] * (reg_layers - 1)
  reg = sum(_dense(a, b) for a, b in zip(reg_widths, reg_widths[1:])) + _dense(reg_widths[-1], 2 * k)
  return cls, reg


VGG19_CONVS = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256)] + [(256, 256)] * 3 + \
    [(256, 512)] + [(512, 512)] * 7
ALEXNET_CONVS = [(3, 96, 11), (96, 256, 5), (256, 384, 3), (384, 384, 3), (384, 256, 3)]

# Spatial sizes by hand: Baseline "same" 5×5/2 conv halves (ceil), 2×2/2 pool halves (floor):
# 224 → 112 → 56 → 28 → 14 (Baseline-1) → 7 → 3 (Baseline-2). AlexNet 227: 11×11/4 → 55, pool 27,
# conv2 27, pool 13, conv3 13, conv4 13, extra pool 6, conv5 6, pool 2. VGG-19 224 / 2^5 = 7.
EXPECTED = {
    "baseline1": (Baseline1, 224, _conv(3, 32, 5) + _conv(32, 64, 5), 14 * 14 * 64, (1024, 1024)),
    "baseline2": (Baseline2, 224, _conv(3, 32, 5) + _conv(32, 64, 5) + _conv(64, 128, 5), 3 * 3 * 128,
                  (1024, 1024)),
    "alexnet": (AlexNet, 227, sum(_conv(a, b, k) for a, b, k in ALEXNET_CONVS), 2 * 2 * 256, (4096, 4096)),
    "vgg19": (VGG19, 224, sum(_conv(a, b, 3) for a, b in VGG19_CONVS), 7 * 7 * 512, (4096, 4096)),
}
PINNED = {"baseline1": 16_091_626, "baseline2": 4_631_146, "alexnet": 58_461_610, "vgg19": 173_304_938}
PINNED_PHASE1 = {"baseline1": 13_963_726, "baseline2": 2_503_246, "alexnet": 24_784_270,
                 "vgg19": 139_627_598}


def test_reference_counts_of_the_originals():
  """The stacks reproduce the published ImageNet networks: VGG-19 (torchvision vgg19 / vgg19_bn:
  143,667,240 / 143,678,248) and one-tower AlexNet at 227 px without the extra pool (62,378,344)."""
  assert _count(_abstract(VGG19(num_joints=1000, regression=False), 224)["params"]) == 143_667_240
  assert _count(_abstract(VGG19(num_joints=1000, regression=False, batch_norm=True), 224)["params"]) \
      == 143_678_248
  assert _count(_abstract(AlexNet(num_joints=1000, regression=False, extra_pool=False), 227)["params"]) \
      == 62_378_344


@pytest.mark.parametrize("arch", list(EXPECTED))
def test_paper_scale_parameter_counts(arch):
  cls, size, convs, flat, fc = EXPECTED[arch]
  cls_head, reg_head = _heads(flat, fc)
  phase2 = _count(_abstract(cls(), size)["params"])
  phase1 = _count(_abstract(cls(regression=False), size)["params"])
  print(f"{cls.__name__} at {size} px: {phase2:,} parameters ({phase1:,} without the regression branch)")
  assert phase1 == convs + cls_head == PINNED_PHASE1[arch]
  assert phase2 == convs + cls_head + reg_head == PINNED[arch]


def test_parameter_count_variants():
  """Two-layer regression branch (§3.3's reading), its own width, and BatchNorm on the Baseline."""
  model = Baseline1(regression_layers=2, regression_features=256, batch_norm=True)
  _, reg = _heads(14 * 14 * 64, (1024, 1024), reg_layers=2, reg_width=256)
  cls, _ = _heads(14 * 14 * 64, (1024, 1024))
  expected = _conv(3, 32, 5) + _bn(32) + _conv(32, 64, 5) + _bn(64) + cls + reg
  assert _count(_abstract(model, 224)["params"]) == expected


# ---- outputs ----

SMALL = {  # narrow networks at CPU-sized inputs
    "baseline1": (Baseline1(num_joints=5, width_mult=0.25, fc_features=(32, 16)), 32),
    "baseline2": (Baseline2(num_joints=5, width_mult=0.25, fc_features=(32, 16)), 48),
    "alexnet": (AlexNet(num_joints=5, width_mult=1 / 16, stem_stride=2, fc_features=(32, 16)), 72),
    "vgg19": (VGG19(num_joints=5, width_mult=1 / 16, fc_features=(32, 16)), 32),
}


@pytest.mark.parametrize("arch", list(SMALL))
@pytest.mark.parametrize("train", [False, True])
def test_output_shapes(arch, train):
  model, size = SMALL[arch]
  x = jax.ShapeDtypeStruct((3, size, size, 3), jnp.float32)
  variables = jax.eval_shape(model.init, jax.random.key(0), x)
  out = jax.eval_shape(lambda v, x: model.apply(v, x, train=train, rngs={"dropout": jax.random.key(1)}),
                       variables, x)
  assert set(out) == {"coords", "visibility_logits"}
  assert isinstance(out["coords"], tuple) and len(out["coords"]) == 1
  assert out["coords"][0].shape == (3, 5, 2) and out["coords"][0].dtype == jnp.float32
  assert out["visibility_logits"].shape == (3, 5) and out["visibility_logits"].dtype == jnp.float32
  assert "batch_stats" not in variables
  phase1 = model.clone(regression=False)
  out1 = jax.eval_shape(lambda v, x: phase1.apply(v, x), jax.eval_shape(phase1.init, jax.random.key(0), x), x)
  assert set(out1) == {"visibility_logits"} and out1["visibility_logits"].shape == (3, 5)


@pytest.mark.parametrize("arch", list(SMALL))
def test_forward(arch):
  """A real forward pass per architecture: finite float32 outputs; a zero ``reg_out`` predicts the
  crop centre (the output layer regresses the offset from 0.5)."""
  model, size = SMALL[arch]
  x = jax.random.normal(jax.random.key(0), (2, size, size, 3))
  params = _concrete(jax.eval_shape(model.init, jax.random.key(0), x)["params"])
  apply = jax.jit(lambda p, x: model.apply({"params": p}, x))
  out = apply(params, x)
  assert all(bool(jnp.all(jnp.isfinite(a))) for a in jax.tree.leaves(out))
  params["reg_out"] = jax.tree.map(jnp.zeros_like, params["reg_out"])
  np.testing.assert_array_equal(apply(params, x)["coords"][0], 0.5)


def test_batch_norm_and_dtype():
  model = VGG19(num_joints=4, width_mult=1 / 32, fc_features=(8,), batch_norm=True, dtype=jnp.bfloat16)
  x = jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32)
  variables = jax.eval_shape(model.init, jax.random.key(0), x)
  assert set(variables["batch_stats"]) == {f"bn{i}" for i in range(1, 17)}
  out, updates = jax.eval_shape(
      lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"], rngs={"dropout": jax.random.key(1)}),
      variables, x)
  assert jax.tree.map(jnp.shape, updates) == jax.tree.map(jnp.shape, {"batch_stats": variables["batch_stats"]})
  assert out["coords"][0].dtype == out["visibility_logits"].dtype == jnp.float32
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables["params"]))
  # bn_axis_name reaches the BatchNorms: outside pmap/vmap the named axis is unbound
  synced = model.clone(bn_axis_name="devices")
  with pytest.raises(NameError, match="devices"):
    jax.eval_shape(lambda v, x: synced.apply(v, x, train=True, mutable=["batch_stats"],
                                             rngs={"dropout": jax.random.key(1)}), variables, x)


# ---- two-phase training (§3.3) ----

@pytest.mark.parametrize("arch", list(SMALL))
def test_phase1_tree_is_a_subtree_of_phase2(arch):
  model, size = SMALL[arch]
  phase2 = jax.tree.map(jnp.shape, _abstract(model, size)["params"])
  phase1 = jax.tree.map(jnp.shape, _abstract(model.clone(regression=False), size)["params"])
  assert set(phase1) < set(phase2)
  for name, shapes in phase1.items():
    assert phase2[name] == shapes, name
  extra = set(phase2) - set(phase1)
  assert extra == _regression_names(phase2) == {"reg_fc1", "reg_fc2", "reg_out"}
  assert not _regression_names(phase1)  # regression=False: no reg_* collection


def _regression_names(params):
  """The top-level parameter names of the regression branch: those with ``REGRESSION_PREFIX``."""
  return {name for name in params if name.startswith(REGRESSION_PREFIX)}


def test_regression_branch_names_and_phase2_freezing():
  model = Baseline2(num_joints=3, width_mult=0.25, fc_features=(16, 8), regression_layers=2)
  params = _abstract(model, 48)["params"]
  names = _regression_names(params)
  assert names == {"reg_fc1", "reg_out"}
  assert set(params) - set(_abstract(model.clone(regression=False), 48)["params"]) == names
  # Phase 2 (§3.3) as the trainer freezes it: train.trainable=("reg_",) trains exactly the branch,
  # leaf by leaf in the labels optax.multi_transform gets.
  is_frozen = config_check.frozen_predicate(
      ml_collections.ConfigDict({"frozen": (), "trainable": (REGRESSION_PREFIX,)}))
  assert {name for name in params if not is_frozen(name)} == names
  labels = optim.frozen_labels(is_frozen)(params)
  assert jax.tree.structure(labels) == jax.tree.structure(params)
  for name, sub in labels.items():
    assert set(jax.tree.leaves(sub)) == {optim.TRAINABLE if name in names else optim.FROZEN}
  # a one-layer branch is the 2K output layer on fc1 alone
  one = _abstract(model.clone(regression_layers=1), 48)["params"]
  assert _regression_names(one) == {"reg_out"}
  assert one["reg_out"]["kernel"].shape == (16, 6)


# ---- dropout ----

@pytest.mark.slow
def test_dropout_train_and_eval():
  model = Baseline1(num_joints=4, width_mult=0.25, fc_features=(32, 32))
  x = jax.random.normal(jax.random.key(0), (2, 16, 16, 3))
  params = _concrete(jax.eval_shape(model.init, jax.random.key(0), x)["params"])
  apply = jax.jit(lambda x, key, train: model.apply({"params": params}, x, train=train, rngs={"dropout": key}),
                  static_argnums=2)
  a, b = apply(x, jax.random.key(1), True), apply(x, jax.random.key(2), True)
  e1, e2 = apply(x, jax.random.key(1), False), apply(x, jax.random.key(2), False)
  for key in ("visibility_logits",):
    assert not np.allclose(a[key], b[key])
    np.testing.assert_array_equal(e1[key], e2[key])
    assert not np.allclose(a[key], e1[key])
  assert not np.allclose(a["coords"][0], b["coords"][0])
  np.testing.assert_array_equal(e1["coords"][0], e2["coords"][0])
  # without dropout, training mode is the eval network (no BatchNorm here)
  plain = model.clone(dropout_rate=0.0)
  np.testing.assert_allclose(jax.jit(lambda x: plain.apply({"params": params}, x, train=True))(x)["coords"][0],
                             e1["coords"][0], rtol=1e-6, atol=1e-6)


# ---- input size ----

@pytest.mark.parametrize("model,size,field,need", [
    (Baseline2(), 40, "features", 43),
    (AlexNet(), 128, "stem_stride", 131),
    (AlexNet(stem_stride=2), 64, "stem_stride", 71),
    (VGG19(), 16, "convs_per_stage", 32),
])
def test_bad_input_size(model, size, field, need):
  with pytest.raises(ValueError, match=rf"too small.*{field}=.*>= {need} px"):
    _abstract(model, size)
  _abstract(model, need)  # the smallest admissible input builds


def test_bad_input_rank():
  with pytest.raises(ValueError, match="B, H, W, C"):
    jax.eval_shape(Baseline1().init, jax.random.key(0), jnp.zeros((64, 64, 3)))


# ---- layers ----

@pytest.mark.parametrize("window,stride", [(2, 2), (3, 2), (3, 3)])
def test_max_pool_matches_nn_max_pool(window, stride):
  x = jax.random.normal(jax.random.key(0), (2, 13, 10, 3))
  np.testing.assert_array_equal(jax.jit(max_pool, static_argnums=(1, 2))(x, window, stride),
                                nn.max_pool(x, (window, window), strides=(stride, stride), padding="VALID"))


def test_local_response_norm_formula():
  """Krizhevsky et al. §3.3, sum over channels max(0, i − n/2) … min(N − 1, i + n/2)."""
  x = jax.random.normal(jax.random.key(0), (1, 2, 3, 7)) * 30
  xs = np.asarray(x, np.float64)
  ref = np.empty_like(xs)
  for i in range(7):
    s = np.sum(xs[..., max(0, i - 2):min(6, i + 2) + 1] ** 2, axis=-1)
    ref[..., i] = xs[..., i] / (2.0 + 1e-4 * s) ** 0.75
  np.testing.assert_allclose(jax.jit(local_response_norm)(x), ref, rtol=1e-5)


@pytest.mark.slow
def test_without_the_visibility_head_a_plain_coordinate_regressor():
  """``visibility=False`` (DeepPose's stages): only ``coords``, no fc2/cls_out; the coords family
  then weights the L2 loss by the annotated joints (target_weight), not presence."""
  import ml_collections
  from jaxpose.configs import default
  from jaxpose import families
  m = AlexNet(num_joints=14, width_mult=1 / 16, fc_features=(32, 32), stem_stride=2,
              visibility=False, regression_layers=2)
  x = jnp.zeros((2, 72, 72, 3))
  v = m.init(jax.random.PRNGKey(0), x)
  out = m.apply(v, x)
  assert set(out) == {"coords"} and out["coords"][0].shape == (2, 14, 2)
  assert not {"fc2", "cls_out"} & set(v["params"]) and {"fc1", "reg_fc1", "reg_out"} <= set(v["params"])
  with pytest.raises(ValueError, match="visibility=False needs regression=True"):
    AlexNet(visibility=False, regression=False).init(jax.random.PRNGKey(0), jnp.zeros((1, 227, 227, 3)))
  c = default.get_config()
  c.data.name, c.data.image_size = "lsp", 72
  c.model = ml_collections.ConfigDict({"name": "alexnet", "num_joints": 14, "width_mult": 1 / 16,
                                       "fc_features": (32, 32), "stem_stride": 2,
                                       "visibility": False, "regression_layers": 2})
  fam = families.get(c)
  assert not fam.predicts_visibility
  batch = {"coords": jnp.full((2, 14, 2), 0.5), "present": jnp.zeros((2, 14)),
           "target_weight": jnp.ones((2, 14))}
  _, terms = fam.loss({"coords": (jnp.zeros((2, 14, 2)),)}, batch)
  assert set(terms) == {"coords"} and float(terms["coords"]) == pytest.approx(0.25)
