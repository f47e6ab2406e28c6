"""Multi-scale supervised network (Ke, Chang, Qi & Lyu 2018, §2.1 eq. 1, §2.2, §3.2) and its loss."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxpose import losses, models
from jaxpose.models import MSN, StackedHourglass
from jaxpose.models.msn import scale_divisors
from jaxpose.training import state as state_lib
from jaxpose.training.step import make_train_step

K = 3
TINY = dict(num_joints=K, num_stacks=2, features=8, depth=4, regression_dilations=(1, 2))


def _count(tree) -> int:
  return sum(math.prod(x.shape) for x in jax.tree.leaves(tree))


def _abstract(model, size=64):
  return jax.eval_shape(model.init, jax.random.key(0), jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32))


def _concrete(abstract, seed=0):
  """Parameters/statistics from numpy (no initialiser compile); variances kept positive."""
  rng = np.random.default_rng(seed)
  params = jax.tree.map(lambda s: jnp.asarray(0.3 * rng.standard_normal(s.shape), s.dtype), abstract["params"])
  stats = jax.tree.map(lambda s: jnp.asarray(0.5 + rng.random(s.shape), s.dtype), abstract["batch_stats"])
  return {"params": params, "batch_stats": stats}


def _batch(b=2, size=64, levels=4, seed=0):
  rng = np.random.default_rng(seed)
  h = size // 4
  pyramid = tuple(jnp.asarray(rng.random((b, h >> i, h >> i, K)), jnp.float32) for i in range(levels))
  return {"image": jnp.asarray(rng.standard_normal((b, size, size, 3)), jnp.float32),
          "heatmaps": pyramid[0], "heatmap_pyramid": pyramid,
          "target_weight": jnp.asarray([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]][:b], jnp.float32)}


@pytest.fixture(scope="module")
def tiny_variables():
  """Variables of the tiny MSN with every scale supervised and regression on (a superset of the
  variables of every other switch setting of the same stack geometry)."""
  return _concrete(_abstract(MSN(**TINY, supervised_scales=4, regression=True)))


# ---- configuration and structure ----

def test_default_is_the_paper_configuration():
  m = MSN()
  assert (m.num_stacks, m.features, m.depth, m.num_joints, m.num_blocks) == (4, 64, 4, 16, 1)  # §3.2
  assert scale_divisors(m.supervised_scales, m.depth) == (1, 2, 4, 8)  # Fig. 2: GT … GT/8
  assert m.regression


def _conv(cin, cout, k=1):
  return k * k * cin * cout + cout


@pytest.mark.slow
def test_default_parameter_count():
  """The stacked hourglass with the same fields + 3 coarse 1×1 heads per stack + the regression net."""
  f, k, n = 64, 16, 4
  hourglass = _count(_abstract(StackedHourglass(num_joints=k, num_stacks=n, features=f))["params"])
  heads = n * 3 * _conv(f, k)
  regression = _conv(4 * k, f, 3) + 2 * f + 4 * (_conv(f, f, 3) + 2 * f) + _conv(f, k)
  total = _count(_abstract(MSN())["params"])
  assert total == hourglass + heads + regression


@pytest.mark.slow
@pytest.mark.parametrize("supervised", [1, 2, 3, 4, (1, 4), (8, 1, 2)])
@pytest.mark.parametrize("regression", [False, True])
@pytest.mark.parametrize("num_stacks", [1, 3])
def test_output_structure(num_stacks, supervised, regression):
  model = MSN(**{**TINY, "num_stacks": num_stacks}, supervised_scales=supervised, regression=regression)
  x = jax.ShapeDtypeStruct((2, 64, 128, 3), jnp.float32)
  variables = jax.eval_shape(model.init, jax.random.key(0), x)
  out = jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables, x)
  divisors = scale_divisors(supervised, 4)
  assert set(out) == {"heatmaps", "pyramid"}
  assert len(out["heatmaps"]) == num_stacks + int(regression)
  assert all(h.shape == (2, 16, 32, K) and h.dtype == jnp.float32 for h in out["heatmaps"])
  assert len(out["pyramid"]) == num_stacks
  for stack in out["pyramid"]:
    assert [p.shape for p in stack] == [(2, 16 // d, 32 // d, K) for d in divisors]
  params = variables["params"]
  heads = sorted(k for k in params if k.startswith("scale_head"))
  assert heads == sorted(f"scale_head{i}_{d}" for i in range(num_stacks) for d in divisors[1:])
  assert ("regression" in params) == regression


def test_scale_divisors():
  assert scale_divisors(1, 4) == (1,)
  assert scale_divisors(3, 4) == (1, 2, 4)
  assert scale_divisors((4, 1), 4) == (1, 4)
  for bad in (0, 5, (2, 4), (1, 3), (1, 16), (1, 1, 2)):
    with pytest.raises(ValueError, match="supervised_scales"):
      scale_divisors(bad, 4)
  with pytest.raises(ValueError, match="divisible"):
    _abstract(MSN(**TINY), size=48)


def test_registry_and_config_lists():
  model = models.create({"name": "msn", "supervised_scales": [1, 2], "num_stacks": 2, "features": 32})
  assert isinstance(model, MSN) and models.MODELS["msn"] is MSN
  assert model.supervised_scales == (1, 2) and model.num_stacks == 2
  assert models.create({"name": "msn"}, bn_axis_name="batch").bn_axis_name == "batch"


# ---- reduction to the stacked hourglass (§2.1, footnote 1) ----

@pytest.mark.slow
def test_reduces_to_stacked_hourglass():
  fields = dict(num_joints=K, num_stacks=2, features=8, depth=2, num_blocks=2)
  msn = MSN(**fields, supervised_scales=1, regression=False)
  shg = StackedHourglass(**fields)
  a_msn, a_shg = _abstract(msn, 32), _abstract(shg, 32)
  assert jax.tree.structure(a_msn) == jax.tree.structure(a_shg)
  assert jax.tree.map(jnp.shape, a_msn) == jax.tree.map(jnp.shape, a_shg)
  variables = _concrete(a_shg, seed=3)
  x = jax.random.normal(jax.random.key(1), (2, 32, 32, 3))
  got = jax.jit(lambda v, x: msn.apply(v, x, train=False))(variables, x)
  ref = jax.jit(lambda v, x: shg.apply(v, x, train=False))(variables, x)
  assert len(got["heatmaps"]) == len(ref["heatmaps"]) == 2
  for g, r in zip(got["heatmaps"], ref["heatmaps"]):
    np.testing.assert_array_equal(g, r)
  assert [len(s) for s in got["pyramid"]] == [1, 1]
  for s, h in zip(got["pyramid"], got["heatmaps"]):
    np.testing.assert_array_equal(s[0], h)


# ---- the loss (§2.1, eq. 1: L = Σ_i L_i) ----

def test_multiscale_loss_hand_built():
  rng = np.random.default_rng(7)
  w = np.asarray([[1.0, 0.0, 2.0], [0.5, 1.0, 0.0]], np.float32)
  sizes = (8, 4, 2)
  targets = tuple(rng.random((2, s, s, K)).astype(np.float32) for s in sizes)
  stacks = [tuple(rng.random((2, s, s, K)).astype(np.float32) for s in sizes) for _ in range(2)]
  refined = rng.random((2, 8, 8, K)).astype(np.float32)
  outputs = {"heatmaps": (stacks[0][0], stacks[1][0], refined),
             "pyramid": (stacks[0], stacks[1][:2])}  # stack 1 supervised at GT and GT/2 only
  batch = {"heatmaps": targets[0], "heatmap_pyramid": targets + (np.zeros((2, 1, 1, K), np.float32),),
           "target_weight": w}

  def mse(p, t):  # mean over (B, h, w, K) of w_k (p - t)^2, by loops
    total = 0.0
    for b in range(p.shape[0]):
      for k in range(K):
        total += w[b, k] * float(np.sum((p[b, ..., k] - t[b, ..., k]) ** 2))
    return total / p.size

  def sse(p, t):  # eq. (1) summed over pixels, mean over the batch and joints, by loops
    return mse(p, t) * p.size / (p.shape[0] * K)

  expected_gt = mse(stacks[0][0], targets[0]) + mse(stacks[1][0], targets[0]) + mse(refined, targets[0])
  # Eq. (1): every scale's error summed over its pixels; the loss is that divided by GT's 8×8.
  expected_ms = (sse(stacks[0][1], targets[1]) + sse(stacks[0][2], targets[2])
                 + sse(stacks[1][1], targets[1])) / 64
  np.testing.assert_allclose(expected_ms, mse(stacks[0][1], targets[1]) / 4
                             + mse(stacks[0][2], targets[2]) / 16
                             + mse(stacks[1][1], targets[1]) / 4, rtol=1e-6)
  total, terms = _family().loss(outputs, batch)
  assert set(terms) == {"heatmaps", "pyramid"}
  np.testing.assert_allclose(terms["heatmaps"], expected_gt, rtol=1e-5)
  np.testing.assert_allclose(terms["pyramid"], expected_ms, rtol=1e-5)  # GT not counted twice
  np.testing.assert_allclose(total, expected_gt + expected_ms, rtol=1e-5)
  np.testing.assert_allclose(  # the GT term is eq. (1) over GT's pixels, divided by them
      terms["heatmaps"], sum(sse(h, targets[0]) for h in outputs["heatmaps"]) / 64, rtol=1e-5)

  # "uniform": every level's per-pixel mean weighs 1.
  _, terms = _family("uniform").loss(outputs, batch)
  np.testing.assert_allclose(terms["pyramid"], mse(stacks[0][1], targets[1]) + mse(
      stacks[0][2], targets[2]) + mse(stacks[1][1], targets[1]), rtol=1e-5)
  with pytest.raises(ValueError, match="pyramid_weighting='sum'.*pixels"):
    _family("sum").loss(outputs, batch)


def _family(weighting="pixels"):
  """The MSN family of the default config (the loss goes through the family contract)."""
  from jaxpose.configs import default
  from jaxpose.families import MSNFamily
  c = default.get_config()
  c.model.name = "msn"
  c.loss.pyramid_weighting = weighting
  return MSNFamily(c)


@pytest.mark.slow
def test_supervised_scales_switch_changes_the_loss_terms(tiny_variables):
  """With n supervised scales each stack adds the MSE of its maps at GT/2 … GT/2^(n-1),
  weighted 4^-j (eq. 1 sums over pixels)."""
  batch = _batch()
  apply = lambda n: jax.jit(lambda v, x: MSN(**TINY, supervised_scales=n, regression=False).apply(
      v, x, train=False))(tiny_variables, batch["image"])
  full = apply(4)
  per_scale = [sum(float(losses.heatmap_mse(s[j], batch["heatmap_pyramid"][j], batch["target_weight"]))
                   for s in full["pyramid"]) for j in range(4)]
  assert all(v > 0 for v in per_scale)
  for n in (1, 2, 3, 4):
    out = apply(n) if n < 4 else full
    assert [len(s) for s in out["pyramid"]] == [n, n]
    for s_n, s_full in zip(out["pyramid"], full["pyramid"]):  # same heads, same maps
      for a, b in zip(s_n, s_full):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    _, terms = _family().loss(out, batch)
    expected = sum(v / 4 ** j for j, v in enumerate(per_scale[:n]) if j)  # eq. (1) weights
    np.testing.assert_allclose(terms["pyramid"], expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(terms["heatmaps"], per_scale[0], rtol=1e-5)


# ---- synchronised BatchNorm, gradients and training ----

@pytest.mark.slow
def test_sync_batch_norm_reaches_every_batchnorm(tiny_variables):
  """Per-example BatchNorm statistics pooled over a named axis equal those of the whole batch only
  if every BatchNorm (stem, hourglass, heads, regression) receives ``bn_axis_name``."""
  x = jax.random.normal(jax.random.key(2), (2, 64, 64, 3))
  one = {**TINY, "num_stacks": 1}  # stack 0 and the regression read a subset of tiny_variables
  whole = MSN(**one, supervised_scales=4, regression=True)
  synced = MSN(**one, supervised_scales=4, regression=True, bn_axis_name="batch")
  ref, _ = jax.jit(lambda v, x: whole.apply(v, x, train=True, mutable=["batch_stats"]))(tiny_variables, x)
  per_example = jax.jit(jax.vmap(
      lambda xi: synced.apply(tiny_variables, xi[None], train=True, mutable=["batch_stats"])[0],
      axis_name="batch"))(x)
  # float32 noise through ~100 train-mode BatchNorms is at most ~1e-3 of the map range; a BatchNorm that
  # normalises each example alone instead moves the maps by ~30-100% of it.
  for a, b in zip(jax.tree.leaves(ref), jax.tree.leaves(per_example)):
    np.testing.assert_allclose(b[:, 0], a, rtol=0, atol=1e-2 * float(jnp.max(jnp.abs(a))))


@pytest.mark.slow
def test_one_training_step_reaches_every_head_and_the_regression():
  """One jitted Adam step (``make_train_step``). Adam's first update of a parameter is nonzero
  exactly where its gradient is, so the moved parameters show the gradient reaching every scale's
  1×1 head (through the ``pyramid`` term), the GT score head and the regression network. One stack keeps
  the test fast (the stack loop is exercised by the forward tests above)."""
  model = MSN(**{**TINY, "num_stacks": 1}, supervised_scales=4, regression=True)
  tx = optax.adam(1e-3)
  state = state_lib.create(model, tx, jax.random.key(0), (1, 64, 64, 3))
  batch = _batch()
  new_state, metrics = jax.jit(make_train_step(model, tx, _family()))(state, batch)
  assert int(new_state.step) == 1
  assert {"loss", "heatmaps", "pyramid", "grad_norm"} <= set(metrics)
  assert all(bool(jnp.isfinite(metrics[k])) for k in ("loss", "heatmaps", "pyramid"))
  assert float(metrics["pyramid"]) > 0
  np.testing.assert_allclose(metrics["loss"], metrics["heatmaps"] + metrics["pyramid"], rtol=1e-6)
  moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state.params, new_state.params)
  heads = sorted(k for k in moved if k.startswith("scale_head"))
  assert heads == ["scale_head0_2", "scale_head0_4", "scale_head0_8"]
  for name in heads + ["score0", "regression"]:
    assert all(jax.tree.leaves(moved[name])), name
  assert len(jax.tree.leaves(moved["regression"])) == 2 * 4 + 2  # 2 dilated convs + BNs, 1×1 score
  changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state.batch_stats, new_state.batch_stats)
  assert all(jax.tree.leaves(changed))


@pytest.mark.slow
def test_bfloat16_computation_float32_outputs_and_params():
  model = MSN(**TINY, dtype=jnp.bfloat16)
  x = jax.ShapeDtypeStruct((1, 64, 64, 3), jnp.float32)
  variables = jax.eval_shape(model.init, jax.random.key(0), x)
  out = jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables, x)
  assert all(a.dtype == jnp.float32 for a in jax.tree.leaves(out))
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables["params"]))
