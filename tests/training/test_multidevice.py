"""train.py and evaluate.py on several devices (forced host devices) and on two processes
joined by jax.distributed: validation, checkpoints, the flip and multi-scale tests, and
evaluation batches that do not split over the devices — scored exactly as on one device."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, TINY_FLAGS, cli_env, run_cli



@pytest.fixture(scope="module")
def two_device_run(tmp_path_factory, cache_dir):
  """train.py under pmap on 2 devices, through a validation (step 4) and checkpoints."""
  workdir = str(tmp_path_factory.mktemp("pm2"))
  out = run_cli(["train.py", f"--workdir={workdir}", *TINY_FLAGS], cache_dir, devices=2).output
  assert "on 2 devices" in out and "step 4: validation PCKh@0.5 Total" in out, out[-3000:]
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["2", "4"]
  return workdir


def _one_device(workdir, split, flip=False, multiscale=False, batch_size=None):
  """The same checkpoint evaluated in this (one-device) process."""
  from jaxpose import inference
  p = inference.load(workdir, flip=flip,
                     scales=inference.PYRAMID_SCALES if multiscale else None)
  return inference.evaluate(p, split, batch_size=batch_size)


def _assert_same(doc, results, preds_file=None):
  assert doc["num_examples"] == results["num_examples"]
  for title, row in results["metrics"].items():
    for col, v in row.items():
      np.testing.assert_allclose(doc["metrics"][title][col], v, atol=1e-6, err_msg=f"{title} {col}")
  if preds_file:
    from jaxpose.formats import mpii
    np.testing.assert_allclose(mpii.read_predictions(preds_file),  # 0-based once read
                               results["_predictions"]["keypoints"], atol=1e-3)


@pytest.mark.slow
def test_two_devices_train_validate_checkpoint_and_evaluate_as_one(two_device_run, tmp_path,
                                                                   cache_dir):
  workdir = two_device_run
  with open(os.path.join(workdir, "eval", "synthetic_pose_validation.json")) as f:
    final = json.load(f)  # train.py's own final evaluation, on 2 devices
  _assert_same(final, _one_device(workdir, "validation"))
  for flags, kw in (([], {}), (["--flip", "--multiscale"], dict(flip=True, multiscale=True))):
    out_json, preds = str(tmp_path / "e.json"), str(tmp_path / "p.mat")
    run_cli(["evaluate.py", f"--workdir={workdir}", *flags, f"--output={out_json}",
          f"--write_predictions={preds}"], cache_dir, devices=2).output
    with open(out_json) as f:
      doc = json.load(f)
    assert doc["flip"] is kw.get("flip", False)
    _assert_same(doc, _one_device(workdir, "validation", **kw), preds)
  png = str(tmp_path / "overlay.png")  # the pictures go through the same multi-device predictor
  run_cli(["-m", "jaxpose.visualize", "overlay", f"--workdir={workdir}", "--num=5", "--flip",
        f"--output={png}"], cache_dir, devices=2).output
  assert os.path.getsize(png) > 0


@pytest.mark.slow
@pytest.mark.parametrize("devices,batch", [(3, 5), (4, 8)])
def test_batches_that_do_not_split_score_every_example_once(two_device_run, tmp_path, cache_dir,
                                                            devices, batch):
  """16 validation examples in batches of 5 on 3 devices (5 → padded to 6; the last batch
  holds 1 real example), and batches of 8 on 4 devices."""
  workdir = two_device_run
  out_json, preds = str(tmp_path / "e.json"), str(tmp_path / "p.mat")
  run_cli(["evaluate.py", f"--workdir={workdir}", f"--batch_size={batch}", f"--output={out_json}",
        f"--write_predictions={preds}"], cache_dir, devices=devices).output
  with open(out_json) as f:
    doc = json.load(f)
  ref = _one_device(workdir, "validation")
  assert doc["num_examples"] == 16 and len(np.unique(ref["_predictions"]["index"])) == 16
  _assert_same(doc, ref, preds)


def _why(log: str) -> str:
  """A failed process's log from its first traceback on (its last lines are the stack dump of
  the abort that jax.distributed's peers end with), else its end."""
  at = log.find("Traceback")
  return log[at:at + 3000] if at >= 0 else log[-3000:]


@pytest.mark.slow
def test_two_processes_with_jax_distributed_train_with_validation(tmp_path, cache_dir,
                                                                  one_distributed_job):
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  workdir = str(tmp_path / "dist")
  procs = [subprocess.Popen(
      [sys.executable, "train.py", f"--workdir={workdir}",
       *TINY_FLAGS, f"--coordinator=127.0.0.1:{port}", "--num_processes=2", f"--process_id={i}"],
      cwd=ROOT, env=cli_env(cache_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
      for i in range(2)]
  logs = [p.communicate(timeout=600)[0] for p in procs]
  assert all(p.returncode == 0 for p in procs), [_why(log) for log in logs]
  assert "2 processes, 2 devices" in logs[0]
  assert "step 4: validation PCKh@0.5 Total" in logs[0]
  from jaxpose import checkpoint
  mngr = checkpoint.manager(workdir, read_only=True)
  assert mngr.all_steps() == [2, 4] and mngr.best_step() == 4
  with open(os.path.join(workdir, "eval", "synthetic_pose_validation.json")) as f:
    doc = json.load(f)
  _assert_same(doc, _one_device(workdir, "validation"))
