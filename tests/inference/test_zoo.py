"""Released models (#38): a trained run written as a zoo folder loads without a workdir and
predicts exactly what its checkpoint predicts; a changed byte or a missing file is refused by
name; the command-line tools take ``--pretrained``."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jaxpose import inference, zoo
from jaxpose.errors import CheckpointError
from conftest import ROOT



@pytest.fixture(scope="module")
def run(tmp_path_factory, cache_dir):
  """One tiny hourglass trained for this module (6 steps), released into a zoo folder."""
  from conftest import tiny_config
  from jaxpose.training import loop
  config = tiny_config()
  workdir = str(tmp_path_factory.mktemp("zoo_run"))
  loop.train(config, workdir)
  out = str(tmp_path_factory.mktemp("zoo") / "tiny")
  config, variables, step, _ = inference.restore(workdir)
  zoo.save(out, config, variables, step, source=workdir)
  return workdir, out


@pytest.mark.slow
def test_released_folder_predicts_what_its_checkpoint_predicts(run):
  workdir, folder = run
  rng = np.random.default_rng(0)
  crops = rng.normal(size=(3, 64, 64, 3)).astype(np.float32)
  want = inference.Predictor.from_checkpoint(workdir, flip=True).predict_crops(crops)
  p = inference.Predictor.pretrained(folder, flip=True)
  got = p.predict_crops(crops)
  assert p.step == 6 and p.checkpoint_dir == folder
  for k in want:
    np.testing.assert_array_equal(got[k], want[k])
  manifest = json.load(open(os.path.join(folder, "manifest.json")))
  assert manifest["source"] == workdir
  assert any(k.startswith("params/") for k in manifest["sha256"])
  assert any(k.startswith("batch_stats/") for k in manifest["sha256"])


@pytest.mark.slow
def test_a_changed_byte_is_refused_by_name(run, tmp_path):
  import shutil
  _, folder = run
  bad = str(tmp_path / "bad")
  shutil.copytree(folder, bad)
  path = os.path.join(bad, "variables.msgpack")
  data = bytearray(open(path, "rb").read())
  data[-5] ^= 0x40  # inside the last array's bytes: still valid msgpack, a different value
  open(path, "wb").write(bytes(data))
  with pytest.raises(CheckpointError, match=r"variables\.msgpack.*array .* changed"):
    zoo.load(bad)
  open(path, "wb").write(bytes(data[:len(data) // 2]))  # truncated
  with pytest.raises(CheckpointError, match=r"variables\.msgpack"):
    zoo.load(bad)
  os.remove(os.path.join(bad, "config.json"))
  with pytest.raises(CheckpointError, match=r"config\.json"):
    zoo.load(bad)


def test_unknown_name_lists_the_released_models():
  with pytest.raises(CheckpointError, match=r"no released model 'nope' \(released: "):
    zoo.folder("nope")


def _cli(args, cwd=ROOT):
  p = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=900)
  assert p.returncode == 0, f"{args}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
  return p.stdout + p.stderr


@pytest.mark.slow
def test_command_line_release_then_predict_evaluate_export(run, tmp_path):
  """``export --release`` writes the folder; ``predict``, ``evaluate.py`` and ``export`` take it
  as ``--pretrained`` and give what the workdir gives."""
  from PIL import Image
  workdir, _ = run
  rel = str(tmp_path / "rel")
  assert "wrote " + rel in _cli(["-m", "jaxpose.export", f"--workdir={workdir}", f"--release={rel}"])
  _, variables, manifest = zoo.load(rel)
  _, want, step, _ = inference.restore(workdir)
  assert manifest["step"] == step
  assert manifest["sha256"] == zoo.checkpoint.digests(want)

  Image.fromarray(np.random.default_rng(1).integers(0, 256, (90, 70, 3), np.uint8)).save(
      tmp_path / "photo.png")
  out = _cli(["-m", "jaxpose.predict", str(tmp_path / "photo.png"), f"--pretrained={rel}",
              f"--out={tmp_path / 'poses'}", "--noflip"])
  assert f"using the released model {rel!r}" in out
  mine = json.load(open(tmp_path / "poses" / "photo.json"))
  _cli(["-m", "jaxpose.predict", str(tmp_path / "photo.png"), f"--workdir={workdir}",
        f"--out={tmp_path / 'poses_w'}", "--noflip"])
  theirs = json.load(open(tmp_path / "poses_w" / "photo.json"))
  assert mine["keypoints"] == theirs["keypoints"] and mine["checkpoint"] == rel

  _cli(["evaluate.py", f"--pretrained={rel}", "--split=test", "--flip",
        f"--output={tmp_path / 'pre.json'}"])
  _cli(["evaluate.py", f"--workdir={workdir}", "--split=test", "--flip",
        f"--output={tmp_path / 'wd.json'}"])
  a, b = (json.load(open(tmp_path / f)) for f in ("pre.json", "wd.json"))
  assert a["metrics"] == b["metrics"] and a["checkpoint"] == rel

  _cli(["-m", "jaxpose.export", f"--pretrained={rel}", f"--out={tmp_path / 'exp'}",
        "--platforms=cpu", "--nosaved_model"])
  assert os.path.isfile(tmp_path / "exp" / "pose.jaxexport")


@pytest.mark.slow
def test_without_a_released_model_predict_says_so_in_one_line(tmp_path):
  from PIL import Image
  Image.new("RGB", (32, 32)).save(tmp_path / "x.png")
  p = subprocess.run([sys.executable, "-m", "jaxpose.predict", str(tmp_path / "x.png"),
                      "--pretrained=nope"], cwd=ROOT, capture_output=True, text=True)
  assert p.returncode == 2 and p.stderr.strip().splitlines() == [
      f"error: no released model 'nope' (released: {', '.join(zoo.names()) or 'none'}; or give a "
      "folder holding manifest.json)"], p.stderr
