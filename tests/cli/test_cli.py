"""End to end from the command line: train.py a few steps at tiny size, then evaluate.py."""
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, TINY_FLAGS, cli_env, run_cli


# One train.py run serves both tests below: test_train_then_evaluate reads its outputs, and it
# is the uninterrupted run that test_killed_run_resumes_to_the_same_weights compares a killed
# and resumed run against (every process of the session shares one XLA compilation cache,
# tests/conftest.py, so only the first compiles). 20 steps, checkpoints every 2: the kill lands
# after the first checkpoint with 18 steps to spare (a compiled tiny step takes well under a
# second, so a smaller margin could let the run finish before the kill); validation at the last
# step only.
STEPS = 20
RUN = [*TINY_FLAGS, f"--config.train.num_steps={STEPS}", f"--config.train.eval_every={STEPS}"]


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory, cache_dir):
  """train.py from scratch, never interrupted: (workdir, its printed output)."""
  workdir = str(tmp_path_factory.mktemp("straight") / "run")
  return workdir, run_cli(["train.py", f"--workdir={workdir}", *RUN], cache_dir).output


@pytest.mark.slow
def test_train_then_evaluate(straight_run, tmp_path, cache_dir):
  workdir, out = straight_run
  assert "PCKh@0.5" in out and "Mean" in out
  assert f"step {STEPS}: validation PCKh@0.5 Total" in out
  assert os.path.isdir(os.path.join(workdir, "checkpoints", str(STEPS)))
  assert os.listdir(os.path.join(workdir, "tensorboard"))
  with open(os.path.join(workdir, "eval", "synthetic_pose_validation.json")) as f:
    doc = json.load(f)
  assert doc["step"] == STEPS and doc["dataset"] == "synthetic_pose"
  assert doc["split"] == "validation"
  assert set(doc["metrics"]["PCKh@0.5"]) == {"Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee",
                                             "Ankle", "UBody", "Total", "Mean"}
  out = run_cli(["evaluate.py", f"--workdir={workdir}", "--flip", "--split=test"], cache_dir).output
  assert "PCKh@0.5" in out
  with open(os.path.join(workdir, "eval", "synthetic_pose_test.json")) as f:
    doc = json.load(f)
  assert doc["flip"] is True and doc["split"] == "test" and doc["num_examples"] == 8
  assert doc["scales"] == [1.0]
  # multi-scale test (Tang & Wu 2019 §4.2) combined with flip, recorded in the JSON and header
  ms = str(tmp_path / "ms.json")
  out = run_cli(["evaluate.py", f"--workdir={workdir}", "--flip", "--scales=0.8,1.0,1.3",
              "--split=test", f"--output={ms}"], cache_dir).output
  assert "flip test on, scales 0.8,1,1.3" in out
  with open(ms) as f:
    doc = json.load(f)
  assert doc["flip"] is True and doc["scales"] == [0.8, 1.0, 1.3] and doc["num_examples"] == 8
  assert doc["metrics"]["PCKh@0.5"]["Total"] is not None
  out = run_cli(["evaluate.py", f"--workdir={workdir}", "--multiscale", "--split=test",
              f"--output={ms}"], cache_dir).output
  with open(ms) as f:
    assert json.load(f)["scales"] == [0.8, 0.9, 1.0, 1.1, 1.2, 1.3]
  env = cli_env(cache_dir)
  p = subprocess.run([sys.executable, "evaluate.py", f"--workdir={workdir}", "--scales=0.8,0"],
                     cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert p.returncode != 0 and "must be a finite number > 0" in p.stderr, p.stderr[-2000:]


def test_unknown_config_key_is_rejected(tmp_path, cache_dir):
  env = dict(os.environ, JAXPOSE_CACHE=cache_dir)
  p = subprocess.run([sys.executable, "train.py", f"--workdir={tmp_path}",
                      "--config.model.num_stackz=3"], cwd=ROOT, env=env, capture_output=True,
                     text=True, timeout=300)
  assert p.returncode != 0 and "num_stackz" in p.stderr


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights(straight_run, tmp_path, cache_dir):
  """SIGKILL after the first checkpoint, run again: same final weights as an uninterrupted run."""
  import signal
  import time

  import jax
  import numpy as np

  from jaxpose import inference

  env = cli_env(cache_dir)
  killed = str(tmp_path / "killed")
  proc = subprocess.Popen([sys.executable, "train.py", f"--workdir={killed}", *RUN], cwd=ROOT,
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  first = os.path.join(killed, "checkpoints", "2")
  deadline = time.time() + 300
  while not os.path.isdir(first) and proc.poll() is None and time.time() < deadline:
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  steps = sorted(int(s) for s in os.listdir(os.path.join(killed, "checkpoints")) if s.isdigit())
  assert steps and steps[-1] < STEPS, f"the run was not interrupted (checkpoints {steps})"
  out = run_cli(["train.py", f"--workdir={killed}", *RUN], cache_dir).output
  assert f"resumed from {os.path.join(killed, 'checkpoints', str(steps[-1]))}" in out, out[-3000:]
  a, b = inference.load(killed), inference.load(straight_run[0])
  assert a.step == b.step == STEPS
  jax.tree_util.tree_map(np.testing.assert_array_equal, a.variables, b.variables)


def test_evaluate_an_official_predictions_file(tmp_path, cache_dir):
  """evaluate.py --predictions (official MPII layout) against an official gt_valid.mat."""
  import numpy as np

  from jaxpose.formats import mpii as official

  rng = np.random.default_rng(0)
  gt = rng.uniform(50, 400, size=(6, 16, 2))
  valid = np.ones((6, 16))
  valid[0, 3] = 0
  boxes = np.stack([gt[:, 9] - 20, gt[:, 9] + 20], axis=1)  # (N, corner, xy)
  gt_path = official.write_gt_valid(str(tmp_path / "gt_valid.mat"), gt, valid, boxes)
  preds = gt.copy()
  preds[1, 0] += 100.0                                        # one wrong ankle
  pred_path = official.write_predictions(str(tmp_path / "preds.mat"), preds)
  out_path = str(tmp_path / "eval.json")
  out = run_cli(["evaluate.py", f"--predictions={pred_path}", f"--gt={gt_path}", "--dataset=mpii",
              "--split=valid", f"--output={out_path}"], cache_dir).output
  assert "PCKh@0.5" in out
  with open(out_path) as f:
    doc = json.load(f)
  assert abs(doc["metrics"]["PCKh@0.5"]["Total"] - 100 * 82 / 83) < 1e-9  # 83 counted, 1 wrong
  assert doc["metrics"]["PCKh@0.1"]["Head"] == 100.0
