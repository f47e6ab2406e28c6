"""The two layer forms of ``jaxpose.models.layers`` (issue #37): ``model.layer_forms="cpu"``
(matmul 1×1 convolutions, the written-out convolution backward, bf16 row-shift convolutions,
reshape max-pooling) and ``"xla"`` (XLA's convolutions and ``reduce_window`` differentiated by
jax) compute the same function. For every registered model, both forms in float32 and in bf16
(``model.dtype``): a train-mode forward pass and the parameter gradients of a loss on all of its
outputs, from the same parameters, inputs and dropout key.

Tolerances (measured on this CPU in brackets): float32, outputs max|Δ| ≤ 1e-4 · max|y| (0) and
gradients ‖Δg‖ ≤ 1e-4 · ‖g‖ over all parameters together (2.5e-7, tiny hourglass: summation
order only); bf16, outputs ≤ 3e-2 · max|y| (0) and gradients ≤ max(5e-2, ¼ of the distance
between the bf16 and the float32 gradients of the cpu form) · ‖g‖ — hourglass 8.7e-3; CPM with
BatchNorm 0.107, where bf16 itself moves the gradients by 0.90 (BatchNorm over 2 × 8 × 8 values
amplifies rounding). The forms may differ in bf16: the xla form rounds each product to bf16
before the float32 cast, and max-pool ties, frequent among bf16 values, send the gradient to one
element instead of sharing it. Per-leaf relative errors would be meaningless: a convolution bias
in front of a BatchNorm has a gradient that is rounding noise around 0.

The HLO tests lower (never compile) a jitted gradient and count ops; the config tests build each
family's train step from its recipe with ``model.layer_forms`` set, so the key reaches every
family through ``models.create`` and the families.
"""
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxpose import config_check, families, models
from jaxpose.errors import ConfigError
from jaxpose.models import layers, regressors
from jaxpose.training import state as state_lib
from jaxpose.training.step import make_train_step
from conftest import ROOT, load_recipe, offline_groups

ROOT = os.path.join(ROOT, "configs")

_SMALL_FC = dict(fc_features=(16, 16), regression_features=16)
# registry name -> (tiny constructor fields, input side)
TINY = {
    "hourglass": (dict(num_stacks=1, features=8, depth=1, num_joints=3), 16),
    "pbn": (dict(num_stacks=1, features=8, branch_width=4, depth=1, num_joints=4,
                 groups=((0, 1), (2, 3))), 16),
    "msn": (dict(num_stacks=1, features=8, depth=2, num_joints=3, supervised_scales=2,
                 regression_features=8, regression_dilations=(1, 2)), 16),
    "baseline1": (dict(num_joints=3, width_mult=1 / 16, batch_norm=True, **_SMALL_FC), None),
    "baseline2": (dict(num_joints=3, width_mult=1 / 16, **_SMALL_FC), None),
    "alexnet": (dict(num_joints=3, width_mult=1 / 16, **_SMALL_FC), None),
    "vgg19": (dict(num_joints=3, width_mult=1 / 32, **_SMALL_FC), None),
    "cpm": (dict(num_joints=3, num_stages=2, width=4, num_pools=1, batch_norm=True), 16),
    "hmlpe": (dict(num_joints=3, num_parts=2, num_windows=4, features=(4, 4, 4),
                   regression_hidden=(16,), detection_hidden=(16,)), 32),
}
TOL = {"float32": (1e-4, 1e-4), "bfloat16": (3e-2, 5e-2)}  # (outputs, gradients), docstring


def _model(name, dtype, forms):
  fields, _ = TINY[name]
  return models.create({"name": name, **fields, "dtype": dtype, "layer_forms": forms})


def _size(name):
  size = TINY[name][1]
  if size is None:  # a regressor: the smallest input its conv/pool stack takes, rounded up to 8
    size = -(-regressors.min_input_size(_model(name, "float32", "cpu").conv_specs()) // 8) * 8
  return size


def _random_variables(model, x):
  """Variables of ``model``'s shapes (``jax.eval_shape`` of its init: nothing compiled), drawn
  with numpy: kernels N(0, 2/fan_in), BatchNorm scales 1 ± 0.1, biases N(0, 0.1²), running
  statistics 0 / 1."""
  shapes = jax.eval_shape(lambda k: model.init({"params": k, "dropout": k}, x, train=False),
                          jax.random.key(0))
  rng = np.random.default_rng(0)

  def draw(path, leaf):
    key, shape = path[-1].key, leaf.shape
    if key == "kernel":
      return rng.normal(0, np.sqrt(2 / np.prod(shape[:-1])), shape).astype(np.float32)
    if key == "scale":
      return (1 + 0.1 * rng.normal(size=shape)).astype(np.float32)
    if key == "var":
      return np.ones(shape, np.float32)
    if key == "mean":
      return np.zeros(shape, np.float32)
    return (0.1 * rng.normal(size=shape)).astype(np.float32)
  return jax.tree_util.tree_map_with_path(draw, shapes)


def _outputs_and_grads(model, variables, x):
  """A train-mode forward pass and the gradients of Σ over every float output of Σ y² / 2."""
  def loss(params):
    out, _ = model.apply({**variables, "params": params}, x, train=True,
                         rngs={"dropout": jax.random.key(3)}, mutable=["batch_stats"])
    leaves = [o.astype(jnp.float32) for o in jax.tree.leaves(out)]
    return sum(0.5 * jnp.sum(o * o) for o in leaves), leaves
  (_, out), grads = jax.value_and_grad(loss, has_aux=True)(variables["params"])
  return out, grads


def test_tiny_models_cover_the_registry():
  assert set(TINY) == set(models.MODELS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TINY))
def test_forms_agree(name):
  """cpu and xla forms: same outputs and parameter gradients (float32 and bf16), one compile."""
  size = _size(name)
  x = jax.random.normal(jax.random.key(0), (2, size, size, 3))
  variables = _random_variables(_model(name, "float32", "cpu"), x)
  variants = [(d, f) for d in TOL for f in ("cpu", "xla")]

  def everything(v, x):
    return [_outputs_and_grads(_model(name, d, f), v, x) for d, f in variants]

  results = dict(zip(variants, jax.jit(everything)(variables, x)))
  for dtype, (tol_out, tol_grad) in TOL.items():
    (out_c, g_c), (out_x, g_x) = results[dtype, "cpu"], results[dtype, "xla"]
    for a, b in zip(out_c, out_x):
      assert a.shape == b.shape
      scale = float(jnp.max(jnp.abs(a)))
      assert float(jnp.max(jnp.abs(a - b))) <= tol_out * scale, (dtype, "outputs")
    limit = tol_grad
    if dtype != "float32":  # or a quarter of what bf16 itself moves the gradients by
      limit = max(tol_grad, _distance(g_c, results["float32", "cpu"][1]) / 4)
    assert _distance(g_c, g_x) <= limit, (dtype, "gradients", _distance(g_c, g_x), limit)


def _distance(g, h):
  """‖g − h‖ / ‖g‖ over all parameters together."""
  g, h = jax.tree.leaves(g), jax.tree.leaves(h)
  norm = np.sqrt(sum(float(jnp.sum(a ** 2)) for a in g))
  assert norm > 0
  return np.sqrt(sum(float(jnp.sum((a - b) ** 2)) for a, b in zip(g, h))) / norm


def _op_counts(text):
  """StableHLO ops of a lowered computation: convolutions, dots, reduce_window, and the
  element types of every convolution's operands."""
  convs = re.findall(r"stablehlo\.convolution.*?:\s*\((tensor<[^)]*)\)", text)
  return {"convolution": text.count("stablehlo.convolution"),
          "dot": text.count("stablehlo.dot_general"),
          "reduce_window": text.count("stablehlo.reduce_window"),
          "conv_operand_types": {t for c in convs for t in re.findall(r"x(bf16|f32)>", c)}}


def _gradient_hlo(name, dtype, forms):
  model = _model(name, dtype, forms)
  size = _size(name)
  x = jax.ShapeDtypeStruct((2, size, size, 3), jnp.float32)
  variables = jax.eval_shape(lambda k, x: model.init({"params": k, "dropout": k}, x,
                                                    train=False), jax.random.key(1), x)
  fn = jax.jit(lambda v, x: _outputs_and_grads(model, v, x)[1])
  return _op_counts(fn.lower(variables, x).as_text())


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_xla_form_has_convolutions_where_cpu_form_has_per_tap_dots(dtype):
  """The hourglass's gradient: the xla form differentiates every k×k convolution as two more
  convolutions (input and kernel gradient) and pools with reduce_window; the cpu form writes
  the kernel gradients out as per-tap dots (and, in bf16, the stride-1 forward and input
  gradient as row-shift dots) and pools by reshape + max. In bf16 every xla-form convolution,
  backward ones included, takes bf16 operands."""
  cpu, xla = _gradient_hlo("hourglass", dtype, "cpu"), _gradient_hlo("hourglass", dtype, "xla")
  # 2 stacks × depth 1: 3×3 convolutions in 5 bottlenecks per hourglass + 2 stem... counted
  # from the network: every k×k Conv is 3 convolutions in the xla form, the stem's 7×7 two
  # (the input image needs no gradient)
  assert xla["convolution"] > cpu["convolution"]
  assert cpu["dot"] > xla["dot"]
  assert xla["reduce_window"] > 0 and cpu["reduce_window"] == 0
  if dtype == "bfloat16":
    assert xla["conv_operand_types"] == {"bf16"}
    assert cpu["convolution"] <= 1  # only the stride-2 stem keeps XLA's convolution


@pytest.mark.slow
def test_xla_form_counts_three_convolutions_per_kxk_layer():
  """Exactly: forward, input gradient and kernel gradient of every k×k convolution, less the
  input gradient of the first layer (the image is not differentiated). The cpu form has the
  forward and input gradient only."""
  model = _model("hourglass", "float32", "xla")
  x = jnp.zeros((1, 16, 16, 3))
  shapes = jax.eval_shape(lambda k: model.init(k, x), jax.random.key(0))["params"]
  kxk = sum(1 for p, v in jax.tree_util.tree_leaves_with_path(shapes)
            if p[-1].key == "kernel" and len(v.shape) == 4 and v.shape[0] > 1)
  assert _gradient_hlo("hourglass", "float32", "xla")["convolution"] == 3 * kxk - 1
  assert _gradient_hlo("hourglass", "float32", "cpu")["convolution"] == 2 * kxk - 1


@pytest.mark.slow
def test_auto_is_cpu_on_the_cpu_backend():
  assert jax.default_backend() == "cpu"
  with layers.layer_forms("auto"):
    assert layers.current_forms() == "cpu"
  with layers.layer_forms("xla"):
    assert layers.current_forms() == "xla"
    with layers.layer_forms("cpu"):
      assert layers.current_forms() == "cpu"
    assert layers.current_forms() == "xla"
  assert (_gradient_hlo("hourglass", "float32", "auto")
          == _gradient_hlo("hourglass", "float32", "cpu"))


def test_unknown_forms_are_refused():
  with pytest.raises(ValueError, match="model.layer_forms='gpu'"):
    _model("hourglass", "float32", "gpu")
  from conftest import tiny_config
  c = tiny_config()
  c.model.layer_forms = "gpu"
  with pytest.raises(ConfigError, match="model.layer_forms='gpu'"):
    config_check.check_training(c)


# one recipe per family (and PBN), as test_mixed_precision
FAMILY_RECIPES = ["default.py", "pbn_lsp_cpu.py", "msn_lsp_cpu.py", "cpm_lsp_cpu.py",
                  "regressor_baseline1_lsp_cpu.py", "hmlpe_pretrain.py"]


def _abstract_batch(config, family, batch_size=2):
  """ShapeDtypeStructs of every key the family's loss reads."""
  s = int(config.data.image_size)
  k = int(config.model.num_joints)
  out = family.output_shapes()
  f32 = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float32)
  batch = {"image": f32(batch_size, s, s, 3), "target_weight": f32(batch_size, k),
           "present": f32(batch_size, k), "valid": f32(batch_size, k),
           "visible": f32(batch_size, k), "coords": f32(batch_size, k, 2)}
  if "heatmaps" in out:
    h = out["heatmaps"][-1].shape[1]
    batch["heatmaps"] = f32(batch_size, h, h, k)
    levels = int(config.data.get("pyramid_levels", 4))
    batch["heatmap_pyramid"] = tuple(f32(batch_size, h >> i, h >> i, k) for i in range(levels))
  if "part_logits" in out:
    batch["part_windows"] = f32(batch_size, *out["part_logits"].shape[1:])
  return batch


# a recipe's network, narrowed (tracing cost grows with the number of ops, not their size)
NARROW = {"num_stacks": 1, "features": 16, "branch_width": 4, "width": 4, "width_mult": 1 / 16,
          "fc_features": (16, 16)}


def _train_step_hlo(c):
  family = families.get(c)
  model = models.create(c.model)
  tx = optax.rmsprop(1e-3)
  s = int(c.data.image_size)
  state = jax.eval_shape(lambda r: state_lib.create(model, tx, r, (1, s, s, 3)), jax.random.key(0))
  text = jax.jit(make_train_step(model, tx, family)).lower(state, _abstract_batch(c, family))
  kernels = {"x".join(map(str, v.shape)) for v in jax.tree.leaves(state.params) if v.ndim == 4}
  return text.as_text(), kernels


def _kernel_gradient_convolutions(text, kernels):
  """Convolutions whose result has the shape of a k×k kernel (H×W×I×O): kernel gradients."""
  results = re.findall(r"stablehlo\.convolution.*->\s*tensor<(\d+x\d+x\d+x\d+)x(?:bf16|f32)>",
                       text)
  return sum(1 for r in results if r in kernels and not r.startswith("1x1x"))


@pytest.mark.slow
@pytest.mark.parametrize("recipe", FAMILY_RECIPES)
def test_config_key_reaches_every_family(recipe):
  """A recipe with ``--config.model.layer_forms=xla`` (narrowed): its train step, built as the
  trainer builds it (models.create + families.get + make_train_step), differentiates its k×k
  kernels with XLA convolutions; the recipe carries the key, so the command line can set it."""
  c = load_recipe(os.path.join(ROOT, recipe))
  if c.model.get("grouping") is not None and not c.model.get("groups"):
    c = offline_groups(c)
  assert c.model.layer_forms == "auto"
  c.model.update({k: v for k, v in NARROW.items() if k in c.model})
  c.model.layer_forms = "xla"
  assert _kernel_gradient_convolutions(*_train_step_hlo(c)) > 0
  if recipe == "default.py":  # and the cpu forms have none (auto is cpu here)
    c.model.layer_forms = "cpu"
    assert _kernel_gradient_convolutions(*_train_step_hlo(c)) == 0
