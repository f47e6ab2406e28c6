"""HMLPE feature visualisation (Li, Liu & Chan 2014 §5): Algorithm 1 on arrays, the patches of
hand-placed maxima, the mean patches, and the `backtrack` / `filters` commands of
``python -m jaxpose.visualize`` on a tiny HMLPE workdir (synthetic data, no training)."""
import itertools
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from PIL import Image

from jaxpose.configs import default
from jaxpose import checkpoint, models
from jaxpose import skeleton as skel
from jaxpose import visualize as vis
from jaxpose.models.hmlpe import HMLPE, backtrack
from jaxpose.models.receptive_field import Layer, input_box
from jaxpose.training import state as state_lib

SIZE = 64  # tiny_budget's crops: 64 →conv5 60 →pool 30 →conv3 28 →pool 14 →conv3 12 →pool 6
SMALL = dict(features=(8, 8, 8), regression_hidden=(16,), detection_hidden=(16,))


def _hmlpe_config():
  from conftest import tiny_budget
  c = tiny_budget(default.get_config())
  c.model = ml_collections.ConfigDict(dict(
      name="hmlpe", num_joints=16, num_parts=len(skel.MPII.parts),
      num_windows=int(c.data.part_windows.grid) ** 2, **SMALL))
  return c


def _write_workdir(path, config, zeros: bool = False) -> str:
  """A checkpoint as the training loop writes one (an orbax ``TrainState`` with an optax
  optimizer state, and the config), at step 1. The parameters are drawn in numpy, U(±1/√fan_in)
  like the models' PyTorch-style init (or zeros): compiling jax's random init costs tens of
  seconds on a busy CPU, and only the shapes have to be the model's."""
  model = models.create(config.model)
  size = int(config.data.image_size)
  shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, size, size, 3)))
  rng = np.random.default_rng(0)

  def draw(a):
    if zeros or a.ndim < 2:
      return np.zeros(a.shape, a.dtype)
    bound = 1.0 / np.sqrt(np.prod(a.shape[:-1]))
    return rng.uniform(-bound, bound, a.shape).astype(a.dtype)

  v = jax.tree_util.tree_map(draw, shapes)
  state = state_lib.TrainState(step=np.zeros((), np.int32), params=v["params"],
                               batch_stats=v.get("batch_stats", {}),
                               opt_state=optax.adam(1e-3).init(v["params"]),
                               rng=np.array([0, 1], np.uint32))
  mngr = checkpoint.manager(str(path))
  checkpoint.save(mngr, 1, state, config)
  mngr.close()
  checkpoint.save_config(str(path), config)
  return str(path)


@pytest.fixture(scope="module")
def hmlpe_workdir(cache_dir, tmp_path_factory):
  return _write_workdir(tmp_path_factory.mktemp("hmlpe_run"), _hmlpe_config())


def _png(path) -> np.ndarray:
  with Image.open(path) as im:
    return np.asarray(im.convert("RGB"))


# --------------------------------------------------------------------- Algorithm 1 on arrays

def test_backtrack_boxes_of_a_hand_built_stack():
  # conv 3×3/1, pool 2×2/2, conv 3×3/2. Walking back from r: [2r, 2r+2] → [4r, 4r+5] → [4r, 4r+7]:
  # an 8-pixel box every 4 pixels.
  stack = [Layer("c1", 3, 1), Layer("p1", 2, 2), Layer("c2", 3, 2)]
  boxes = vis.backtrack_boxes(stack, np.array([[0, 1], [5, 2]]), np.array([[0, 2], [3, 0]]))
  assert boxes.shape == (2, 2, 4) and boxes.dtype == np.int64
  np.testing.assert_array_equal(boxes, [[[0, 0, 8, 8], [4, 8, 12, 16]],
                                        [[20, 12, 28, 20], [8, 0, 16, 8]]])
  # The forward receptive-field recurrence of the same stack agrees at every position.
  for r, c in itertools.product(range(6), range(6)):
    assert tuple(vis.backtrack_boxes(stack, r, c)) == input_box(stack, r, c)
  with pytest.raises(ValueError, match="padded"):
    vis.backtrack_boxes([Layer("same", 3, 1, 1)], 0, 0)


@pytest.mark.parametrize("name", ["conv1", "conv2", "pool2", "conv3"])
def test_backtrack_boxes_are_hmlpe_backtrack_at_every_position(name):
  model = HMLPE(**SMALL)
  layers = model.layers()
  upto = [l.name for l in layers].index(name) + 1
  side = {"conv1": 60, "conv2": 28, "pool2": 14, "conv3": 12}[name]  # the layer's map at 64 px
  rows, cols = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
  boxes = vis.backtrack_boxes(layers[:upto], rows, cols)
  want = np.array([[backtrack(model, name, r, c) for c in range(side)] for r in range(side)])
  np.testing.assert_array_equal(boxes, want)
  assert boxes[..., :2].min() == 0 and boxes[..., 2:].max() <= SIZE  # inside the crop


# ---------------------------------------------------------------- maxima → boxes → patches

def test_patch_of_a_hand_placed_maximum_is_the_backtracked_box():
  model = HMLPE(**SMALL)
  stack = model.layers()[:5]  # up to conv3
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, size=(2, SIZE, SIZE, 3), dtype=np.uint8)
  maps = rng.uniform(0.0, 0.5, size=(2, 12, 12, 3)).astype(np.float32)
  peaks = {(0, 0): (3, 7), (0, 1): (11, 0), (0, 2): (0, 11), (1, 0): (5, 5), (1, 1): (11, 11)}
  for (b, k), (r, c) in peaks.items():
    maps[b, r, c, k] = 2.0
  maps[1, ..., 2] = 0.0  # a map that never fires on image 1
  rows, cols, values = vis.max_positions(maps)
  patches, boxes, active = vis.backtracked_patches(maps, images, stack)
  assert patches.shape == (2, 3, 20, 20, 3) and patches.dtype == np.uint8
  np.testing.assert_array_equal(active, [[True, True, True], [True, True, False]])
  for (b, k), (r, c) in peaks.items():
    assert (rows[b, k], cols[b, k], values[b, k]) == (r, c, 2.0)
    y0, x0, y1, x1 = backtrack(model, "conv3", r, c)
    assert tuple(boxes[b, k]) == (y0, x0, y1, x1)
    np.testing.assert_array_equal(patches[b, k], images[b, y0:y1, x0:x1])
  with pytest.raises(ValueError, match="different"):
    vis.cut_patches(images, np.array([[[0, 0, 4, 4], [0, 0, 5, 5]]] * 2))
  with pytest.raises(ValueError, match="leaves"):
    vis.cut_patches(images, np.array([[[60, 0, 65, 5]]] * 2))


def test_a_bright_pixel_fires_exactly_the_units_whose_box_holds_it():
  """On the network itself: with positive kernels and zero biases a unit of conv3 is > 0 exactly
  when its input window holds the one bright pixel, so the boxes must be the network's windows."""
  model = HMLPE(**SMALL)
  shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, SIZE, SIZE, 3)))
  params = {k: {"kernel": np.full(v["kernel"].shape, float(k.startswith("conv")), np.float32),
                "bias": np.zeros(v["bias"].shape, np.float32)}
            for k, v in shapes["params"].items()}
  pixels = [(0, 0), (31, 40), (63, 63), (10, 52)]
  images = np.zeros((len(pixels), SIZE, SIZE, 3), np.float32)
  for i, (y, x) in enumerate(pixels):
    images[i, y, x] = 1.0
  maps = np.asarray(jax.jit(lambda v, x: model.feature_maps(v, x, 3))({"params": params}, images))
  rows, cols = np.meshgrid(np.arange(12), np.arange(12), indexing="ij")
  boxes = vis.backtrack_boxes(model.layers()[:5], rows, cols)  # (12, 12, 4)
  for i, (y, x) in enumerate(pixels):
    holds = ((boxes[..., 0] <= y) & (y < boxes[..., 2])
             & (boxes[..., 1] <= x) & (x < boxes[..., 3]))
    np.testing.assert_array_equal(maps[i, ..., 0] > 0, holds)
    patches, box, active = vis.backtracked_patches(maps[i:i + 1], images[i:i + 1],
                                                   model.layers()[:5])
    assert active.all() and patches[0, 0].max() == 1.0  # the maximum's patch shows the pixel


def test_patch_mean_counts_only_the_images_where_a_map_fired():
  rng = np.random.default_rng(1)
  patches = rng.uniform(size=(5, 3, 4, 4, 3))
  active = np.array([[1, 0, 1], [1, 0, 0], [0, 0, 1], [1, 0, 1], [1, 0, 1]], bool)
  acc = vis.PatchMean()
  acc.add(patches[:2], active[:2])
  acc.add(patches[2:], active[2:])
  mean, count = acc.mean()
  np.testing.assert_array_equal(count, [4, 0, 4])
  np.testing.assert_allclose(mean[0], patches[active[:, 0], 0].mean(axis=0), rtol=1e-6)
  np.testing.assert_allclose(mean[2], patches[active[:, 2], 2].mean(axis=0), rtol=1e-6)
  assert np.isnan(mean[1]).all()


# ------------------------------------------------------------------------------- the CLI

@pytest.mark.slow
def test_backtrack_command_writes_means_and_per_image_rows(hmlpe_workdir, tmp_path, capsys):
  out = str(tmp_path / "patches.png")
  assert vis.main(["backtrack", f"--workdir={hmlpe_workdir}", "--layer=3", f"--out={out}",
                   "--num_images=12", "--show=3", "--tile=32"]) == 0
  assert f"wrote {out}" in capsys.readouterr().out
  fig = _png(out)
  assert fig.shape == ((1 + 3) * 32, (1 + 8) * 32, 3)  # rows: the means + 3 images; 1 + 8 maps
  assert fig[32:].any()  # the image rows are drawn

  # conv2, more rows asked than images taken, the default path (the training split).
  assert vis.main(["backtrack", f"--workdir={hmlpe_workdir}", "--layer=2", "--num_images=2",
                   "--show=5", "--tile=24"]) == 0
  path = os.path.join(hmlpe_workdir, "eval", "backtrack_conv2_synthetic_pose_train.png")
  assert _png(path).shape == ((1 + 2) * 24, (1 + 8) * 24, 3)


@pytest.mark.slow
def test_backtrack_rows_show_the_images_patches(hmlpe_workdir, tmp_path):
  """The Fig. 7 cells are the patches of the crops at the boxes of the maps' maxima,
  recomputed here from the restored network and the same evaluation crops."""
  from jaxpose import inference
  from jaxpose.data import pipeline
  out = str(tmp_path / "p.png")
  tile, n = 40, 2
  assert vis.main(["backtrack", f"--workdir={hmlpe_workdir}", f"--out={out}", "--layer=3",
                   f"--num_images={n}", f"--show={n}", f"--tile={tile}"]) == 0
  fig = _png(out)
  config, variables, _, _ = inference.restore(hmlpe_workdir)
  model = models.create(config.model)
  batch = next(pipeline.eval_batches(config, config.data.train_split, n, inputs=()))
  crops = vis.display(batch["image"])
  maps = np.asarray(model.feature_maps(variables, batch["image"], 3))
  patches, _, active = vis.backtracked_patches(maps, crops, model.layers()[:5])
  assert active.any()
  for i in range(n):
    for k in np.flatnonzero(active[i]):
      cell = fig[(1 + i) * tile:(2 + i) * tile, (1 + k) * tile:(2 + k) * tile]
      want = np.asarray(Image.fromarray(patches[i, k]).resize((tile, tile), Image.NEAREST))
      np.testing.assert_array_equal(cell, want)
  # Row 0: each map's mean over the images where it fired (below the label, above the strip).
  for k in range(patches.shape[1]):
    cell = fig[:tile, (1 + k) * tile:(2 + k) * tile].astype(int)
    if not active[:, k].any():
      assert (cell[tile // 2, tile // 2] == vis.NO_PATCH).all()
      continue
    mean = patches[active[:, k], k].astype(np.float64).mean(axis=0)
    want = np.asarray(Image.fromarray(np.round(mean).astype(np.uint8)).resize((tile, tile),
                                                                             Image.NEAREST))
    np.testing.assert_allclose(cell[tile // 2:tile - 4], want[tile // 2:tile - 4], atol=1)


def test_filters_command_draws_the_first_layer_filters(hmlpe_workdir, tmp_path):
  from jaxpose import inference
  out = str(tmp_path / "filters.png")
  assert vis.main(["filters", f"--workdir={hmlpe_workdir}", f"--out={out}", "--tile=16"]) == 0
  fig = _png(out)
  assert fig.shape == (2 * 16, 4 * 16, 3)  # 8 filters: 4 per row
  _, variables, _, _ = inference.restore(hmlpe_workdir)
  filters = HMLPE(**SMALL).first_layer_filters(variables)
  cell = fig[16:32, 3 * 16:4 * 16]  # filter 8 at row 1, column 3, inside a 1-pixel border
  want = np.asarray(Image.fromarray(vis._as_uint8(filters[7])).resize((14, 14), Image.NEAREST))
  np.testing.assert_array_equal(cell[1:15, 1:15], want)
  assert vis._filter_columns(32) == 8 and vis._filter_columns(16) == 4
  assert vis.filters_figure(filters, 64).shape == (2 * 64, 4 * 64, 3)


@pytest.mark.slow
def test_refused_for_another_model_and_a_missing_layer(cache_dir, tmp_path, hmlpe_workdir, capsys):
  from conftest import tiny_config
  other = _write_workdir(tmp_path / "hourglass_run", tiny_config(), zeros=True)
  for command in ("backtrack", "filters"):
    assert vis.main([command, f"--workdir={other}", f"--out={tmp_path / 'x.png'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: model.name='hourglass' is not hmlpe") and "\n" not in err
  assert not (tmp_path / "x.png").exists()
  assert vis.main(["backtrack", f"--workdir={hmlpe_workdir}", "--layer=4"]) == 2
  assert "conv layers [1, 2, 3]" in capsys.readouterr().err
