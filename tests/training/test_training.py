"""Training loop: resume exactness, save/restore/evaluate, divergence and config errors."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpose import checkpoint, inference
from jaxpose.training import loop


def _params(workdir):
  return inference.load(workdir).variables


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, cache_dir):
  from conftest import tiny_config
  config = tiny_config()
  workdir = str(tmp_path_factory.mktemp("uninterrupted"))
  results = loop.train(config, workdir)
  return config, workdir, results


@pytest.mark.slow
def test_resume_after_interruption_equals_uninterrupted(uninterrupted, tmp_path):
  config, workdir, _ = uninterrupted
  resumed = str(tmp_path / "resumed")
  loop.train(config, resumed, stop_at=3)   # as if killed right after the step-3 checkpoint
  mngr = checkpoint.manager(resumed, read_only=True)
  assert mngr.latest_step() == 3
  loop.train(config, resumed)
  a, b = _params(workdir), _params(resumed)
  jax.tree_util.tree_map(lambda x, y: np.testing.assert_array_equal(x, y), a, b)


@pytest.mark.slow
def test_save_restore_evaluate_gives_identical_metrics(uninterrupted):
  config, workdir, in_memory = uninterrupted
  predictor = inference.load(workdir)
  assert predictor.step == config.train.num_steps
  restored = inference.evaluate(predictor, config.data.eval_split)
  assert restored["metrics"] == in_memory["metrics"]
  np.testing.assert_array_equal(restored["_predictions"]["keypoints"], in_memory["_predictions"]["keypoints"])
  # the config travels with the checkpoint
  assert os.path.isfile(os.path.join(workdir, "config.json"))
  assert predictor.config.model.features == config.model.features


@pytest.mark.slow
def test_checkpoint_from_another_config_is_refused(uninterrupted):
  config, workdir, _ = uninterrupted
  other = config.copy_and_resolve_references()
  other.model.features = 16
  with pytest.raises(checkpoint.CheckpointError, match=r"(?s)checkpoints/6.*model.features: checkpoint has 32, this config has 16"):
    loop.train(other, workdir)


@pytest.mark.slow
def test_nan_loss_stops_with_step_and_last_checkpoint(config, tmp_path, monkeypatch):
  # A NaN learning rate is refused at start-up (config_check), so the schedule itself turns
  # NaN here: the first update makes every parameter NaN, the loss of step 2 is NaN.
  schedule = loop.optim.schedule
  monkeypatch.setattr(loop.optim, "schedule", lambda *a: lambda step: schedule(*a)(step) * jnp.nan)
  config.train.log_every = 1
  with pytest.raises(loop.TrainingDiverged, match=r"at step 2.*Last good checkpoint: none"):
    loop.train(config, str(tmp_path))


def test_a_nan_learning_rate_is_refused_at_start_up(config, tmp_path):
  from jaxpose.errors import ConfigError
  config.train.learning_rate = float("nan")
  with pytest.raises(ConfigError, match=r"train.learning_rate=nan: must be > 0"):
    loop.train(config, str(tmp_path))


def test_train_is_the_loop_only():
  """Issue #40: ``train`` is the loop (≤ 60 lines: state, steps, logging, validation,
  checkpoints); what only some runs need is reached through calls made for every config, so
  loop.py names neither PBN nor the cascade's test."""
  import inspect
  lines = inspect.getsource(loop.train).splitlines()
  assert len(lines) <= 60, f"loop.train has {len(lines)} lines"
  source = inspect.getsource(loop).lower()
  for name in ("pbn", "is_cascade", "_previous_stages", "grouping.resolve_config"):
    assert name not in source, name


def test_stage_hooks_of_an_ordinary_run_and_of_a_refining_stage(tmp_path):
  import ml_collections
  from conftest import tiny_config
  from jaxpose.training import cascade
  config = tiny_config()
  assert type(cascade.stage_hooks(config)) is cascade.Hooks  # no cascade section: plain run
  config.cascade = ml_collections.ConfigDict({"stage": 1, "previous": ""})
  assert type(cascade.stage_hooks(config)) is cascade.Hooks  # stage 1: a plain regressor
  config.cascade.stage, config.cascade.previous = 2, "runs/s1"
  hooks = cascade.stage_hooks(config)
  assert isinstance(hooks, cascade.RefiningStage)
  assert config.cascade.previous == os.path.abspath("runs/s1")  # stored absolute
  with pytest.raises(checkpoint.CheckpointError, match="no trained stage 1 there"):
    cascade.previous_stages(config, str(tmp_path))
