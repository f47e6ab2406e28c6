"""Stacked hourglass (Newell et al. 2016, as the bearpaw/pytorch-pose port builds it) and shared layers."""

import math
import pathlib
import subprocess
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpose import models
from jaxpose.models import StackedHourglass
from jaxpose.models.hourglass import Hourglass, HourglassStem
from jaxpose.models.layers import Bottleneck, Conv1x1, max_pool_2x2, upsample_nearest_2x
from conftest import ROOT


def _count(tree):
  return sum(math.prod(x.shape) for x in jax.tree.leaves(tree))


def _abstract_variables(model, size=64):
  return jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, size, size, 3)), train=False))


# ---- parameter count, derived from the port's layer list, independently of the module code ----

from param_counts import bn as _bn, bottleneck as _bottleneck, conv as _conv  # noqa: E402


def _expected_params(num_stacks, num_joints=16, num_blocks=1, f=256, depth=4):
  stem = _conv(3, 64, 7) + _bn(64) + _bottleneck(64, 128) + _bottleneck(128, 256) + _bottleneck(256, 256)
  assert f == 256  # the port's stem is fixed at 64/128/256
  hourglass = (3 * depth + 1) * num_blocks * _bottleneck(f, f)  # skip, down, up per level + bottom
  head = num_blocks * _bottleneck(f, f) + _conv(f, f) + _bn(f) + _conv(f, num_joints)
  remap = _conv(f, f) + _conv(num_joints, f)
  return stem + num_stacks * (hourglass + head) + (num_stacks - 1) * remap


def test_reference_count_of_the_pytorch_port():
  assert _expected_params(2) == 6_730_912


@pytest.mark.slow
@pytest.mark.parametrize("num_stacks", [1, 2, 4, 8])
def test_parameter_count(num_stacks):
  variables = _abstract_variables(StackedHourglass(num_joints=16, num_stacks=num_stacks))
  assert _count(variables["params"]) == _expected_params(num_stacks)
  if num_stacks == 2:
    assert _count(variables["params"]) == 6_730_912


@pytest.mark.slow
def test_parameter_count_num_blocks():
  variables = _abstract_variables(StackedHourglass(num_stacks=2, num_blocks=3, num_joints=14))
  assert _count(variables["params"]) == _expected_params(2, num_joints=14, num_blocks=3)


# ---- shapes and state ----
# Shapes are checked abstractly (jax.eval_shape): no compilation, milliseconds per config. Tests that
# execute use tiny configs and parameters filled from numpy, skipping the initialisers' compile time.

def _concrete(abstract, seed=0):
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda s: jnp.asarray(0.1 * rng.standard_normal(s.shape), s.dtype), abstract)


@pytest.mark.parametrize("cfg,size", [
    (dict(num_stacks=2), 128),
    (dict(num_stacks=1, features=32, num_joints=16), 64),
    (dict(num_stacks=2, features=16, num_joints=14, num_blocks=2), 64),
    (dict(num_stacks=3, features=16, num_joints=7, depth=2), 32),
    (dict(num_stacks=2, features=16, num_joints=5, dtype=jnp.bfloat16), 64),
])
@pytest.mark.slow
@pytest.mark.parametrize("train", [False, True])
def test_output_shapes(cfg, size, train):
  model = StackedHourglass(**cfg)
  x = jax.ShapeDtypeStruct((2, size, size + 64, 3), jnp.float32)
  variables = jax.eval_shape(model.init, jax.random.key(0), x)
  out = jax.eval_shape(lambda v, x: model.apply(v, x, train=train, mutable=["batch_stats"] if train else False),
                       variables, x)
  if train:
    out, updates = out
    assert jax.tree.map(jnp.shape, updates["batch_stats"]) == jax.tree.map(jnp.shape, variables["batch_stats"])
  assert set(out) == {"heatmaps"}
  hm = out["heatmaps"]
  assert isinstance(hm, tuple) and len(hm) == cfg["num_stacks"]
  for h in hm:
    assert h.shape == (2, size // 4, (size + 64) // 4, cfg.get("num_joints", 16))
    assert h.dtype == jnp.float32
  for p in jax.tree.leaves(variables["params"]):
    assert p.dtype == jnp.float32


def test_bad_input_size():
  model = StackedHourglass(features=16, num_stacks=1)
  with pytest.raises(ValueError, match="divisible"):
    jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 48, 64, 3)))


@pytest.mark.parametrize("entry,layers", [
    ("hourglass", {"conv": (7, 7, 3, 16), "bn": (16,)}),
    ("pbn", {"conv0": (3, 3, 3, 16), "conv1": (3, 3, 16, 16), "conv2": (3, 3, 16, 16),
             "bn0": (16,), "bn1": (16,), "bn2": (16,)}),
])
def test_stem_entries_keep_their_layer_names(entry, layers):
  """One stem serves both families; its parameter names are those of the two stems it replaced
  (HourglassStem and PBNStem), so stored checkpoints load: res2 is 32 → 64 (projection) after the
  7×7 entry of Newell et al., 32 → 32 after the 3×3 entry of Tang & Wu §3.2."""
  x = jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32)
  stem = HourglassStem(64, entry=entry)
  params = jax.eval_shape(stem.init, jax.random.key(0), x)["params"]
  assert set(params) == set(layers) | {"res1", "res2", "res3"}
  for name, shape in layers.items():
    assert params[name].get("kernel", params[name].get("scale")).shape == shape
  assert params["res1"]["conv3"]["kernel"].shape == (16, 32)
  assert params["res2"]["conv3"]["kernel"].shape == ((32, 64) if entry == "hourglass" else (16, 32))
  assert ("project" in params["res2"]) == (entry == "hourglass")
  assert ("project" in params["res3"]) == (entry == "pbn")
  assert jax.eval_shape(stem.apply, jax.eval_shape(stem.init, jax.random.key(0), x), x).shape == (
      1, 8, 8, 64)
  with pytest.raises(ValueError, match="entry"):
    HourglassStem(64, entry="resnet").init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))


@pytest.mark.slow
def test_batch_stats_train_and_eval():
  model = StackedHourglass(num_stacks=2, features=8, num_joints=4, depth=1)
  x = jax.random.normal(jax.random.key(1), (2, 16, 16, 3))
  abstract = jax.eval_shape(model.init, jax.random.key(0), x)
  variables = {"params": _concrete(abstract["params"]),
               "batch_stats": jax.tree.map(lambda s: jnp.full(s.shape, 0.5, s.dtype), abstract["batch_stats"])}
  out, updates = jax.jit(lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"]))(variables, x)
  changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), variables["batch_stats"], updates["batch_stats"])
  assert all(jax.tree.leaves(changed))
  # eval uses the running averages: no mutable collection needed, and batch-independent
  evaluate = jax.jit(lambda v, x: model.apply(v, x, train=False))
  out_eval = evaluate(variables, x)
  out_one = evaluate(variables, x[:1])
  np.testing.assert_allclose(out_one["heatmaps"][-1], out_eval["heatmaps"][-1][:1], rtol=1e-4, atol=1e-5)
  assert all(bool(jnp.all(jnp.isfinite(h))) for h in out["heatmaps"] + out_eval["heatmaps"])
  with pytest.raises(Exception):  # training without a mutable batch_stats collection is an error
    jax.eval_shape(lambda v, x: model.apply(v, x, train=True), variables, x)


@pytest.mark.slow
def test_hourglass_levels():
  x = jax.random.normal(jax.random.key(0), (1, 32, 16, 4))
  hg = Hourglass(depth=3, features=4, num_blocks=1, return_levels=True)
  plain = Hourglass(depth=3, features=4, num_blocks=1)
  abstract = jax.eval_shape(hg.init, jax.random.key(0), x)
  assert jax.tree.map(jnp.shape, jax.eval_shape(plain.init, jax.random.key(0), x)) == \
      jax.tree.map(jnp.shape, abstract)
  variables = {"params": _concrete(abstract["params"]),
               "batch_stats": jax.tree.map(lambda s: jnp.ones(s.shape, s.dtype), abstract["batch_stats"])}
  out, levels = jax.jit(hg.apply)(variables, x)
  assert [lv.shape for lv in levels] == [(1, 8, 4, 4), (1, 16, 8, 4), (1, 32, 16, 4)]
  np.testing.assert_array_equal(levels[-1], out)
  np.testing.assert_allclose(jax.jit(plain.apply)(variables, x), out, rtol=1e-5, atol=1e-6)


# ---- shared layers ----

@pytest.mark.slow
def test_conv1x1_matches_nn_conv():
  x = jax.random.normal(jax.random.key(0), (2, 5, 6, 7))
  ours = Conv1x1(11)
  p = ours.init(jax.random.key(1), x)
  ref = nn.Conv(11, (1, 1))
  ref_p = {"params": {"kernel": p["params"]["kernel"].reshape(1, 1, 7, 11), "bias": p["params"]["bias"]}}
  np.testing.assert_allclose(ours.apply(p, x), ref.apply(ref_p, x), rtol=1e-5, atol=1e-5)


def test_max_pool_matches_nn_max_pool():
  x = jax.random.normal(jax.random.key(0), (2, 8, 6, 3))
  np.testing.assert_array_equal(max_pool_2x2(x), nn.max_pool(x, (2, 2), strides=(2, 2)))
  with pytest.raises(ValueError, match="even"):
    max_pool_2x2(jnp.zeros((1, 5, 6, 3)))


def test_upsample_nearest():
  x = jnp.arange(2 * 2 * 3 * 2, dtype=jnp.float32).reshape(2, 2, 3, 2)
  np.testing.assert_array_equal(upsample_nearest_2x(x), jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2))


def test_bottleneck_projection():
  x = jnp.ones((1, 4, 4, 6))
  same = jax.eval_shape(Bottleneck(6).init, jax.random.key(0), x)["params"]
  proj = jax.eval_shape(Bottleneck(8).init, jax.random.key(0), x)["params"]
  assert "project" not in same and proj["project"]["kernel"].shape == (6, 8)
  assert proj["conv1"]["kernel"].shape == (6, 4) and proj["conv2"]["kernel"].shape == (3, 3, 4, 4)


@pytest.mark.slow
def test_bottleneck_matches_preactivation_reference():
  """BN-ReLU-conv1×1, BN-ReLU-conv3×3, BN-ReLU-conv1×1 (+ 1×1 projection of the raw input)."""
  x = jax.random.normal(jax.random.key(0), (2, 6, 6, 6))
  block = Bottleneck(8)
  abstract = jax.eval_shape(block.init, jax.random.key(0), x)
  p = _concrete(abstract["params"], seed=1)
  stats = _concrete(abstract["batch_stats"], seed=2)
  stats = jax.tree.map(jnp.abs, stats)  # variances must be positive
  got = jax.jit(block.apply)({"params": p, "batch_stats": stats}, x)

  def bn_relu(y, name):
    s = stats[name]
    return jnp.maximum((y - s["mean"]) / jnp.sqrt(s["var"] + 1e-5) * p[name]["scale"] + p[name]["bias"], 0)

  def conv(y, name, k):
    w = p[name]["kernel"].reshape(k, k, y.shape[-1], -1)
    return jax.lax.conv_general_dilated(y, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        precision="highest") + p[name]["bias"]

  y = conv(bn_relu(x, "bn1"), "conv1", 1)
  y = conv(bn_relu(y, "bn2"), "conv2", 3)
  y = conv(bn_relu(y, "bn3"), "conv3", 1)
  np.testing.assert_allclose(got, y + conv(x, "project", 1), rtol=1e-4, atol=1e-4)


def test_pytorch_like_init():
  x = jnp.zeros((1, 4, 4, 50))
  p = Conv1x1(400).init(jax.random.key(0), x)["params"]
  bound = 1 / math.sqrt(50)
  for leaf in (p["kernel"], p["bias"]):
    assert float(jnp.max(jnp.abs(leaf))) <= bound and float(jnp.max(jnp.abs(leaf))) > 0.9 * bound


# ---- registry ----

def test_create_from_config():
  ml_collections = pytest.importorskip("ml_collections")
  cfg = ml_collections.ConfigDict(dict(name="hourglass", num_stacks=3, features=64, num_joints=14,
                                       dtype="bfloat16"))
  model = models.create(cfg)
  assert isinstance(model, StackedHourglass)
  assert (model.num_stacks, model.features, model.num_joints) == (3, 64, 14)
  assert model.dtype == jnp.bfloat16
  assert isinstance(models.create({"name": "hourglass"}), StackedHourglass)
  assert models.MODELS["hourglass"] is StackedHourglass


def test_create_errors():
  with pytest.raises(ValueError, match=r"model\.num_stackz is not a field of hourglass \(fields: .*num_stacks"):
    models.create({"name": "hourglass", "num_stackz": 2})
  with pytest.raises(ValueError, match="unknown model.name 'nope'.*hourglass"):
    models.create({"name": "nope"})
  with pytest.raises(ValueError, match="no 'name'"):
    models.create({"num_stacks": 2})


def test_register():
  @models.register("_test_tiny", family="heatmap")
  class Tiny(nn.Module):
    width: int = 3

    def __call__(self, x, train=False):
      return {"heatmaps": (x,)}

  try:
    assert models.create({"name": "_test_tiny", "width": 5}).width == 5
    assert models.family_of("_test_tiny") == "heatmap"
    with pytest.raises(ValueError, match="already registered"):
      models.register("_test_tiny", family="heatmap")(StackedHourglass)
    with pytest.raises(ValueError, match="give register.*family"):
      models.register("_test_tiny_2")(Tiny)
  finally:
    models.MODELS.pop("_test_tiny")
    models.FAMILY.pop("_test_tiny")


@pytest.mark.slow
def test_models_import_does_not_pull_tensorflow():
  code = ("import sys; import jaxpose.models; from jaxpose.models import StackedHourglass, create; "
          "bad = [m for m in sys.modules if m == 'tensorflow' or m.startswith('tensorflow.')]; "
          "assert not bad, bad")
  repo = pathlib.Path(ROOT)
  subprocess.run([sys.executable, "-c", code], check=True, cwd=repo)
