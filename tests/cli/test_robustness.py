"""Bad input as a new user gives it (#39): annotations far outside their image, boxes beside
it, config mistakes, truncated archives — each one ``DataError`` / ``ConfigError`` line; and a
property test over every annotation reader: damaged real files give valid records or one
``DataError`` naming the file, never another exception."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import DATA, ROOT, tiny_config




def _need(*parts):
  path = os.path.join(DATA, *parts)
  if not os.path.exists(path):
    pytest.skip(f"{path} not here")
  return path


def _record(tmp_path, xy, image_size=(40, 30)):
  from PIL import Image
  from jaxpose.data.records import PoseRecord
  path = str(tmp_path / "im.jpg")
  Image.fromarray(np.zeros(image_size[::-1] + (3,), np.uint8)).save(path)
  joints = np.concatenate([np.asarray(xy, np.float32), np.ones((len(xy), 1), np.float32)], 1)
  return PoseRecord(image=path, joints=joints, valid=np.ones(len(xy), np.float32),
                    center=np.array([20.0, 15.0], np.float32), scale=0.2, norm=10.0,
                    head_box=np.zeros(4, np.float32), index=7, name="im.jpg")


def test_a_joint_far_outside_its_image_is_refused_with_record_and_joint(tmp_path):
  from jaxpose.data.builders import base
  from jaxpose.data.sources import common
  from jaxpose.errors import DataError
  margin = common.OUTSIDE_MARGIN
  inside = _record(tmp_path, [[5, 5], [39 + 0.9 * margin * 40, 29 + 0.9 * margin * 30]])
  base.to_example(inside, "lsp/train", ["head", "ankle"])  # the datasets' own overhang passes
  outside = _record(tmp_path, [[5, 5], [40 * (1 + margin) + 2, 10]])
  with pytest.raises(DataError, match=r"lsp/train, record 7 \(im.jpg\): image .*im.jpg: field "
                                      r"'joints': ankle at \(52.0, 10.0\) lies outside the 40×30 "
                                      r"image by more than 25% of its size"):
    base.to_example(outside, "lsp/train", ["head", "ankle"])
  above = _record(tmp_path, [[5, -0.3 * 30]])
  with pytest.raises(DataError, match="joint 0 at"):
    base.to_example(above, "lsp/train")


def test_the_labelling_error_of_lspet_is_refused_or_skipped():
  """LSPET im08075.jpg: r_knee 145 px right of a 241-px image (the overhang measurement in
  ``sources.common``), refused under on_error=raise, dropped under skip."""
  root = _need("lspet")
  from jaxpose import skeleton as skel
  from jaxpose.data import sources
  from jaxpose.data.builders import base
  from jaxpose.errors import DataError
  record = next(r for r in sources.read_split("lspet", "train", root, limit=8075)
                if r.name == "im08075.jpg")
  with pytest.raises(DataError, match=r"record 8074 \(im08075.jpg\).*r_knee at \(385.3, 149.6\)"):
    base.to_example(record, "lspet/train", skel.LSP.joints)


def test_a_box_beside_the_image_is_refused():
  from jaxpose import crops
  crops.optional_box([-10, -10, 5, 5], 30, 40)  # overlaps the corner
  for box in ([50, 0, 90, 30], [0, 31, 40, 60], [-20, -20, 0, 0]):
    with pytest.raises(crops.ImageError, match=r"does not overlap the 40×30 image"):
      crops.optional_box(box, 30, 40)
  with pytest.raises(crops.ImageError, match="expected finite x1 < x2"):
    crops.optional_box([5, 5, 5, 9], 30, 40)


def test_predict_refuses_a_box_beside_the_image_in_one_line(tmp_path, monkeypatch, capsys):
  from PIL import Image
  from jaxpose import inference, predict
  Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "a.png")

  class Fake:  # the checkpoint is not what is tested: the box is refused before any network
    config = tiny_config()
    flip = False
    checkpoint_dir = str(tmp_path / "w" / "checkpoints" / "1")
  monkeypatch.setattr(inference, "default_which", lambda path: "latest")
  monkeypatch.setattr(inference.Predictor, "from_checkpoint", lambda *a: Fake())
  with pytest.raises(SystemExit) as info:
    predict.main([str(tmp_path / "a.png"), "--workdir", str(tmp_path), "--box=100,0,140,30"])
  assert info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert err[-1].startswith("error: --box for ") and "does not overlap the 40×30 image" in err[-1]


@pytest.mark.parametrize("key, value, match", [
    ("model.name", "nosuch", r"model.name='nosuch': unknown model.name 'nosuch'"),
    ("model.num_stacks", 0, r"model hourglass as configured \(model.num_stacks=0\) produces no "
                            r"heatmaps"),
])
def test_impossible_models_are_config_errors(key, value, match):
  from jaxpose import config_check
  from jaxpose.errors import ConfigError
  c = tiny_config()
  section, field = key.split(".")
  c[section][field] = value
  with pytest.raises(ConfigError, match=match):
    config_check.check_training(c)


def test_an_unknown_config_key_is_named_in_full():
  from jaxpose import configs
  msg = configs._unknown_key(["train.py", "--config=lsp_cpu", "--config.train.nosuch.deeper=1"])
  assert msg.startswith("--config.train.nosuch.deeper: unknown config key "
                        "'train.nosuch.deeper' (train has: ")
  assert configs._unknown_key(["train.py", "--config.train.num_steps=3"]) == ""


def test_train_py_answers_an_unknown_key_with_one_line(tmp_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"),
                         "--config.model.nosuchkey=3", f"--workdir={tmp_path}/w"],
                        capture_output=True, text=True, env=env, timeout=300)
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = proc.stderr.strip().splitlines()
  assert lines == ["error: --config.model.nosuchkey: unknown config key 'model.nosuchkey' "
                   + lines[0].split("'model.nosuchkey' ", 1)[1]]
  assert "(model has: " in lines[0] and "num_stacks" in lines[0]


@pytest.mark.parametrize("args, tail", [
    (["--config=regressor_alexnet_lsp:7"], "ValueError: regressor_alexnet_lsp: phase '7'; "
     "expected 1 or 2 (--config=configs/regressor_alexnet_lsp.py:2)"),
    (["--config=no_such_recipe"], "no such file, and no packaged recipe of that name"),
])
def test_train_py_answers_a_bad_config_argument_with_one_line(tmp_path, args, tail):
  """A recipe's own refusal of its argument (ml_collections wraps the recipe's traceback into
  its flag error) and a --config that names nothing: one line each, exit status 2."""
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), *args,
                         f"--workdir={tmp_path}/w"], capture_output=True, text=True, timeout=300)
  lines = proc.stderr.strip().splitlines()
  assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
  assert lines[0].startswith("error: ") and tail in lines[0], lines[0]


def test_grouping_refuses_an_out_of_range_k(capsys):
  root = _need("lsp")
  from jaxpose.grouping import cli
  for k in ("0", "15"):
    with pytest.raises(SystemExit) as info:
      cli.main(["--dataset=lsp", f"--data_root={root}", "--split=test", f"--k={k}"])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip() == (f"error: --k={k}: must be between 1 and the 14 "
                                               "joints of lsp")


def test_an_export_folder_that_cannot_be_created_is_one_line(tmp_path):
  from jaxpose import export
  from jaxpose.errors import ConfigError
  (tmp_path / "file").write_text("x")
  with pytest.raises(ConfigError, match=rf"--out={tmp_path}/file/sub: cannot create the export "
                                        "folder"):
    export.export(None, str(tmp_path / "file" / "sub"))


def test_a_truncated_mpii_archive_is_named(tmp_path):
  src = _need("mpii", "mpii_annotations.json.gz")
  from jaxpose.data import sources
  from jaxpose.errors import DataError
  root = tmp_path / "mpii"
  root.mkdir()
  data = open(src, "rb").read()
  (root / "mpii_annotations.json.gz").write_bytes(data[:len(data) // 3])
  with pytest.raises(DataError, match=rf"{root}/mpii_annotations.json.gz: not a readable json "
                                      "file \\(EOFError"):
    sources.read_split("mpii", "validation", str(root))


# ---------------------------------------------------------------- the property test

# dataset, split, the annotation files to damage
READERS = [
    ("lsp", "test", ["joints.mat"]),
    ("lspet", "train", ["joints.mat"]),
    ("mpii", "validation", ["mpii_annotations.json.gz"]),
    ("flic", "test", ["examples.mat"]),
    ("buffy", "test", ["data/buffy_s5e2_sticks.txt"]),
]


def _link_tree(src: str, dst: str, files) -> None:
  """``dst`` mirrors ``src`` by symbolic links, except for real folders on the way to ``files``
  (which the caller then writes): nothing of a dataset is copied or changed."""
  os.makedirs(dst)
  for entry in os.listdir(src):
    inner = [f.split("/", 1)[1] for f in files if f.startswith(entry + "/")]
    if entry in files:
      continue
    if inner:
      _link_tree(os.path.join(src, entry), os.path.join(dst, entry), inner)
    else:
      os.symlink(os.path.join(src, entry), os.path.join(dst, entry))


def _damage(data: bytes, rng, kind: str) -> bytes:
  b = bytearray(data)
  if kind == "truncate":
    return bytes(b[:int(rng.integers(0, len(b)))])
  if kind == "flip":
    for _ in range(int(rng.integers(1, 6))):
      i = int(rng.integers(0, len(b)))
      b[i] ^= 1 << int(rng.integers(0, 8))
    return bytes(b)
  # "shape": a block of bytes removed from the middle (fields and arrays shift)
  i = int(rng.integers(0, len(b)))
  return bytes(b[:i] + b[i + int(rng.integers(1, 64)):])


@pytest.mark.parametrize("name, split, files", READERS, ids=[r[0] for r in READERS])
def test_property_damaged_annotations_give_valid_records_or_one_data_error(
    name, split, files, tmp_path):
  from jaxpose.data import sources
  from jaxpose.data.records import validate
  from jaxpose.errors import DataError
  src = _need(name)
  rng = np.random.default_rng(39)
  k = None
  for trial in range(6):
    root = tmp_path / f"{name}{trial}"
    _link_tree(src, str(root), files)
    for rel in files:
      with open(os.path.join(src, rel), "rb") as f:
        (root / rel).write_bytes(_damage(f.read(), rng, ("truncate", "flip", "shape")[trial % 3]))
    try:
      records = sources.read_split(name, split, str(root), limit=200)
    except DataError as e:
      assert any(str(root / rel) in str(e) for rel in files), str(e)
      assert "\n" not in str(e)
      continue
    k = k or records[0].joints.shape[0]
    for r in records:  # what passes is a record that passes validation again
      validate(r, k, "again")
