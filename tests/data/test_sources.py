"""Real-dataset readers and TFDS builders: tiny files in each exact format, error cases,
and (when ``../shared/data`` is present) counts and sanity checks on the released files."""
import gzip
import json
import logging
import os

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

from jaxpose import skeleton as skel
from jaxpose.data import sources
from jaxpose.errors import DataError
from jaxpose.data.sources import buffy, flic
from conftest import DATA

SHARED = DATA
needs_data = pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, "lsp")),
                                reason="shared datasets not present")


# ---------------------------------------------------------------- tiny files
def _lsp_joints(n, rng):
  """(3, 14, n) LSP layout, 1-based coordinates in [10, 90], flag 1 = occluded."""
  xy = rng.uniform(10, 90, size=(2, 14, n))
  flags = (rng.uniform(size=(1, 14, n)) < 0.2).astype(float)
  return np.concatenate([xy, flags], axis=0)


def _write_lsp(root, n=1002, seed=0):
  os.makedirs(root, exist_ok=True)
  joints = _lsp_joints(n, np.random.default_rng(seed))
  scipy.io.savemat(os.path.join(root, "joints.mat"), {"joints": joints})
  return joints


def _write_lspet(root, n=3):
  os.makedirs(root, exist_ok=True)
  rng = np.random.default_rng(1)
  joints = np.concatenate([rng.uniform(10, 90, size=(14, 2, n)), np.ones((14, 1, n))], axis=1)
  joints[0, :, 0] = [0.0, -26.1, 0.0]  # the LSPET "unannotated" marker
  scipy.io.savemat(os.path.join(root, "joints.mat"), {"joints": joints})
  return joints


def test_lsp_layout_splits_and_conventions(tmp_path):
  joints = _write_lsp(str(tmp_path))
  train = sources.read_split("lsp", "train", str(tmp_path))
  test = sources.read_split("lsp", "test", str(tmp_path))
  assert len(train) == 1000 and len(test) == 2
  r = test[1]
  assert r.name == "im1002.jpg" and r.index == 1
  assert r.image == os.path.join(str(tmp_path), "images", "im1002.jpg")
  np.testing.assert_allclose(r.joints[:, :2], joints[:2, :, 1001].T - 1, rtol=1e-6)
  np.testing.assert_array_equal(r.joints[:, 2], 1 - joints[2, :, 1001])  # flag 1 = occluded
  assert (r.valid == 1).all()
  xy = r.joints[:, :2]
  lo, hi = xy.min(0), xy.max(0)
  np.testing.assert_allclose(r.center, (lo + hi) / 2, rtol=1e-5)
  assert r.scale == pytest.approx(1.15 * (hi - lo).max() / 200, rel=1e-5)
  ls, rh = skel.LSP.torso
  assert r.norm == pytest.approx(np.linalg.norm(xy[ls] - xy[rh]), rel=1e-5)


def test_lspet_unannotated_joints_and_combined_split(tmp_path):
  _write_lsp(str(tmp_path / "lsp"))
  lspet_joints = _write_lspet(str(tmp_path / "lspet"))
  recs = sources.read_split("lspet", "train", str(tmp_path / "lspet"))
  assert len(recs) == 3 and recs[0].name == "im00001.jpg"
  assert recs[0].valid[0] == 0 and (recs[0].joints[0] == 0).all()
  assert recs[0].valid[1:].all() and (recs[0].joints[1:, 2] == 1).all()  # flag 1 = visible
  np.testing.assert_allclose(recs[1].joints[:, :2], lspet_joints[:, :2, 1] - 1, rtol=1e-6)
  train = sources.read_split("lsp_lspet", "train", str(tmp_path))
  assert len(train) == 1003
  assert train[999].name == "lsp/im1000.jpg" and train[1000].name == "lspet/im00001.jpg"
  assert [r.index for r in train[998:1002]] == [998, 999, 1000, 1001]
  assert len(sources.read_split("lsp_lspet", "test", str(tmp_path))) == 2


def test_lsp_file_errors_name_file_and_field(tmp_path):
  path = str(tmp_path / "joints.mat")
  with pytest.raises(DataError, match="not found.*joints.mat"):
    sources.read_split("lsp", "train", str(tmp_path))
  scipy.io.savemat(path, {"joints": np.zeros((14, 3, 5))})  # LSPET layout given to LSP
  with pytest.raises(DataError, match=r"joints.mat: field 'joints' must have shape \(3, 14"):
    sources.read_split("lsp", "train", str(tmp_path))
  scipy.io.savemat(path, {"points": np.zeros((3, 14, 5))})
  with pytest.raises(DataError, match="joints.mat: field 'joints' missing"):
    sources.read_split("lsp", "train", str(tmp_path))
  with open(path, "wb") as f:
    f.write(b"not a mat file at all")
  with pytest.raises(DataError, match="joints.mat: not a readable MATLAB file"):
    sources.read_split("lsp", "train", str(tmp_path))


def test_nan_record_raises_or_is_skipped_and_counted(tmp_path, caplog):
  joints = _lsp_joints(1002, np.random.default_rng(0))
  joints[0, 3, 4] = np.nan  # image 5, joint l_hip
  scipy.io.savemat(str(tmp_path / "joints.mat"), {"joints": joints})
  with pytest.raises(DataError, match=r"joints.mat, record 4 \(im0005.jpg\): field 'joints'.*NaN"):
    sources.read_split("lsp", "train", str(tmp_path))
  with caplog.at_level(logging.WARNING):
    recs = sources.read_split("lsp", "train", str(tmp_path), on_error="skip")
  assert len(recs) == 999 and "im0005.jpg" not in {r.name for r in recs}
  assert "skipped 1 bad record" in caplog.text


def test_empty_split_and_unknown_names(tmp_path):
  _write_lsp(str(tmp_path), n=10)
  with pytest.raises(DataError, match="split 'test' is empty"):
    sources.read_split("lsp", "test", str(tmp_path))
  with pytest.raises(DataError, match="unknown dataset 'coco'"):
    sources.read_split("coco", "train", str(tmp_path))
  with pytest.raises(DataError, match="no split 'validation'"):
    sources.read_split("lsp", "validation", str(tmp_path))
  with pytest.raises(ValueError, match="on_error"):
    sources.read_split("lsp", "train", str(tmp_path), on_error="ignore")


# ---------------------------------------------------------------- MPII
def _mpii_person(rng, validation, name):
  j = np.concatenate([rng.uniform(20, 200, size=(16, 2)), np.ones((16, 1))], axis=1)
  j[0] = [0, 0, 0]          # unannotated
  j[9, 1] = -7.4            # head top above the image: annotated
  return {"img_paths": name, "joint_self": j.round(3).tolist(), "objpos": [110.0, 120.0],
          "scale_provided": 1.5, "isValidation": float(validation), "img_width": 300.0,
          "img_height": 250.0}


def _write_mpii_json(root, people):
  os.makedirs(root, exist_ok=True)
  with gzip.open(os.path.join(root, "mpii_annotations.json.gz"), "wt") as f:
    json.dump(people, f)


def test_mpii_people_json(tmp_path):
  rng = np.random.default_rng(0)
  people = [_mpii_person(rng, v, f"{i:09d}.jpg") for i, v in enumerate([0, 1, 0])]
  _write_mpii_json(str(tmp_path), people)
  train = sources.read_split("mpii", "train", str(tmp_path))
  val = sources.read_split("mpii", "validation", str(tmp_path))
  assert [r.name for r in train] == ["000000000.jpg", "000000002.jpg"] and len(val) == 1
  r = train[1]
  assert r.valid[0] == 0 and (r.joints[0] == 0).all() and r.valid[1:].all()
  np.testing.assert_allclose(r.joints[1:, :2], np.asarray(people[2]["joint_self"])[1:, :2] - 1,
                             rtol=1e-6)
  assert r.joints[9, 1] == pytest.approx(-8.4)
  np.testing.assert_allclose(r.center, [109, 119])
  assert r.scale == 1.5 and r.norm == pytest.approx(25 * 1.5)
  assert r.image == os.path.join(str(tmp_path), "images", "000000002.jpg")


def test_mpii_json_record_errors(tmp_path):
  rng = np.random.default_rng(0)
  people = [_mpii_person(rng, 0, f"{i}.jpg") for i in range(3)]
  del people[1]["objpos"]
  people[2]["joint_self"] = people[2]["joint_self"][:15]
  _write_mpii_json(str(tmp_path), people)
  msg = r"mpii_annotations.json.gz, record 1 \(1.jpg\): field 'objpos' missing"
  with pytest.raises(DataError, match=msg):
    sources.read_split("mpii", "train", str(tmp_path))
  recs = sources.read_split("mpii", "train", str(tmp_path), on_error="skip")
  assert [r.name for r in recs] == ["0.jpg"]
  people = [_mpii_person(rng, 0, "far.jpg")]
  people[0]["joint_self"][3][0] = 900.0  # 600 px right of a 300-px-wide image
  _write_mpii_json(str(tmp_path), people)
  with pytest.raises(DataError, match=r"record 0 \(far.jpg\): field 'joints': l_hip .* outside"):
    sources.read_split("mpii", "train", str(tmp_path))
  (tmp_path / "mpii_annotations.json.gz").unlink()
  with pytest.raises(DataError, match="mpii: annotation file not found"):
    sources.read_split("mpii", "train", str(tmp_path))


def _write_valid_h5(path, people):
  """valid.h5 as the hourglass code writes it: integer parts, adjusted centre/scale."""
  n = len(people)
  j = np.array([p["joint_self"] for p in people])
  s = np.array([p["scale_provided"] for p in people])
  c = np.array([p["objpos"] for p in people]) + np.stack([np.zeros(n), 15 * s], 1)
  with h5py.File(path, "w") as f:
    f["part"] = np.floor(j[:, :, :2])
    f["visible"] = j[:, :, 2]
    f["center"] = c
    f["scale"] = s * 1.25
    f["normalize"] = np.arange(1, n + 1) * 10.0
    f["imgname"] = np.array([p["img_paths"].encode() for p in people])


def test_mpii_validation_normaliser_from_valid_h5_and_gt_valid(tmp_path):
  rng = np.random.default_rng(0)
  people = [_mpii_person(rng, 1, f"{i}.jpg") for i in range(2)]
  _write_mpii_json(str(tmp_path), people)
  _write_valid_h5(str(tmp_path / "valid.h5"), people[::-1])  # matched by name + centre
  val = sources.read_split("mpii", "validation", str(tmp_path))
  assert [r.norm for r in val] == [20.0, 10.0]
  # valid.h5 alone: the hourglass centre/scale adjustment is undone.
  (tmp_path / "mpii_annotations.json.gz").unlink()
  h5 = sources.read_split("mpii", "validation", str(tmp_path))
  assert [r.name for r in h5] == ["1.jpg", "0.jpg"]
  np.testing.assert_allclose(h5[0].center, [109, 119], atol=1e-6)
  assert h5[0].scale == pytest.approx(1.5) and h5[0].norm == 10.0
  # gt_valid.mat (same order) gives the head box and the official normaliser.
  j = np.array([p["joint_self"] for p in people[::-1]])
  boxes = np.zeros((2, 2, 2))
  boxes[:, :, 0] = [[11, 21], [41, 61]]  # [corner, (x, y)], 1-based
  boxes[:, :, 1] = [[1, 1], [31, 41]]
  scipy.io.savemat(str(tmp_path / "gt_valid.mat"), {
      "pos_gt_src": np.floor(j[:, :, :2]).transpose(1, 2, 0), "headboxes_src": boxes,
      "jnt_missing": (j[:, :, 0] == 0).T.astype(float)})
  gt = sources.read_split("mpii", "validation", str(tmp_path))
  np.testing.assert_allclose(gt[0].head_box, [10, 20, 40, 60])
  assert gt[0].norm == pytest.approx(0.6 * 50) and gt[1].norm == pytest.approx(0.6 * 50)
  scipy.io.savemat(str(tmp_path / "gt_valid.mat"), {"pos_gt_src": np.zeros((2, 16, 2))})
  with pytest.raises(DataError, match="gt_valid.mat: no field 'jnt_missing'"):
    sources.read_split("mpii", "validation", str(tmp_path))


def test_mpii_hrnet_json(tmp_path):
  os.makedirs(tmp_path / "annot")
  entry = {"image": "005808361.jpg", "center": [966.0, 340.0], "scale": 4.718,
           "joints": [[float(10 + k), float(20 + k)] for k in range(16)],
           "joints_vis": [1] * 15 + [0]}
  for split in ("train", "valid"):
    with open(tmp_path / "annot" / f"{split}.json", "w") as f:
      json.dump([entry, dict(entry, joints=entry["joints"][:15])], f)
  msg = r"valid.json, record 1 \(005808361.jpg\): field 'joints' must have shape \(16, 2\)"
  with pytest.raises(DataError, match=msg):
    sources.read_split("mpii", "validation", str(tmp_path))
  recs = sources.read_split("mpii", "train", str(tmp_path), on_error="skip")
  assert len(recs) == 1
  r = recs[0]
  np.testing.assert_allclose(r.joints[0], [9, 19, 1])
  assert r.valid[15] == 0 and (r.joints[15] == 0).all()
  np.testing.assert_allclose(r.center, [965, 339])
  assert r.norm == pytest.approx(25 * 4.718)


# ---------------------------------------------------------------- FLIC
def _write_flic(path, n=3):
  dtype = [(f, "O") for f in ("coords", "torsobox", "filepath", "imgdims", "istrain", "istest")]
  ex = np.zeros((1, n), dtype=dtype)
  for i in range(n):
    coords = np.full((2, 29), np.nan)
    coords[:, np.array(flic.SLOTS) - 1] = np.stack([np.arange(11) * 10 + 100.0 + i,
                                                    np.arange(11) * 5 + 50.0])
    ex[0, i] = (coords, np.array([[200.0, 100.0, 300.0, 260.0]], np.float32),
                np.array([f"movie-{i:08d}.jpg"]), np.array([[480, 720, 3]], np.uint16),
                np.array([[int(i < n - 1)]], np.uint8), np.array([[int(i == n - 1)]], np.uint8))
  scipy.io.savemat(path, {"examples": ex})


def test_flic_examples(tmp_path):
  _write_flic(str(tmp_path / "examples.mat"))
  train = sources.read_split("flic", "train", str(tmp_path))
  test = sources.read_split("flic", "test", str(tmp_path))
  assert len(train) == 2 and [r.name for r in test] == ["movie-00000002.jpg"]
  r = train[1]
  np.testing.assert_allclose(r.joints[:, 0], np.arange(11) * 10 + 100.0)  # +1 −1
  np.testing.assert_allclose(r.joints[:, 1], np.arange(11) * 5 + 49.0)
  assert (r.valid == 1).all() and (r.joints[:, 2] == 1).all()
  np.testing.assert_allclose(r.center, [249, 239.5])
  assert r.scale == pytest.approx(2.2)
  assert r.norm == pytest.approx(np.linalg.norm(r.joints[0, :2] - r.joints[7, :2]))
  np.testing.assert_allclose(flic.torso_boxes("test", str(tmp_path)), [[199, 99, 299, 259]])


def test_flic_errors(tmp_path):
  path = str(tmp_path / "examples.mat")
  _write_flic(path)
  mat = scipy.io.loadmat(path)
  mat["examples"][0, 1]["coords"][0, 12] = np.nan  # slot 13 = l_eye
  scipy.io.savemat(path, {"examples": mat["examples"]})
  msg = r"record 1 \(movie-00000001.jpg\): field 'coords' has NaN for labelled joint l_eye"
  with pytest.raises(DataError, match=msg):
    sources.read_split("flic", "train", str(tmp_path))
  assert len(sources.read_split("flic", "train", str(tmp_path), on_error="skip")) == 1
  mat["examples"][0, 1]["coords"][0, 12] = 2000.0
  scipy.io.savemat(path, {"examples": mat["examples"]})
  with pytest.raises(DataError, match="field 'joints': l_eye .* outside the 720×480 image"):
    sources.read_split("flic", "train", str(tmp_path))
  ex = np.zeros((1, 1), dtype=[("coords", "O")])
  ex[0, 0] = (np.zeros((2, 29)),)
  scipy.io.savemat(path, {"examples": ex})
  with pytest.raises(DataError, match="examples.mat: field 'examples.torsobox' missing"):
    sources.read_split("flic", "train", str(tmp_path))


# ---------------------------------------------------------------- Buffy
# A frontal stickman (1-based file coordinates); stick ends deliberately in mixed order.
_STICKS = [[100, 60, 102, 160],   # torso (top first)
           [70, 110, 80, 62],     # image-left upper arm, listed elbow first
           [130, 62, 135, 110],   # image-right upper arm
           [60, 150, 71, 112],    # image-left lower arm, wrist first
           [134, 112, 140, 150],  # image-right lower arm
           [100, 20, 100, 56]]    # head (top first)


def _write_buffy(root, frames=(63, 71)):
  os.makedirs(os.path.join(root, "data"), exist_ok=True)
  for e in range(2, 7):
    with open(buffy.sticks_path(root, e), "w") as f:
      for frame in frames:
        f.write(f"{frame}\n")
        for s in _STICKS:
          f.write(" " + " ".join(f"{v:.1f}" for v in s) + " \n")


def test_buffy_sticks_to_upper_body_joints(tmp_path):
  _write_buffy(str(tmp_path))
  test = sources.read_split("buffy", "test", str(tmp_path))
  assert len(test) == 6 and len(sources.read_split("buffy", "train", str(tmp_path))) == 4
  r = test[0]
  assert r.name == "buffy_s5e2_original/000063.jpg"
  assert r.image == os.path.join(str(tmp_path), "images", "buffy_s5e2_original", "000063.jpg")
  j = {n: r.joints[skel.UPPER_BODY.index(n), :2] + 1 for n in skel.UPPER_BODY.joints}
  np.testing.assert_allclose(j["nose"], [100, 38])
  np.testing.assert_allclose(j["neck"], [100, 58])
  np.testing.assert_allclose(j["r_shoulder"], [80, 62])     # image-left = person's right
  np.testing.assert_allclose(j["r_elbow"], [70.5, 111])
  np.testing.assert_allclose(j["r_wrist"], [60, 150])
  np.testing.assert_allclose(j["l_shoulder"], [130, 62])
  np.testing.assert_allclose(j["l_elbow"], [134.5, 111])
  np.testing.assert_allclose(j["l_wrist"], [140, 150])
  assert r.norm == pytest.approx(np.hypot(2, 100))
  # the sticks PCP is scored on: the parse the reader uses, keyed by the record's name, 0-based
  sticks = {buffy.image_name(2, frame): s
            for frame, s in buffy.parse_sticks(buffy.sticks_path(str(tmp_path), 2))}
  assert list(sticks) == [r.name, test[1].name]
  np.testing.assert_allclose(sticks[r.name], np.reshape(_STICKS, (6, 2, 2)) - 1)


def test_buffy_errors(tmp_path):
  _write_buffy(str(tmp_path))
  path = buffy.sticks_path(str(tmp_path), 5)
  lines = open(path).read().splitlines()
  lines[3] = " 1.0 2.0 x 4.0"
  open(path, "w").write("\n".join(lines) + "\n")
  msg = r"buffy_s5e5_sticks.txt, frame 63 \(line 4\): field 'right_upper_arm'"
  with pytest.raises(DataError, match=msg):
    sources.read_split("buffy", "test", str(tmp_path))
  open(path, "w").write("\n".join(lines[:5]) + "\n")
  with pytest.raises(DataError, match="buffy_s5e5_sticks.txt, frame 63 .*field 'sticks': 4 of 6"):
    sources.read_split("buffy", "test", str(tmp_path))
  os.remove(path)
  with pytest.raises(DataError, match="not found.*buffy_s5e5_sticks.txt"):
    sources.read_split("buffy", "test", str(tmp_path))


# ---------------------------------------------------------------- builders
def test_builder_names_missing_image_and_builds_with_images(tmp_path):
  from jaxpose.data.builders import real
  root = str(tmp_path / "lsp")
  _write_lsp(root, n=1001)
  msg = r"record 0 \(im0001.jpg\): field 'image': file not found: .*im0001.jpg"
  with pytest.raises(DataError, match=msg):
    real.load_builder("lsp", root, str(tmp_path / "tfds"), limit=2)
  os.makedirs(os.path.join(root, "images"))
  for name in ("im0001.jpg", "im0002.jpg", "im1001.jpg"):
    Image.new("RGB", (120, 100), (50, 90, 130)).save(os.path.join(root, "images", name))
  with open(os.path.join(root, "images", "im0002.jpg"), "wb") as f:
    f.write(b"\xff\xd8\xff\xe0 not really a jpeg")
  with pytest.raises(DataError, match=r"record 1 \(im0002.jpg\): field 'image': cannot decode"):
    real.load_builder("lsp", root, str(tmp_path / "tfds"), limit=2)
  Image.new("RGB", (120, 100), (50, 90, 130)).save(os.path.join(root, "images", "im0002.jpg"))
  b = real.load_builder("lsp", root, str(tmp_path / "tfds"), limit=2)
  assert {k: v.num_examples for k, v in b.info.splits.items()} == {"train": 2, "test": 1}
  ex = next(iter(b.as_dataset(split="test").as_numpy_iterator()))
  assert ex["image"].shape == (100, 120, 3) and ex["name"] == b"im1001.jpg"
  assert ex["joints"].shape == (14, 3)
  # Another root (or limit) is another config, never the cached copy.
  other = real.make_config("lsp", str(tmp_path / "elsewhere"), 2)
  assert other.name != b.builder_config.name


# ---------------------------------------------------------------- released data
@pytest.fixture(scope="module")
def released():
  """Every split of every released dataset, read once."""
  out = {}
  for entry in sources.DATASETS.values():
    if entry.generated:
      continue
    name = entry.name
    root = SHARED if entry.folder == "" else os.path.join(SHARED, entry.folder or name)
    for split in entry.splits:
      out[name, split] = sources.read_split(name, split, root)
  return out


def _stack(recs):
  return np.stack([r.joints for r in recs]), np.stack([r.valid for r in recs])


@pytest.mark.slow
@needs_data
def test_released_counts(released):
  counts = {k: len(v) for k, v in released.items()}
  assert counts == {
      ("lsp", "train"): 1000, ("lsp", "test"): 1000, ("lspet", "train"): 10000,
      ("lsp_lspet", "train"): 11000, ("lsp_lspet", "test"): 1000,
      ("mpii", "train"): 22246, ("mpii", "validation"): 2958,
      ("flic", "train"): 3987, ("flic", "test"): 1016,
      ("buffy", "train"): 472, ("buffy", "test"): 276,
      ("upper_body_union", "train"): 10284, ("upper_body_union", "test"): 276,
      ("upper_body_union_all", "train"): 15448, ("upper_body_union_all", "test"): 276,
      ("buffy_upper_body", "train"): 472, ("buffy_upper_body", "test"): 276,
      ("flic_upper_body", "train"): 3987, ("flic_upper_body", "test"): 1016}
  for recs in released.values():
    assert all(r.norm > 0 and r.scale > 0 for r in recs)


@pytest.mark.slow
@needs_data
def test_released_annotation_flags(released):
  _, v = _stack(released["lspet", "train"])
  assert int((v == 0).sum()) == 16787          # LSPET flag 0 = unannotated
  j, v = _stack(released["lsp", "test"])
  assert (v == 1).all() and 0 < (j[..., 2] == 0).mean() < 0.15  # LSP: some occluded
  _, v = _stack(released["mpii", "train"] + released["mpii", "validation"])
  assert int((v == 0).sum()) == 27001          # MPII x = y = 0


@needs_data
@pytest.mark.parametrize("name,split", [("lsp", "test"), ("mpii", "validation")])
def test_released_joint_order(released, name, split):
  s = skel.get(sources.get(name).skeleton)
  j, v = _stack(released[name, split])
  top, neck = s.head
  ok = (v[:, top] * v[:, neck]) > 0
  assert (j[ok, top, 1] < j[ok, neck, 1]).mean() > 0.9   # head top above the neck
  ls, rs, lh, rh = (s.index(n) for n in ("l_shoulder", "r_shoulder", "l_hip", "r_hip"))
  ok = (v[:, ls] * v[:, rs] * v[:, lh] * v[:, rh]) > 0
  sho, hip = j[ok, ls, 0] > j[ok, rs, 0], j[ok, lh, 0] > j[ok, rh, 0]
  assert (sho == hip).mean() > 0.85   # left/right consistent between shoulders and hips
  assert sho.mean() > 0.6             # mostly frontal: the left shoulder on the image right


@needs_data
def test_released_mpii_normaliser(released):
  val = released["mpii", "validation"]
  ratio = np.array([r.norm / r.scale for r in val])
  np.testing.assert_allclose(ratio, 25.0, rtol=2e-3)
  assert val[0].name == "005808361.jpg" and val[0].norm == pytest.approx(117.9622, rel=1e-6)


@needs_data
def test_released_flic_matches_personcentric_hourglass_annotations(released):
  te = released["flic", "test"]
  with h5py.File(os.path.join(SHARED, "flic", "hg_annot", "valid_personcentric.h5"), "r") as f:
    part = f["part"][()]
  np.testing.assert_allclose(np.stack([r.joints[:, :2] for r in te]) + 1, part, atol=1e-4)
  j, _ = _stack(released["flic", "train"])
  assert (j[:, 0, 0] > j[:, 3, 0]).mean() > 0.9  # person-centric, people mostly frontal


@needs_data
def test_released_buffy_matches_yang_ramanan_labels():
  root = os.path.join(SHARED, "buffy")
  yr = {"neck": 1, "r_shoulder": 2, "r_elbow": 3, "l_shoulder": 4, "l_elbow": 5, "r_wrist": 6,
        "l_wrist": 7}  # their lsho (image-left) is our r_shoulder
  agree = total = 0
  for e in range(2, 7):
    labels = scipy.io.loadmat(os.path.join(root, "labels", f"buffy_s5e{e}_labels.mat"))["labels"]
    frames = buffy.parse_sticks(buffy.sticks_path(root, e))
    ours = np.stack([buffy.sticks_to_joints(s) for _, s in frames])
    theirs = labels.transpose(2, 0, 1) - 1
    for side in ("l", "r"):
      arm = [skel.UPPER_BODY.index(f"{side}_{p}") for p in ("shoulder", "elbow", "wrist")]
      ref = [yr[f"{side}_{p}"] for p in ("shoulder", "elbow", "wrist")]
      same = np.abs(ours[:, arm] - theirs[:, ref]).max(axis=(1, 2)) < 1e-3
      agree, total = agree + int(same.sum()), total + len(same)
    np.testing.assert_allclose(ours[:, 1], theirs[:, 1], atol=1e-6)
  assert total == 1496 and agree >= 1494


@needs_data
def test_released_lsp_and_lspet_builders(tmp_path):
  from jaxpose.data.builders import real
  for name in ("lsp", "lspet"):
    b = real.load_builder(name, os.path.join(SHARED, name), str(tmp_path), limit=2)
    ex = next(iter(b.as_dataset(split="train").as_numpy_iterator()))
    with Image.open(os.path.join(SHARED, name, "images", ex["name"].decode())) as im:
      w, h = im.size
    assert ex["image"].shape == (h, w, 3) and ex["joints"].shape == (14, 3)
