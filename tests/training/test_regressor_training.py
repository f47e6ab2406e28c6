"""Training the course report's regressors (Chen et al., UCSD, §2.2 and §3.3): one step of each
network through the coords family, the two phases (phase 2 starts from phase 1, trains only the
regression branch and leaves everything else bit-identical, BatchNorm statistics included),
init_from's fresh/copied report and errors, the recipes' checks, and evaluate.py's visibility
accuracy on a trained regressor. Weight decay and gradient clipping: tests/training/test_optim.py."""
import contextlib
import importlib
import io
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxpose.configs import default, regressor_lsp
from jaxpose import checkpoint, config_check, families, inference, models
from jaxpose.errors import ConfigError
from jaxpose.training import loop, optim
from jaxpose.training import state as state_lib
from jaxpose.training.step import make_train_step
from conftest import ROOT, cli_env

# Each network at a size that takes milliseconds (16 joints: the synthetic MPII skeleton).
TINY = {
    "baseline1": dict(width_mult=0.25, fc_features=(32, 32)),
    "baseline2": dict(width_mult=0.25, fc_features=(32, 32)),
    "alexnet": dict(width_mult=1 / 16, fc_features=(32, 32), stem_stride=2),
    "vgg19": dict(width_mult=1 / 32, fc_features=(32, 32), batch_norm=True),
}
SIZE = {"baseline1": 64, "baseline2": 64, "alexnet": 72, "vgg19": 32}
RECIPES = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "configs"))
                 if f.startswith("regressor_") and f.endswith(".py"))


def _config(model="baseline1", phase="1", image_size=None, **fields):
  """configs/default.py with a tiny regressor in ``phase`` (regressor_lsp.two_phase) on the tiny
  synthetic budget of conftest."""
  from conftest import tiny_budget
  c = default.get_config()
  c.model = ml_collections.ConfigDict({"name": model, "num_joints": 16, "regression": True,
                                       **TINY[model], **fields})
  regressor_lsp.two_phase(c, "tiny_regressor", phase)
  c = tiny_budget(c)
  c.data.image_size = image_size or SIZE[model]
  c.train.optimizer = "adam"
  c.eval.metrics = regressor_lsp.REGRESSOR_METRICS
  return c


def _batch(c, n=4, seed=0):
  rng = np.random.default_rng(seed)
  s, k = int(c.data.image_size), int(c.model.num_joints)
  return {"image": jnp.asarray(rng.normal(size=(n, s, s, 3)), jnp.float32),
          "coords": jnp.asarray(rng.uniform(0.2, 0.8, (n, k, 2)), jnp.float32),
          "present": jnp.asarray(rng.uniform(size=(n, k)) > 0.3, jnp.float32),
          "target_weight": jnp.ones((n, k), jnp.float32)}


def _one_step(c):
  model = models.create(c.model)
  tx = optim.optimizer(c.train, optim.schedule(c.train, 10, 10))
  size = int(c.data.image_size)
  state = state_lib.create(model, tx, jax.random.PRNGKey(0), (1, size, size, 3))
  step = jax.jit(make_train_step(model, tx, families.get(c),
                                 frozen=config_check.frozen_predicate(c.train)))
  new, metrics = step(state, _batch(c))
  return state, new, jax.device_get(metrics)


def _bits(x):
  x = np.asarray(x)
  return x.view(np.dtype(f"u{x.dtype.itemsize}"))


def _assert_bit_identical(a, b):
  jax.tree_util.tree_map(lambda x, y: np.testing.assert_array_equal(_bits(x), _bits(y)), a, b)


def _changed(a, b):
  return any(not np.array_equal(x, y) for x, y in
             zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(TINY))
def test_one_step_of_each_regressor_trains_both_heads(model):
  c = _config(model)
  c.model.regression = True  # the whole phase-2 network, nothing frozen: every layer moves
  old, new, metrics = _one_step(c)
  assert np.isfinite(metrics["coords"]) and np.isfinite(metrics["visibility"])
  np.testing.assert_allclose(metrics["loss"], metrics["coords"] + metrics["visibility"], rtol=1e-6)
  assert metrics["grad_norm"] > 0
  for name in old.params:
    assert _changed(old.params[name], new.params[name]), name


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(TINY))
def test_phase_two_step_moves_only_the_regression_branch(model):
  old, new, metrics = _one_step(_config(model, "2"))
  for name in old.params:
    if name.startswith("reg_"):
      assert _changed(old.params[name], new.params[name]), name
    else:
      _assert_bit_identical(old.params[name], new.params[name])
  _assert_bit_identical(old.batch_stats, new.batch_stats)  # BatchNorm statistics kept (VGG-19)
  if model == "vgg19":
    assert old.batch_stats  # the check above had statistics to keep
  assert metrics["grad_norm"] > 0 and "coords" in metrics


def test_frozen_prefixes_and_trainable_prefixes():
  def predicate(**train):
    return config_check.frozen_predicate(ml_collections.ConfigDict(train))
  f = predicate(frozen=("conv", "bn"), trainable=())
  assert f("conv1") and f("bn3") and not f("fc1") and not f("reg_fc1")
  f = predicate(frozen=("fc2",), trainable=("reg_", "fc"))
  assert f("conv1") and f("fc2") and not f("fc1") and not f("reg_out")
  assert predicate(frozen=(), trainable=()) is None


@pytest.mark.parametrize("key,value,match", [
    ("frozen", ("conv", "cnv"), r"train.frozen: prefix 'cnv' matches no parameter of model "
                                r"baseline1 \(its top-level parameters: bn1, bn2, cls_out, conv1"),
    ("trainable", ("xyz",), r"train.trainable: prefix 'xyz' matches no parameter"),
    ("trainable", ("",), r"train.trainable=\('',\): expected a tuple of parameter-name prefixes"),
    ("frozen", ("c", "f", "bn"), r"every parameter of model baseline1 is frozen"),
])
def test_bad_frozen_keys_name_the_key(key, value, match):
  c = _config(batch_norm=True)
  c.train[key] = value
  c.init_from = "runs/somewhere"
  with pytest.raises(ConfigError, match=match):
    config_check.check_training(c)


def test_freezing_without_init_from_is_refused():
  c = _config(phase="2")
  c.init_from = ""
  with pytest.raises(ConfigError, match=r"train.trainable=\('reg_',\) freeze parameters, but "
                                        r"init_from is empty"):
    config_check.check_training(c)


def test_phase_switch_is_the_config_argument():
  c1 = importlib.import_module("configs.regressor_alexnet_lsp").get_config()
  c2 = importlib.import_module("configs.regressor_alexnet_lsp").get_config("2")
  assert c1.name == "regressor_alexnet_lsp_p1" and not c1.model.regression and not c1.init_from
  assert c2.model.regression and c2.train.trainable == ("reg_",)
  assert c2.init_from == "runs/regressor_alexnet_lsp_p1"
  with pytest.raises(ValueError, match=r"phase '3'; expected 1 or 2"):
    importlib.import_module("configs.regressor_alexnet_lsp").get_config("3")


@pytest.mark.parametrize("name", RECIPES)
def test_every_regressor_recipe_passes_in_phase_two(name):
  c = importlib.import_module(f"configs.{name}").get_config("2")
  config_check.check_training(c)
  assert c.data.name == "lsp_lspet" and c.data.eval_split == "test"
  assert tuple(c.eval.metrics) == regressor_lsp.REGRESSOR_METRICS


@pytest.mark.parametrize("name", [r for r in RECIPES if r.endswith("_cpu")] + ["deeppose_lsp_cpu"])
def test_cpu_recipes_build_batchnorm_networks_without_dropout(name):
  """common.regressor_cpu_budget: the originals' layers (no BatchNorm, dropout 0.5) collapse to
  a constant output at the CPU budget; its networks normalise every convolution instead."""
  c = importlib.import_module(f"configs.{name}").get_config("2")
  model = models.create(c.model)
  size = c.data.image_size
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, size, size, 3))))
  assert model.batch_norm and model.dropout_rate == 0.0 and "batch_stats" in shapes
  assert c.train.optimizer == "adam" and c.train.learning_rate == 3e-4


# ------------------------------------------------------------- two phases through loop.train
@pytest.fixture(scope="module")
def two_phases(tmp_path_factory, cache_dir):
  """A tiny Baseline-1 with BatchNorm: phase 1 (6 steps), then phase 2 from it (6 steps)."""
  root = tmp_path_factory.mktemp("regressor")
  p1, p2 = str(root / "p1"), str(root / "p2")
  c1 = _config(batch_norm=True)
  loop.train(c1, p1)
  c2 = _config(phase="2", batch_norm=True)
  c2.init_from = p1
  log = io.StringIO()
  with contextlib.redirect_stdout(log):
    results = loop.train(c2, p2)
  return c1, c2, p1, p2, log.getvalue(), results


@pytest.mark.slow
def test_phase_two_leaves_the_frozen_layers_bit_identical(two_phases):
  c1, c2, p1, p2, _, _ = two_phases
  v1, v2 = inference.load(p1).variables, inference.load(p2).variables
  assert set(v1["params"]) == {k for k in v2["params"] if not k.startswith("reg_")}
  for col in ("params", "batch_stats"):
    _assert_bit_identical(v1[col], {k: v for k, v in v2[col].items() if k in v1[col]})
  assert v1["batch_stats"]  # there were BatchNorm statistics to keep
  # the regression branch trained: it is no longer its fresh initialisation
  model = models.create(c2.model)
  fresh = loop.create_state(c2, model, optim.optimizer(c2.train, optax.constant_schedule(1e-3)))
  for name in ("reg_fc1", "reg_fc2", "reg_out"):
    assert _changed(fresh.params[name], v2["params"][name]), name


@pytest.mark.slow
def test_the_log_names_the_fresh_and_frozen_parameters(two_phases):
  _, _, p1, _, log, _ = two_phases
  line = next(l for l in log.splitlines() if l.startswith("init_from"))
  assert os.path.join(p1, "checkpoints", "6") in line
  assert "fresh (not in the checkpoint): params/reg_fc1, params/reg_fc2, params/reg_out" in line
  assert "copied 18 arrays" in line  # conv1/2, bn1/2 (+ 2×2 statistics), fc1/2, cls_out
  frozen = next(l for l in log.splitlines() if l.startswith("frozen"))
  assert "train.trainable=('reg_',)" in frozen
  assert "bn1, bn2, cls_out, conv1, conv2, fc1, fc2;" in frozen
  assert "training reg_fc1, reg_fc2, reg_out" in frozen


def test_checkpoint_round_trip_of_phase_two(two_phases):
  _, c2, _, p2, _, in_memory = two_phases
  mngr = checkpoint.manager(p2, read_only=True)
  assert mngr.latest_step() == 6
  model = models.create(c2.model)
  tx = optim.optimizer(c2.train, optax.constant_schedule(1e-3))
  target = loop.create_state(c2, model, tx)
  state = checkpoint.restore_state(mngr, 6, target)  # whole state, multi_transform opt_state too
  assert int(state.step) == 6
  structure = jax.tree_util.tree_structure
  assert structure(state.opt_state) == structure(target.opt_state)
  _assert_bit_identical(state.params, inference.load(p2).variables["params"])
  restored = inference.evaluate(inference.load(p2), c2.data.eval_split)
  assert restored["metrics"] == in_memory["metrics"] and "Visibility-acc" in restored["metrics"]


@pytest.mark.slow
def test_init_from_refuses_a_shape_mismatch_naming_the_leaf(two_phases, tmp_path):
  _, _, p1, _, _, _ = two_phases
  c = _config(phase="2", batch_norm=True, fc_features=(48, 32))
  c.init_from = p1
  with pytest.raises(checkpoint.CheckpointError,
                     match=r"checkpoints/6: params/fc1/kernel has shape \(256, 32\), this network "
                           r"has \(256, 48\)"):
    loop.train(c, str(tmp_path / "bad"))


@pytest.mark.slow
def test_evaluate_prints_the_visibility_accuracy(two_phases, cache_dir):
  _, _, _, p2, _, _ = two_phases
  env = cli_env(cache_dir)
  p = subprocess.run([sys.executable, "evaluate.py", f"--workdir={p2}", "--split=test"], cwd=ROOT,
                     env=env, capture_output=True, text=True, timeout=600)
  assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
  for title in ("Visibility-acc", "PCK-height@1/12", "PCK@0.2"):
    assert title in p.stdout, p.stdout[-2000:]
