"""Part-based branching network (Tang & Wu, CVPR 2019 §3.2–3.3, §4.3): capacity, shapes, groups."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxpose import models
from jaxpose.models import PBN
from jaxpose.models.hourglass import HourglassStem
from jaxpose.models.pbn import (MPII_BODY_GROUPS, MPII_OVERLAP_GROUPS, MPII_STAT_GROUPS,
                                scatter_groups, validate_groups)
from jaxpose.training import state as train_state
from jaxpose.training.step import make_train_step

TINY = dict(num_stacks=2, features=16, branch_width=8, depth=2)  # runs at 32² and 64² in seconds


def _count(tree):
  return sum(math.prod(x.shape) for x in jax.tree.leaves(tree))


def _abstract(model, size=64):
  x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
  return jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), x)


def _concrete(abstract, seed=0):
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda s: jnp.asarray(0.1 * rng.standard_normal(s.shape), s.dtype), abstract)


def _variables(model, size, seed=0):
  abstract = _abstract(model, size)
  return {"params": _concrete(abstract["params"], seed),
          "batch_stats": jax.tree.map(lambda s: jnp.ones(s.shape, s.dtype), abstract["batch_stats"])}


# ---- parameter count from the paper's layer list, independently of the module code ----

from param_counts import bn as _bn, bottleneck as _bottleneck, conv as _conv  # noqa: E402


def _expected(num_stacks=8, num_joints=16, groups=MPII_STAT_GROUPS, width=64, depth=1,
              head="branches", fusion="shared", after_hourglass=("residual", "lin"),
              orange_conv=True, f=256, hg_depth=4):
  stem = (_conv(3, 64, 3) + _conv(64, 64, 3) * 2 + 3 * _bn(64)
          + _bottleneck(64, 128) + _bottleneck(128, 128) + _bottleneck(128, 256))
  assert f == 256
  stack = (3 * hg_depth + 1) * _bottleneck(f, f)
  stack += _bottleneck(f, f) if "residual" in after_hourglass else 0
  stack += _conv(f, f) + _bn(f) if "lin" in after_hourglass else 0
  if head == "branches":
    stack += sum(_conv(f, width) + depth * _bottleneck(width, width) + _conv(width, len(g))
                 for g in groups)
    specific = len(groups) * width
  elif head == "deep":
    stack += _bottleneck(f, f) + _conv(f, num_joints)
    specific = f
  else:
    stack += _conv(f, num_joints)
  remap = _conv(num_joints, f)
  if fusion in ("shared", "both"):
    remap += _conv(f, f) if orange_conv else 0
  if fusion in ("specific", "both"):
    remap += _conv(specific, f)
  return stem + num_stacks * stack + (num_stacks - 1) * remap


@pytest.mark.slow
@pytest.mark.parametrize("head,paper", [("branches", 26.69e6), ("deep", 27.22e6)])
def test_table6_parameter_counts(head, paper):
  """Table 6: 8 stacks, W = 64, D = 1, five MPII groups, 16 joints (abstract init only)."""
  n = _count(_abstract(PBN(num_stacks=8, head=head))["params"])
  assert n == _expected(head=head)
  assert abs(n / paper - 1) < 0.005, (n, paper)


@pytest.mark.slow
def test_plain_baseline_count():
  n = _count(_abstract(PBN(num_stacks=8, head="linear"))["params"])
  assert n == _expected(head="linear") == 25_500_544


def test_other_readings_miss_table6():
  """The readings the module docstring rejects are more than 0.5% off Table 6 for PBN or Deep BS."""
  chosen = dict(after_hourglass=("residual", "lin"), orange_conv=True)
  others = [dict(after_hourglass=(), orange_conv=True), dict(after_hourglass=("lin",), orange_conv=True),
            dict(after_hourglass=("residual",), orange_conv=True),
            dict(after_hourglass=("residual", "lin"), orange_conv=False)]
  def off(reading):
    return max(abs(_expected(head="branches", **reading) / 26.69e6 - 1),
               abs(_expected(head="deep", **reading) / 27.22e6 - 1))
  assert off(chosen) < 0.005
  assert all(off(r) > 0.01 for r in others)


@pytest.mark.parametrize("cfg", [
    dict(num_stacks=3, branch_width=128, branch_depth=2, groups=MPII_BODY_GROUPS),
    dict(num_stacks=2, branch_depth=0, groups=MPII_OVERLAP_GROUPS, fusion="specific"),
    dict(num_stacks=2, groups=(tuple(range(16)),), fusion="both"),
    dict(num_stacks=2, head="deep", fusion="specific"),
    dict(num_stacks=1, num_joints=14, groups=tuple((j,) for j in range(14))),
])
@pytest.mark.slow
def test_parameter_count_variants(cfg):
  expected = _expected(num_stacks=cfg["num_stacks"], num_joints=cfg.get("num_joints", 16),
                       groups=cfg.get("groups", MPII_STAT_GROUPS), width=cfg.get("branch_width", 64),
                       depth=cfg.get("branch_depth", 1), head=cfg.get("head", "branches"),
                       fusion=cfg.get("fusion", "shared"))
  assert _count(_abstract(PBN(**cfg))["params"]) == expected


def test_stem_shape():
  """§3.2: 256×256×3 → 64×64×256."""
  x = jax.ShapeDtypeStruct((1, 256, 256, 3), jnp.float32)
  stem = HourglassStem(entry="pbn")
  v = jax.eval_shape(stem.init, jax.random.key(0), x)
  assert jax.eval_shape(stem.apply, v, x).shape == (1, 64, 64, 256)


# ---- output protocol ----

@pytest.mark.parametrize("cfg", [
    dict(TINY),
    dict(TINY, groups=MPII_BODY_GROUPS),
    dict(TINY, groups=MPII_OVERLAP_GROUPS, fusion="both"),
    dict(TINY, groups=(tuple(range(16)),), fusion="specific"),
    dict(TINY, num_joints=14, groups=((0, 1, 2), (3, 4, 5), (6, 7, 8, 2), (9, 10, 11, 3), (12, 13))),
    dict(TINY, head="deep", fusion="both"),
    dict(TINY, head="linear", num_stacks=3),
    dict(TINY, branch_depth=2, num_blocks=2, dtype=jnp.bfloat16),
])
@pytest.mark.slow
@pytest.mark.parametrize("train", [False, True])
def test_output_shapes(cfg, train):
  model = PBN(**cfg)
  x = jax.ShapeDtypeStruct((2, 32, 64, 3), jnp.float32)
  variables = jax.eval_shape(model.init, jax.random.key(0), x)
  out = jax.eval_shape(lambda v, x: model.apply(v, x, train=train,
                                                mutable=["batch_stats"] if train else False),
                       variables, x)
  if train:
    out, updates = out
    assert jax.tree.map(jnp.shape, updates["batch_stats"]) == \
        jax.tree.map(jnp.shape, variables["batch_stats"])
  assert set(out) == {"heatmaps"}
  hm = out["heatmaps"]
  assert isinstance(hm, tuple) and len(hm) == model.num_stacks
  for h in hm:
    assert h.shape == (2, 8, 16, model.num_joints) and h.dtype == jnp.float32
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables["params"]))


def test_bad_input_size():
  with pytest.raises(ValueError, match="divisible"):
    _abstract(PBN(**TINY), size=40)


@pytest.mark.slow
def test_each_group_drives_only_its_joints():
  """Branch g (§3.2) regresses exactly the joints of group g: perturbing its parameters in a
  one-stack model changes those heat maps and no others; a shared joint (§4.3) moves by half."""
  groups = ((0, 1, 2), (2, 3), (4,))
  model = PBN(**dict(TINY, num_stacks=1, num_joints=5, groups=groups))
  variables = _variables(model, 32)
  x = jax.random.normal(jax.random.key(1), (1, 32, 32, 3))
  apply = jax.jit(lambda v: model.apply(v, x, train=False)["heatmaps"][-1])
  base = apply(variables)
  for g, idx in enumerate(groups):
    params = jax.tree.map(lambda a: a, variables["params"])
    bias = params["branches0"][f"score{g}"]["bias"]
    params["branches0"][f"score{g}"] = dict(params["branches0"][f"score{g}"], bias=bias + 1.0)
    delta = np.asarray(apply({**variables, "params": params}) - base)
    for j in range(5):
      share = sum(j in grp for grp in groups)
      expect = (1.0 / share) if j in idx else 0.0
      np.testing.assert_allclose(delta[..., j], expect, atol=1e-5)


# ---- grouping helpers ----

def _gather(h, groups):
  """(…, K) maps split into one (…, |g|) array per group, in each group's joint order."""
  return [h[..., list(g)] for g in groups]


@pytest.mark.slow
def test_gather_scatter_round_trip():
  h = jax.random.normal(jax.random.key(0), (2, 4, 3, 16))
  for groups in (MPII_STAT_GROUPS, MPII_BODY_GROUPS, (tuple(range(16)),),
                 tuple((j,) for j in reversed(range(16)))):
    parts = _gather(h, groups)
    assert [p.shape[-1] for p in parts] == [len(g) for g in groups]
    np.testing.assert_array_equal(scatter_groups(parts, groups, 16), h)
  np.testing.assert_allclose(scatter_groups(_gather(h, MPII_OVERLAP_GROUPS), MPII_OVERLAP_GROUPS, 16),
                             h, rtol=1e-6)
  three = ((0, 1), (1, 2), (1, 3))  # joint 1 in three groups
  h4 = h[..., :4]
  np.testing.assert_allclose(scatter_groups(_gather(h4, three), three, 4), h4, rtol=1e-6)


def test_scatter_reads_maps_in_group_order():
  """Group g's maps are its joints in the group's own order, not sorted."""
  groups = ((4, 0), (2,), (1, 3))
  parts = [jnp.array(v).reshape(1, 1, 1, -1) for v in ([4.0, 0.0], [2.0], [1.0, 3.0])]
  np.testing.assert_array_equal(scatter_groups(parts, groups, 5).ravel(), np.arange(5.0))


def test_scatter_averages_overlapping_groups():
  """§4.3: "If multiple heat maps from different branches correspond to a same part, we use their
  average as the final prediction"."""
  a = jnp.array([10.0, 20.0]).reshape(1, 1, 1, 2)  # joints 2, 0
  b = jnp.array([1.0, 4.0, 7.0]).reshape(1, 1, 1, 3)  # joints 0, 1, 3
  c = jnp.array([3.0]).reshape(1, 1, 1, 1)  # joint 0
  out = scatter_groups([a, b, c], ((2, 0), (0, 1, 3), (0,)), 4)
  np.testing.assert_allclose(out.ravel(), [(20.0 + 1.0 + 3.0) / 3, 4.0, 10.0, 7.0], rtol=1e-6)


@pytest.mark.parametrize("groups,num_joints,match", [
    (((0, 1), (2,)), 4, r"joints \[3\] are in no group"),
    (((0, 1), (2, 4)), 4, r"outside \[0, 4\)"),
    (((0, -1), (1, 2, 3)), 4, r"outside"),
    (((0, 1), ()), 2, "non-empty"),
    (((0, 1, 1),), 2, "repeats"),
    (((0, 1.5),), 2, "non-integer"),
    (((0, True),), 2, "non-integer"),
    ((), 2, "non-empty"),
    ("01", 2, "non-empty sequence"),
])
def test_invalid_groups(groups, num_joints, match):
  with pytest.raises(ValueError, match=match):
    validate_groups(groups, num_joints)


def test_validate_normalises():
  assert validate_groups([[np.int64(1), 0], (2,)], 3) == ((1, 0), (2,))


def test_invalid_model_fields():
  with pytest.raises(ValueError, match="outside"):  # MPII default groups on a 14-joint skeleton
    _abstract(PBN(**dict(TINY, num_joints=14)), 32)
  with pytest.raises(ValueError, match="no group"):
    _abstract(PBN(**dict(TINY, groups=MPII_STAT_GROUPS[:-1])), 32)
  with pytest.raises(ValueError, match="head"):
    _abstract(PBN(**dict(TINY, head="wide")), 32)
  with pytest.raises(ValueError, match="fusion"):
    _abstract(PBN(**dict(TINY, fusion="orange")), 32)
  with pytest.raises(ValueError, match="no specific features"):
    _abstract(PBN(**dict(TINY, head="linear", fusion="specific")), 32)
  with pytest.raises(ValueError, match="branch_width"):
    _abstract(PBN(**dict(TINY, branch_width=7)), 32)
  with pytest.raises(ValueError, match="group maps"):
    scatter_groups([jnp.zeros((1, 2))], ((0,), (1,)), 2)


# ---- registry ----

def test_create_from_config():
  model = models.create({"name": "pbn", "num_stacks": 3, "branch_width": 32, "branch_depth": 2,
                         "groups": [[0, 1], [2, 3, 1]], "num_joints": 4, "head": "deep",
                         "fusion": "both", "dtype": "bfloat16", "bn_axis_name": "batch"})
  assert isinstance(model, PBN) and models.MODELS["pbn"] is PBN
  assert model.groups == ((0, 1), (2, 3, 1))  # lists from configs become hashable tuples
  assert (model.num_stacks, model.branch_width, model.branch_depth, model.num_joints) == (3, 32, 2, 4)
  assert (model.head, model.fusion, model.dtype, model.bn_axis_name) == ("deep", "both", jnp.bfloat16,
                                                                         "batch")
  hash(model.groups)
  default = models.create({"name": "pbn"})
  assert (default.num_stacks, default.features, default.branch_width, default.branch_depth,
          default.depth, default.groups) == (8, 256, 64, 1, 4, MPII_STAT_GROUPS)
  for field in ("num_joints", "num_stacks", "features", "branch_width", "branch_depth", "groups",
                "depth", "num_blocks", "dtype", "bn_axis_name"):
    assert field in models.fields(PBN)


# ---- execution on tiny models ----

@pytest.mark.slow
def test_gradients_reach_every_branch():
  model = PBN(**dict(TINY, depth=1, fusion="both"))
  variables = _variables(model, 32)
  x = jax.random.normal(jax.random.key(1), (2, 32, 32, 3))
  target = jax.random.uniform(jax.random.key(2), (2, 8, 8, 16))

  def loss(params):
    out, _ = model.apply({"params": params, "batch_stats": variables["batch_stats"]}, x, train=True,
                         mutable=["batch_stats"])
    return sum(jnp.mean((h - target) ** 2) for h in out["heatmaps"])

  grads = jax.jit(jax.grad(loss))(variables["params"])
  for i in range(model.num_stacks):
    branches = grads[f"branches{i}"]
    assert sorted(branches) == sorted(f"{k}{g}" for k in ("reduce", "res", "score")
                                      for g in range(len(MPII_STAT_GROUPS)))
    for name, sub in branches.items():
      for path, leaf in jax.tree_util.tree_leaves_with_path(sub):
        assert float(jnp.linalg.norm(leaf)) > 0, (i, name, jax.tree_util.keystr(path))


@pytest.mark.parametrize("cfg", [dict(TINY, fusion="both"), dict(TINY, head="deep", fusion="both"),
                                 dict(TINY, head="linear", branch_depth=3)])
@pytest.mark.slow
def test_bn_axis_name_reaches_every_batch_norm(cfg):
  """Every BatchNorm of the model is built with ``bn_axis_name`` (abstract trace, no compile)."""
  model = PBN(**cfg, bn_axis_name="shard")
  seen = []

  def interceptor(next_fun, args, kwargs, context):
    if isinstance(context.module, nn.BatchNorm) and context.method_name == "__call__":
      seen.append((context.module.axis_name, context.module.scope.path))
    return next_fun(*args, **kwargs)

  variables = _abstract(model, 32)
  x = jax.ShapeDtypeStruct((2, 1, 32, 32, 3), jnp.float32)
  with nn.intercept_methods(interceptor):  # the helper sets the axis in training only
    jax.eval_shape(lambda v, x: jax.vmap(
        lambda x: model.apply(v, x, train=True, mutable=["batch_stats"]), axis_name="shard")(x),
                   variables, x)
  num_bn = len(jax.tree.leaves(variables["batch_stats"])) // 2  # mean and var per BatchNorm
  assert num_bn > 0 and len(seen) == num_bn
  assert [p for a, p in seen if a != "shard"] == []


@pytest.mark.slow
def test_synchronised_batch_norm_matches_whole_batch():
  """With ``bn_axis_name`` set, 2 shards of 2 images (vmap with that axis) give what one batch of 4
  gives (per-shard statistics would be off by ~5e-2 here)."""
  cfg = dict(TINY, depth=1, fusion="both")
  plain, synced = PBN(**cfg), PBN(**cfg, bn_axis_name="shard")
  variables = _variables(plain, 32)
  x = jax.random.normal(jax.random.key(1), (4, 32, 32, 3))
  whole, stats = jax.jit(lambda v, x: plain.apply(v, x, train=True, mutable=["batch_stats"]))(
      variables, x)
  sharded, sstats = jax.jit(jax.vmap(
      lambda x: synced.apply(variables, x, train=True, mutable=["batch_stats"]),
      axis_name="shard"))(x.reshape(2, 2, 32, 32, 3))
  for h, hs in zip(whole["heatmaps"], sharded["heatmaps"]):
    np.testing.assert_allclose(hs.reshape(h.shape), h, atol=2e-3)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(b[0], a, rtol=1e-3, atol=1e-4), stats, sstats)


@pytest.mark.slow
def test_train_step_lowers_loss():
  model = models.create({"name": "pbn", **TINY, "depth": 1})
  tx = optax.adam(1e-3)
  state = train_state.create(model, tx, jax.random.key(0), (1, 64, 64, 3))
  rng = np.random.default_rng(0)
  batch = {"image": jnp.asarray(rng.standard_normal((2, 64, 64, 3)), jnp.float32),
           "heatmaps": jnp.asarray(rng.uniform(0, 1, (2, 16, 16, 16)) ** 8, jnp.float32),
           "target_weight": jnp.ones((2, 16), jnp.float32)}
  from jaxpose.configs import default
  from jaxpose.families import HeatmapFamily
  step = jax.jit(make_train_step(model, tx, HeatmapFamily(default.get_config())))
  losses = []
  new = state
  for _ in range(4):
    new, metrics = step(new, batch)
    losses.append(float(metrics["loss"]))
  assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
  assert int(new.step) == 4
  changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state.params, new.params)
  assert all(jax.tree.leaves(changed["branches0"])) and all(jax.tree.leaves(changed["branches1"]))
