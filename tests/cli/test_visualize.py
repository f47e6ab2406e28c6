"""jaxpose.visualize: skeleton drawing, the single-image crop, and the two CLI commands."""
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from jaxpose import skeleton as skel
from jaxpose import visualize as vis
from conftest import ROOT, run_cli

TOY = skel.Skeleton(name="toy", joints=("l_hand", "r_hand", "head"), flip_pairs=((0, 1),),
                    limbs=((0, 2), (1, 2)))
GREY = (90, 90, 90)


def _segment_distance(p, a, b):
  """Distance of (N, 2) points p to the segment a–b."""
  a, b = np.asarray(a, float), np.asarray(b, float)
  t = np.clip(((p - a) @ (b - a)) / ((b - a) @ (b - a)), 0, 1)
  return np.linalg.norm(p - (a + t[:, None] * (b - a)), axis=1)


# ---------------------------------------------------------------------------- drawing

def test_draw_skeleton_colours_joints_by_side_and_touches_nothing_else():
  image = np.full((100, 120, 3), GREY, np.uint8)
  joints = np.array([[20.0, 80.0], [100.0, 75.0], [60.0, 20.0]])
  out = vis.draw_skeleton(image, joints, TOY, radius=3, width=2)
  assert out.shape == image.shape and out.dtype == np.uint8
  assert (image == GREY).all()  # the input is not modified
  for (x, y), side in zip(joints, ("left", "right", "centre")):
    assert tuple(out[int(y), int(x)]) == vis.SIDE_COLOURS[side]
  # Sticks take their sided end's colour: the middle of l_hand–head is left (blue).
  mid = (joints[0] + joints[2]) / 2
  assert tuple(out[int(round(mid[1])), int(round(mid[0]))]) == vis.SIDE_COLOURS["left"]
  # Every changed pixel lies on a stick or a dot; far from them the image is untouched.
  ys, xs = np.nonzero((out != image).any(axis=-1))
  pts = np.stack([xs, ys], axis=1).astype(float)
  near = np.minimum(_segment_distance(pts, joints[0], joints[2]),
                    _segment_distance(pts, joints[1], joints[2]))
  near = np.minimum(near, np.min(np.linalg.norm(pts[:, None] - joints[None], axis=-1), axis=1))
  assert len(pts) > 100 and near.max() <= 4.0
  assert (out[90:, 40:80] == GREY).all() and (out[:10, :30] == GREY).all()


def test_draw_skeleton_skips_invalid_and_nan_joints_and_their_limbs():
  image = np.full((100, 120, 3), GREY, np.uint8)
  joints = np.array([[20.0, 80.0], [100.0, 75.0], [60.0, 20.0]])
  out = vis.draw_skeleton(image, joints, TOY, valid=[1, 0, 1], radius=3, width=2)
  assert (out[70:81, 95:106] == GREY).all()            # no dot at the invalid r_hand
  mid = ((joints[1] + joints[2]) / 2).round().astype(int)
  assert (out[mid[1] - 3:mid[1] + 4, mid[0] - 3:mid[0] + 4] == GREY).all()  # no r_hand–head stick
  assert tuple(out[80, 20]) == vis.SIDE_COLOURS["left"]
  nan = joints.copy()
  nan[2] = np.nan
  out = vis.draw_skeleton(image, nan, TOY, radius=3, width=2)
  assert (out[10:31, 50:71] == GREY).all()             # NaN head: no dot and no sticks
  assert not (out[40:60] != GREY).any()
  assert tuple(out[75, 100]) == vis.SIDE_COLOURS["right"]


def test_ground_truth_is_drawn_in_a_second_style_under_the_prediction():
  image = np.full((100, 120, 3), GREY, np.uint8)
  gt = np.array([[20.0, 80.0], [100.0, 75.0], [60.0, 20.0]])
  pred = gt.copy()
  pred[1] = [100.0, 40.0]
  out = vis.draw_skeleton(image, pred, TOY, gt=gt, gt_valid=[1, 1, 1], radius=4, width=2)
  assert tuple(out[77, 100]) == GREY            # GT r_hand is a ring: inside (off its stick) untouched
  assert tuple(out[75, 104]) == vis.GT_COLOUR   # ... and its rim is white
  assert tuple(out[40, 100]) == vis.SIDE_COLOURS["right"]
  assert tuple(out[80, 20]) == vis.SIDE_COLOURS["left"]  # prediction on top of the GT


def test_limb_sides_of_the_mpii_skeleton():
  m = skel.MPII
  side = {(m.joints[a], m.joints[b]): vis.limb_side(m, a, b) for a, b in m.limbs}
  assert side["r_shoulder", "thorax"] == "right" and side["thorax", "l_shoulder"] == "left"
  assert side["thorax", "upper_neck"] == "centre" and side["l_knee", "l_ankle"] == "left"


def test_heatmap_columns_pick_the_maps_before_and_after_regression():
  from jaxpose.configs import default
  from jaxpose.families import HeatmapFamily, MSNFamily
  c = default.get_config()
  msn_panels, hg_panels = MSNFamily(c).heatmap_panels, HeatmapFamily(c).heatmap_panels
  rng = np.random.default_rng(0)
  stack = [rng.normal(size=(2, 8, 8, 3)) for _ in range(3)]
  msn = {"heatmaps": (stack[0], stack[1], stack[2]),
         "pyramid": ((stack[0], stack[0][:, :4, :4]), (stack[1], stack[1][:, :4, :4]))}
  (t0, before), (t1, after) = msn_panels(msn, i=1)
  assert "before" in t0 and "after" in t1
  assert np.array_equal(before, stack[1][1])          # the last module's GT map, not the first
  assert np.array_equal(after, stack[2][1])
  assert [t for t, _ in msn_panels(msn, stacks=True)] == [
      "stack 1", "stack 2", "after regression"]
  hourglass = {"heatmaps": (stack[0], stack[1])}
  [(title, final)] = hg_panels(hourglass)
  assert title == "final" and np.array_equal(final, stack[1][0])
  assert len(hg_panels(hourglass, stacks=True)) == 2


def test_heatmap_figure_layout_and_peak_under_the_joint():
  crop = np.full((32, 32, 3), 128, np.uint8)
  maps = np.zeros((8, 8, 3), np.float32)
  maps[5, 2, 0] = 1.0                                   # joint 0 peaks at heat-map (u, v) = (2, 5)
  fig = vis.heatmap_figure(crop, [("a", maps), ("b", maps * 0.5)], TOY, tile=40)
  assert fig.shape == (4 * 40, 2 * 40, 3)
  for col in (0, 1):                                    # per-panel scale: both columns alike
    panel = fig[40:80, 40 * col:40 * (col + 1)].astype(int)  # row 1 = joint 0
    hot = (panel[..., 0] > 150) & (panel[..., 2] < 90)
    ys, xs = np.nonzero(hot)
    # Heat-map (2, 5) is tile ((2 + .5) · 5 - .5, (5 + .5) · 5 - .5) = (12, 27).
    assert hot.sum() > 4 and abs(xs.mean() - 12) < 1 and abs(ys.mean() - 27) < 1
  cold = fig[80:120, 0:40].astype(int)                  # joint 1: an all-zero map, no red
  assert not ((cold[14:, :, 0] > 150) & (cold[14:, :, 2] < 90)).any()


# ------------------------------------------------------------------------------- crops

def test_crop_maps_the_box_onto_the_crop_and_the_whole_image_box_covers_it():
  image = np.zeros((150, 200, 3), np.uint8)
  image[40, 130] = 255
  crop, affine = vis.crop_image(image, (130.0, 40.0), 0.5, 64)
  y, x = np.unravel_index(np.argmax(crop[..., 0]), crop.shape[:2])
  assert (x, y) in {(31, 31), (31, 32), (32, 31), (32, 32)}  # box centre → crop centre
  np.testing.assert_allclose(affine @ [31.5, 31.5, 1.0], [130.0, 40.0], atol=1e-4)
  center, scale = vis.whole_image_box(150, 200)
  np.testing.assert_allclose(center, [99.5, 74.5])
  assert scale == pytest.approx(0.75)
  _, affine = vis.crop_image(image, center, scale, 64)
  # The image height (outer edges -0.5 … 149.5) spans 1/1.25 of the crop, centred.
  top = vis.image_to_crop(np.array([[99.5, -0.5], [99.5, 149.5]]), affine)
  np.testing.assert_allclose(top[:, 1] + 0.5, [6.4, 57.6], atol=1e-4)


def test_crop_helper_agrees_with_the_pipeline(config):
  import tensorflow as tf
  from jaxpose.data import pipeline
  batch = next(pipeline.eval_batches(config, "validation", 4))
  raw, _ = pipeline.raw_dataset(config.data, "validation")
  for i, rec in enumerate(raw.take(4)):
    image = tf.io.decode_image(rec["image"], channels=3).numpy()
    crop, affine = vis.crop_image(image, rec["center"].numpy(), float(rec["scale"].numpy()),
                                  int(config.data.image_size), float(config.data.scale_pad))
    assert int(rec["index"]) == int(batch["index"][i])
    np.testing.assert_allclose(vis.normalise(crop), batch["image"][i], atol=1e-4)
    np.testing.assert_allclose(affine, batch["affine"][i], atol=1e-4)
    gt = vis.image_to_crop(batch["joints"][i], batch["affine"][i])
    np.testing.assert_allclose(affine[:, :2] @ gt.T + affine[:, 2:], batch["joints"][i][:, :2].T,
                               atol=1e-3)
    assert np.abs(vis.display(batch["image"][i]).astype(int) -
                  np.round(crop * 255).astype(int)).max() <= 1
  # Records are picked by their index, whatever order the split is stored in.
  picked = vis._examples(config, "validation", [5, 1, 3])
  assert [int(e["index"]) for e in picked] == [1, 3, 5]
  assert picked[0]["image"].shape == batch["image"].shape[1:]


# --------------------------------------------------------------------------------- CLI

def _train(tmp_path_factory, name, module, **model):
  """A 2-step tiny run trained in this process (the CLI under test is jaxpose.visualize, not
  train.py, whose own CLI tests/test_cli.py covers)."""
  import importlib
  from conftest import tiny_budget
  from jaxpose.training import loop
  config = tiny_budget(importlib.import_module(f"configs.{module}").get_config())
  config.data.update(name="synthetic_pose", heatmap_size=16)
  config.train.update(num_steps=2, log_every=1, eval_every=0, checkpoint_every=2)
  config.model.update(model)
  workdir = str(tmp_path_factory.mktemp(name) / "run")
  loop.train(config, workdir)
  return workdir


@pytest.fixture(scope="module")
def msn_workdir(tmp_path_factory, cache_dir):
  return _train(tmp_path_factory, "msn", "msn_mpii", num_stacks=2, features=16, depth=2,
                supervised_scales=2)


@pytest.fixture(scope="module")
def hourglass_workdir(tmp_path_factory, cache_dir):
  return _train(tmp_path_factory, "hg", "default", num_stacks=1, features=16, depth=2)


@pytest.mark.slow
def test_heatmaps_cli_on_an_msn_checkpoint(msn_workdir, cache_dir, tmp_path):
  photo = str(tmp_path / "person.png")
  Image.fromarray(np.random.default_rng(0).integers(0, 255, (90, 70, 3), np.uint8)).save(photo)
  p = run_cli(["-m", "jaxpose.visualize", "heatmaps", f"--workdir={msn_workdir}", f"--image={photo}",
            "--tile=48"], cache_dir)
  path = os.path.join(msn_workdir, "eval", "heatmaps_person.png")
  assert f"wrote {path}" in p.stdout
  with Image.open(path) as im:
    assert im.size == (2 * 48, 17 * 48)       # before / after × (pose row + 16 joints)
  out = str(tmp_path / "rec.png")
  assert vis.main(["heatmaps", f"--workdir={msn_workdir}", "--index=3", "--split=test",
                   "--stacks", "--tile=40", f"--output={out}"]) == 0
  with Image.open(out) as im:
    assert im.size == (3 * 40, 17 * 40)       # stack 1, stack 2, regression
  with pytest.raises(SystemExit):
    vis.main(["heatmaps", f"--workdir={msn_workdir}", f"--image={photo}", "--center=1,2"])


@pytest.mark.slow
def test_overlay_cli_on_an_hourglass_checkpoint(hourglass_workdir, cache_dir):
  p = run_cli(["-m", "jaxpose.visualize", "overlay", f"--workdir={hourglass_workdir}", "--num=5"],
           cache_dir)
  path = os.path.join(hourglass_workdir, "eval", "synthetic_pose_validation_overlay.png")
  assert f"wrote {path}" in p.stdout
  with Image.open(path) as im:
    assert im.size == (3 * 128, 2 * 128)      # 5 crops in a 3 × 2 grid of 128-px tiles
    px = np.asarray(im)
  white = (px == vis.GT_COLOUR).all(axis=-1)
  assert white[20:128].sum() + white[148:].sum() > 50   # ground truth drawn (below the labels)
  assert (px[128:, 256:] == 0).all()                    # the sixth cell is empty


@pytest.mark.slow
def test_overlay_on_a_dataset_without_images_reports_the_missing_file(hourglass_workdir,
                                                                      cache_dir, tmp_path):
  root = tmp_path / "mpii"
  root.mkdir()
  j = [[30.0 + 5 * k, 40.0 + 3 * k, 1.0] for k in range(16)]
  people = [{"img_paths": f"{i:09d}.jpg", "joint_self": j, "objpos": [60.0, 70.0],
             "scale_provided": 1.0, "isValidation": float(i % 2), "img_width": 200.0,
             "img_height": 200.0} for i in range(4)]
  with gzip.open(root / "mpii_annotations.json.gz", "wt") as f:
    json.dump(people, f)
  p = run_cli(["-m", "jaxpose.visualize", "overlay", f"--workdir={hourglass_workdir}",
            "--dataset=mpii", f"--data_root={root}", "--split=valid"], cache_dir, check=False)
  assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr[-3000:]
  assert "field 'image': file not found" in p.stderr and "000000000.jpg" in p.stderr
