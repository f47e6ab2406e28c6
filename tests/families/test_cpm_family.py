"""The CPM family (jaxpose.families.CPMFamily; Wei et al. 2016 §3.3): intermediate supervision
of every stage's joint and background beliefs, prediction from the last stage (or any stage) through
the family contract, checkpoints, the flip test, and the background never decoded as a joint."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxpose import families, inference, models
from jaxpose.errors import ConfigError
from jaxpose.training import optim
from jaxpose.training import state as state_lib
from jaxpose.training.step import make_train_step

TINY = dict(name="cpm", num_joints=16, num_stages=2, width=2, num_pools=2)


def _config(image_size=32, heatmap_size=8, **model):
  """configs/default.py (synthetic data, 16 joints) with a tiny CPM: 32 px → 8×8 beliefs."""
  from jaxpose.configs import default
  c = default.get_config()
  c.model = ml_collections.ConfigDict(dict(TINY, **model))
  c.data.image_size = image_size
  c.data.heatmap_size = heatmap_size
  c.eval.stage = 0
  return c


def _targets(rng, b, h, k, weight):
  """Joint maps as ``codecs.heatmap.encode`` gives them: all zero where the weight is 0."""
  maps = rng.uniform(size=(b, h, h, k)).astype(np.float32)
  return maps * weight[:, None, None, :]


def test_family_is_registered():
  fam = families.get(_config())
  assert type(fam) is families.CPMFamily and fam.name == "cpm"
  assert fam.targets() == ("heatmaps",)
  assert set(fam.loss_terms()) == {"heatmaps", "background"}


def test_summed_loss_is_eq4_over_stages_by_hand():
  """Σ_t [Σ_{b,y,x,k} w_bk (b_t − b*)² + Σ_{b,y,x} (bg_t − max(1 − max_k b*, 0))²] / (B·h·w·K),
  each term weighted by loss.weights, written as plain loops."""
  c = _config()
  c.loss.weights.background = 0.5
  fam = families.get(c)
  rng = np.random.default_rng(0)
  t_, b_, h, k = 3, 2, 4, 16
  weight = np.ones((b_, k), np.float32)
  weight[0, 3] = weight[1, 7] = weight[1, 8] = 0.0  # unannotated / outside the crop
  target = _targets(rng, b_, h, k, weight)
  joints = [rng.normal(size=(b_, h, h, k)).astype(np.float32) for _ in range(t_)]
  bgs = [rng.normal(size=(b_, h, h, 1)).astype(np.float32) for _ in range(t_)]
  total, terms = fam.loss({"heatmaps": tuple(map(jnp.asarray, joints)),
                           "background": tuple(map(jnp.asarray, bgs))},
                          {"heatmaps": jnp.asarray(target), "target_weight": jnp.asarray(weight)})
  heat = back = 0.0
  for t in range(t_):
    for b in range(b_):
      for y in range(h):
        for x in range(h):
          envelope = 0.0
          for j in range(k):
            heat += weight[b, j] * (float(joints[t][b, y, x, j]) - float(target[b, y, x, j])) ** 2
            envelope = max(envelope, float(target[b, y, x, j]))
          back += (float(bgs[t][b, y, x, 0]) - max(1.0 - envelope, 0.0)) ** 2
  n = b_ * h * h * k
  np.testing.assert_allclose(terms["heatmaps"], heat / n, rtol=1e-5)
  np.testing.assert_allclose(terms["background"], back / n, rtol=1e-5)
  np.testing.assert_allclose(total, heat / n + 0.5 * back / n, rtol=1e-5)


def test_background_weight_needs_the_cpm_family():
  c = _config()
  c.model = ml_collections.ConfigDict({"name": "hourglass", "num_stacks": 1, "features": 8,
                                       "depth": 1, "num_joints": 16})
  c.loss.weights.background = 1.0
  with pytest.raises(ConfigError, match=r"heatmap family has no 'background' loss term"):
    families.get(c).loss_weights()


@pytest.mark.slow
def test_one_train_step_trains_joints_and_background():
  c = _config()
  c.train.schedule.warmup_steps = 0  # a step at learning rate 0 would not move anything
  fam = families.get(c)
  model = models.create(c.model)
  tx = optim.optimizer(c.train, optim.schedule(c.train, 10, 10))
  # the "rbg" PRNG compiles about 5× faster than threefry on XLA CPU (tests/test_cpm.py)
  state = state_lib.create(model, tx, jax.random.key(0, impl="rbg"), (1, 32, 32, 3))
  rng = np.random.default_rng(1)
  weight = np.ones((4, 16), np.float32)
  weight[0, :4] = 0.0
  batch = {"image": rng.normal(size=(4, 32, 32, 3)).astype(np.float32),
           "heatmaps": _targets(rng, 4, 8, 16, weight), "target_weight": weight}
  before = jax.tree.map(np.asarray, state.params)
  new, metrics = jax.jit(make_train_step(model, tx, fam))(state, batch)
  metrics = jax.tree.map(float, metrics)
  assert int(new.step) == 1
  assert np.isfinite(metrics["loss"]) and metrics["background"] > 0 and metrics["heatmaps"] > 0
  np.testing.assert_allclose(metrics["loss"], metrics["heatmaps"] + metrics["background"],
                             rtol=1e-6)
  # Each stage's belief layer moved, every output column included; the last stage's
  # background column (index K of Mconv7_stage2) feeds nothing but the background term.
  for layer in ("conv5_2_CPM", "Mconv7_stage2"):
    moved = np.abs(np.asarray(new.params[layer]["kernel"]) - before[layer]["kernel"]).sum(0)
    assert moved.shape == (17,) and np.all(moved > 0), layer


def test_final_stage_panels_and_the_background_is_not_a_joint():
  fam = families.get(_config())
  k, h = 16, 8
  rng = np.random.default_rng(2)
  stages = [rng.uniform(0, 0.1, size=(2, h, h, k)).astype(np.float32) for _ in range(2)]
  stages[1][:, 2, 5, :] = 1.0   # every joint of the last stage peaks at (x 5, y 2)
  stages[0][:, 6, 1, :] = 1.0   # stage 1 elsewhere
  background = tuple(np.zeros((2, h, h, 1), np.float32) for _ in range(2))
  background[1][:, 7, 7, 0] = 100.0  # a far stronger peak in the background map
  outputs = {"heatmaps": tuple(stages), "background": background}
  final = fam.final(outputs)
  assert set(final) == {"heatmaps"} and final["heatmaps"].shape == (2, h, h, k)
  pred = fam.decode(final)
  assert pred["keypoints"].shape == (2, k, 2) and pred["scores"].shape == (2, k)
  # 32 px crop, 8×8 maps: crop x = (u + 0.5)·4 − 0.5 (±1 px for the quarter-pixel shift)
  np.testing.assert_allclose(pred["keypoints"][..., 0], 21.5, atol=1.0)
  np.testing.assert_allclose(pred["keypoints"][..., 1], 9.5, atol=1.0)
  np.testing.assert_allclose(pred["scores"], 1.0)
  panels = fam.heatmap_panels(outputs, 1, stacks=True)
  assert [t for t, _ in panels] == ["stage 1", "stage 2"]
  assert all(m.shape == (h, h, k) for _, m in panels)
  assert [t for t, _ in fam.heatmap_panels(outputs, 1)] == ["final"]
  # eval.stage = 1: the same contract, predicting from stage 1
  c = _config()
  c.eval.stage = 1
  pred1 = families.get(c).decode(families.get(c).final(outputs))
  np.testing.assert_allclose(pred1["keypoints"][..., 1], 25.5, atol=1.0)


def test_stage_and_outputs_are_checked():
  c = _config()
  c.eval.stage = 3
  with pytest.raises(ConfigError, match=r"eval.stage=3: the model has stages 1 … 2"):
    families.get(c).check(c)
  fam = families.get(_config())
  shape = jax.ShapeDtypeStruct((1, 8, 8, 16), jnp.float32)
  with pytest.raises(ConfigError, match=r"must output 'background'"):
    fam.check_outputs({"heatmaps": (shape, shape)})
  fam.check_outputs(fam.output_shapes())


# ---- end to end on the synthetic data: train, checkpoint, restore, flip test ----

@pytest.fixture(scope="module")
def trained(tmp_path_factory, cache_dir):
  from conftest import tiny_budget
  from jaxpose.training import loop
  c = tiny_budget(_config(heatmap_size=16))  # 64 px crops → 16×16 beliefs
  workdir = str(tmp_path_factory.mktemp("cpm"))
  results = loop.train(c, workdir)
  return c, workdir, results


@pytest.mark.slow
def test_checkpoint_round_trip_gives_the_same_predictions(trained):
  c, workdir, in_memory = trained
  predictor = inference.load(workdir)
  assert type(predictor.family) is families.CPMFamily
  assert predictor.step == c.train.num_steps
  restored = inference.evaluate(predictor, c.data.eval_split)
  assert restored["metrics"] == in_memory["metrics"]
  for key in ("keypoints", "scores"):
    np.testing.assert_array_equal(restored["_predictions"][key], in_memory["_predictions"][key])
  # per stage through eval.stage (configs/cpm_lsp_cpu.py): stage 2 of 2 is the final prediction
  x = np.random.default_rng(3).normal(size=(2, 64, 64, 3)).astype(np.float32)
  out = predictor.outputs(x)
  assert len(out["heatmaps"]) == len(out["background"]) == 2
  np.testing.assert_array_equal(predictor.final(x)["heatmaps"], out["heatmaps"][-1])
  staged = predictor.config.copy_and_resolve_references()
  staged.eval.stage = 1
  first = inference.Predictor(staged, predictor.variables, predictor.step)
  np.testing.assert_allclose(first.final(x)["heatmaps"], out["heatmaps"][0], atol=1e-6)


@pytest.mark.slow
def test_flip_test_through_the_contract(trained):
  _, workdir, _ = trained
  flipped = inference.load(workdir, flip=True)
  plain = inference.load(workdir)
  x = np.random.default_rng(4).normal(size=(2, 64, 64, 3)).astype(np.float32)
  a = plain.final(x)["heatmaps"]
  b = plain.final(x[:, :, ::-1])["heatmaps"]     # the mirrored crop
  perm = flipped.family.flip_perm
  expect = 0.5 * (a + b[:, :, ::-1, :][..., perm])  # flipped back: mirror x, swap left/right
  merged = flipped.final(x)["heatmaps"]
  np.testing.assert_allclose(merged, expect, atol=1e-6)
  assert not np.allclose(merged, a, atol=1e-6)  # the network is not flip-equivariant
  assert flipped.predict_crops(x)["keypoints"].shape == (2, 16, 2)
