"""The HMLPE family (Li et al. 2014): eq. (4)'s loss by hand and at the λ extremes, the mirrored
window labels, one training step, the detection metric and the config checks."""
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxpose.configs import default
from jaxpose import families, models, skeleton as skel
from jaxpose.config_check import check_metrics
from jaxpose.errors import ConfigError
from jaxpose.evaluation import metrics as metrics_lib
from conftest import cli_env


def hmlpe_config(image_size=112, **model):
  c = default.get_config()
  c.data.name = "buffy"
  c.data.image_size = image_size
  c.model = ml_collections.ConfigDict({"name": "hmlpe", "num_joints": 8, "num_parts": 7,
                                       "num_windows": 64, **model})
  return c


def small_config(**model):
  """A small HMLPE on 56×56 crops (the window layout scales with the crop)."""
  return hmlpe_config(56, features=(8, 8, 8), regression_hidden=(32,), detection_hidden=(32,),
                      **model)


def _batch(rng, b=3, k=8, p=7, l=64):
  valid = np.ones((b, k), np.float32)
  valid[0, 7] = 0  # r_wrist unannotated: the r_lower_arm part (5, 7) has no label
  return {"coords": rng.uniform(size=(b, k, 2)).astype(np.float32),
          "target_weight": valid * (rng.uniform(size=(b, k)) > 0.2),
          "valid": valid,
          "part_windows": (rng.uniform(size=(b, p, l)) > 0.7).astype(np.float32)}


def _outputs(rng, b=3, k=8, p=7, l=64):
  return {"coords": (rng.uniform(size=(b, k, 2)).astype(np.float32),),
          "part_logits": rng.normal(size=(b, p, l)).astype(np.float32)}


def test_registered_in_its_own_family():
  fam = families.get(hmlpe_config())
  assert isinstance(fam, families.HMLPEFamily) and fam.name == "hmlpe"
  assert fam.targets() == ("coords", "part_windows")
  assert fam.eval_inputs() == ("part_windows",)
  assert not fam.predicts_visibility
  fam.check(hmlpe_config())
  # regression only: no detection head, no part-window labels at evaluation
  assert families.get(hmlpe_config(heads=("coords",))).eval_inputs() == ()


def test_loss_equals_eq4_by_hand():
  rng = np.random.default_rng(0)
  out, batch = _outputs(rng), _batch(rng)
  c = hmlpe_config()
  c.loss.weights.coords, c.loss.weights.parts = 2.0, 0.5
  total, terms = families.get(c).loss(out, batch)

  pred, tgt, w = out["coords"][0], batch["coords"], batch["target_weight"]
  reg = np.mean([sum(w[t, i] * np.sum((pred[t, i] - tgt[t, i]) ** 2) for i in range(8))
                 for t in range(3)])
  sig = 1 / (1 + np.exp(-out["part_logits"].astype(np.float64)))
  y = batch["part_windows"]
  ce = -(y * np.log(sig) + (1 - y) * np.log(1 - sig))
  ends = [(a, b) for _, a, b in skel.UPPER_BODY.parts]
  det = np.mean([sum(ce[t, p].sum() for p, (a, b) in enumerate(ends)
                     if batch["valid"][t, a] and batch["valid"][t, b]) for t in range(3)])
  assert float(terms["coords"]) == pytest.approx(reg, rel=1e-5)
  assert float(terms["parts"]) == pytest.approx(det, rel=1e-5)
  assert float(total) == pytest.approx(2.0 * reg + 0.5 * det, rel=1e-5)
  # the unlabelled part of example 0 counts nothing: changing its labels changes no term
  batch2 = dict(batch, part_windows=batch["part_windows"].copy())
  batch2["part_windows"][0, 6] = 1 - batch2["part_windows"][0, 6]
  assert float(families.get(c).loss(out, batch2)[1]["parts"]) == pytest.approx(det, rel=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("off", ["coords", "parts"])
def test_lambda_extremes_reduce_to_one_task(off):
  """λ = 0 for one task: the total is the other task's term and the switched-off head gets no
  gradient; the shared layers see only the remaining task (= training it alone)."""
  c = small_config()
  setattr(c.loss.weights, off, 0.0)
  fam = families.get(c)
  model = models.create(c.model)
  x = jnp.asarray(np.random.default_rng(1).normal(size=(3, 56, 56, 3)), jnp.float32)
  variables = model.init({"params": jax.random.PRNGKey(0)}, x)
  batch = jax.tree_util.tree_map(jnp.asarray, _batch(np.random.default_rng(2)))

  def loss(params, heads=None):
    m = model if heads is None else models.create(ml_collections.ConfigDict(
        dict(c.model, heads=heads)))
    out = m.apply({"params": params}, x, train=False)
    total, terms = fam.loss(out, batch)
    return total, terms

  (total, terms), grads = jax.value_and_grad(loss, has_aux=True)(variables["params"])
  on = "parts" if off == "coords" else "coords"
  assert float(total) == pytest.approx(float(terms[on]), rel=1e-6)
  prefix = "reg_" if off == "coords" else "det_"
  dead = [k for k in grads if k.startswith(prefix)]
  assert dead and all(float(jnp.abs(g).max()) == 0 for k in dead
                      for g in jax.tree_util.tree_leaves(grads[k]))
  # the shared layers' gradient equals that of the one-task network
  alone_heads = ("parts",) if off == "coords" else ("coords",)
  alone = {k: v for k, v in variables["params"].items() if not k.startswith(prefix)}
  (_, _), g_alone = jax.value_and_grad(lambda p: loss(p, alone_heads), has_aux=True)(alone)
  for k in ("conv1", "conv2", "conv3"):
    np.testing.assert_allclose(grads[k]["kernel"], g_alone[k]["kernel"], rtol=1e-5, atol=1e-8)


def test_mirrored_window_labels_follow_part_and_window_flip():
  """The flip test's permutation: the labels of the mirrored crop are the labels of the crop
  with parts swapped left/right and window columns reversed."""
  from jaxpose.codecs import part_windows
  fam = families.get(hmlpe_config())
  sk = skel.UPPER_BODY
  boxes = part_windows.window_boxes()
  parts = [(a, b) for _, a, b in sk.parts]
  rng = np.random.default_rng(3)
  for _ in range(5):
    joints = rng.uniform(5, 106, size=(8, 2)).astype(np.float32)
    mirrored = np.stack([111.0 - joints[:, 0], joints[:, 1]], -1)[sk.flip_permutation]
    y = np.asarray(part_windows.encode(joints, np.ones(8), parts, boxes))
    ym = np.asarray(part_windows.encode(mirrored, np.ones(8), parts, boxes))
    np.testing.assert_array_equal(ym[fam.part_flip][:, fam.window_flip], y)
  # flip_merge of a prediction with its exact mirror returns the prediction
  probs = rng.uniform(size=(2, 7, 64)).astype(np.float32)
  coords = rng.uniform(size=(2, 8, 2)).astype(np.float32)
  mirror = {"parts": probs[:, fam.part_flip][:, :, fam.window_flip],
            "coords": np.concatenate([1 - coords[..., :1], coords[..., 1:]], -1)[:, sk.flip_permutation]}
  merged = fam.flip_merge({"parts": probs, "coords": coords}, mirror)
  np.testing.assert_allclose(merged["parts"], probs, rtol=1e-6)
  np.testing.assert_allclose(merged["coords"], coords, rtol=1e-6)


@pytest.mark.slow
def test_one_training_step_and_checkpoint_round_trip(tmp_path):
  import optax
  from jaxpose import checkpoint
  from jaxpose.training import state as state_lib
  from jaxpose.training.step import make_train_step
  c = small_config()
  fam = families.get(c)
  model = models.create(c.model)
  tx = optax.adam(1e-3)
  state = state_lib.create(model, tx, jax.random.PRNGKey(0), (1, 56, 56, 3))
  rng = np.random.default_rng(4)
  batch = dict(_batch(rng), image=rng.normal(size=(3, 56, 56, 3)).astype(np.float32))
  step = jax.jit(make_train_step(model, tx, fam))
  before = jax.tree_util.tree_map(np.asarray, state.params)
  state, m = step(state, batch)
  assert np.isfinite(float(m["loss"])) and {"coords", "parts"} <= set(m)
  changed = jax.tree_util.tree_map(lambda a, b: not np.array_equal(a, np.asarray(b)), before,
                                   state.params)
  assert all(jax.tree_util.tree_leaves(changed))

  mgr = checkpoint.manager(str(tmp_path))
  checkpoint.save(mgr, 1, state, c, {"validation_score": 0.0})
  assert checkpoint.restore_config(mgr, 1).model.name == "hmlpe"
  restored = checkpoint.restore_variables(
      mgr, 1, {"params": jax.eval_shape(lambda: state.params)})
  for a, b in zip(jax.tree_util.tree_leaves(state.params),
                  jax.tree_util.tree_leaves(restored["params"])):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_decode_and_detection_metric():
  fam = families.get(hmlpe_config())
  rng = np.random.default_rng(5)
  out = _outputs(rng)
  dec = fam.decode(fam.final(out))
  assert dec["keypoints"].shape == (3, 8, 2) and dec["parts"].shape == (3, 7, 64)
  np.testing.assert_allclose(dec["keypoints"], out["coords"][0] * 112 - 0.5, rtol=1e-6)
  y = (rng.uniform(size=(3, 7, 64)) > 0.5).astype(np.float32)
  gt = rng.uniform(0, 100, size=(3, 8, 2))
  valid = np.ones((3, 8))
  perfect = np.where(y > 0, 0.9, 0.1)
  r = metrics_lib.compute_metrics(["detection", "reg_error"], gt + 11.2, gt, valid, None,
                                  skel.UPPER_BODY, parts=perfect, part_windows=y,
                                  crop_height=112.0)
  assert r["metrics"]["Detection"]["Accuracy"] == 100.0
  assert r["metrics"]["Detection"]["Error"] == pytest.approx(-np.log(0.9), rel=1e-6)
  # 11.2 px in x and y on a 112-px box: 8 joints × 2 × 0.1² = 0.16
  assert r["metrics"]["Regression-error"]["Error"] == pytest.approx(0.16, rel=1e-6)
  coin = np.full_like(perfect, 0.5)
  r = metrics_lib.compute_metrics(["detection"], gt, gt, valid, None, skel.UPPER_BODY,
                                  parts=coin, part_windows=y)
  assert r["metrics"]["Detection"]["Error"] == pytest.approx(np.log(2), rel=1e-6)  # Table 3's 0.693


def test_config_checks():
  fam = families.get(hmlpe_config(heads=("coords",)))
  with pytest.raises(ConfigError, match="part detectors"):
    check_metrics(["detection"], fam)
  check_metrics(["detection", "pcp@0.5", "reg_error"], families.get(hmlpe_config()))
  c = hmlpe_config(num_windows=16)
  with pytest.raises(ConfigError, match="num_windows=64"):
    fam = families.get(c)
    fam.check_outputs(fam.output_shapes())
  c = hmlpe_config()
  c.loss.weights.visibility = 1.0
  with pytest.raises(ConfigError, match="no 'visibility' loss term"):
    families.get(c).check(c)
  with pytest.raises(ValueError, match="threshold must be <= 0"):
    metrics_lib.parse("reg_error@0.5")


def test_flic_accuracy_on_the_upper_body_uses_the_records_torso():
  """Eq. (7) on a skeleton without hips (FLIC's upper-body view): the records' ``norm``."""
  rng = np.random.default_rng(6)
  gt = rng.uniform(0, 200, size=(4, 8, 2))
  norm = np.array([100.0, 200.0, 50.0, 100.0])
  off = np.array([15.0, 15.0, 15.0, 25.0])[:, None, None] * np.array([1.0, 0.0])
  r = metrics_lib.compute_metrics(["flic@20"], gt + off, gt, np.ones((4, 8)), norm,
                                  skel.UPPER_BODY)
  # distances 15, 15, 15, 25 px against 20 % of 100, 200, 50, 100 px: examples 0 and 1 hit
  assert r["metrics"]["FLIC-acc@20"]["Total"] == pytest.approx(50.0)
  with pytest.raises(ValueError, match="no shoulder–hip torso"):
    metrics_lib.compute_metrics(["flic@20"], gt, gt, np.ones((4, 8)), None, skel.UPPER_BODY)


# ------------------------------------------------------------ end to end on the released Buffy
from jaxpose.data.records import data_root  # noqa: E402

needs_buffy = pytest.mark.skipif(not os.path.isdir(os.path.join(data_root(), "buffy")),
                                 reason="shared Buffy data not present")


def _tiny_recipe(name, steps=4):
  import importlib
  c = importlib.import_module(f"configs.{name}").get_config("cpu")
  c.model.update(features=(8, 8, 8), regression_hidden=(32,), detection_hidden=(32,))
  c.data.limit = 24
  c.data.shuffle_buffer = 24
  c.train.update(batch_size=8, num_steps=steps, checkpoint_every=steps, log_every=2)
  c.train.schedule.warmup_steps = 0
  c.eval.batch_size = 8
  return c


@pytest.mark.slow
@needs_buffy
def test_buffy_pretrain_finetune_and_evaluate(tmp_path, cache_dir):
  """Pre-train (here on Buffy itself: the union needs FLIC's images, absent here), fine-tune with
  init_from, then evaluate.py prints PCP, the regression and detection errors and draws the
  eq. (7) curves from the records' torso."""
  import subprocess
  import sys
  from jaxpose.training import loop
  from conftest import ROOT
  pre = _tiny_recipe("hmlpe_pretrain")
  pre.data.name = "buffy_upper_body"
  loop.train(pre, str(tmp_path / "pre"))
  fine = _tiny_recipe("hmlpe_buffy")
  fine.init_from = str(tmp_path / "pre")
  loop.train(fine, str(tmp_path / "fine"))
  env = cli_env(cache_dir)
  png = tmp_path / "curves.png"
  p = subprocess.run([sys.executable, "evaluate.py", f"--workdir={tmp_path / 'fine'}",
                      f"--curves={png}", "--metrics=pcp@0.5,reg_error,detection,flic@20"],
                     cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
  for title in ("PCP@0.5", "Regression-error", "Detection", "FLIC-acc@20", "l_lower_arm"):
    assert title in p.stdout, p.stdout[-2000:]
  assert png.stat().st_size > 1000
