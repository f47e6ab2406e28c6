"""Target codecs: heatmaps and pyramids, decoding, flip test, coordinates, part windows (CPU)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest
import tensorflow as tf

from jaxpose import skeleton
from jaxpose.codecs import coords, heatmap, part_windows

tf.config.set_visible_devices([], "GPU")

S, H = 128, 32  # crop and heatmap sides


def _hm_to_crop(u):
  return (np.asarray(u, np.float64) + 0.5) * S / H - 0.5


# ------------------------------------------------------------------------------ heatmaps

def test_encode_peak_shape_and_weights():
  joints = np.array([[_hm_to_crop(5), _hm_to_crop(9)],   # integer heatmap position (5, 9)
                     [60.0, 70.0],
                     [200.0, 10.0],                        # outside the crop
                     [-0.01, 50.0],                        # just outside
                     [127.0, 0.0],                         # on the last/first pixel: inside
                     [30.0, 30.0]], np.float32)            # invalid
  valid = np.array([1, 1, 1, 1, 1, 0], np.float32)
  hm, tw = heatmap.encode(joints, valid, S, H, sigma=1.0)
  hm, tw = hm.numpy(), tw.numpy()
  assert hm.shape == (H, H, 6) and hm.dtype == np.float32
  np.testing.assert_array_equal(tw, [1, 1, 0, 0, 1, 0])
  assert hm[9, 5, 0] == pytest.approx(1.0) and hm[..., 0].max() == hm[9, 5, 0]
  assert hm[9, 6, 0] == pytest.approx(np.exp(-0.5), rel=1e-6)  # std 1 heatmap px
  assert not hm[..., [2, 3, 5]].any()  # zero maps where the weight is zero


def test_decode_recovers_integer_joints_exactly_and_subpixel_within_quarter():
  rng = np.random.default_rng(0)
  k = 40
  ints = rng.integers(1, H - 1, size=(k, 2)).astype(np.float64)
  hm, _ = heatmap.encode(_hm_to_crop(ints).astype(np.float32), np.ones(k, np.float32), S, H, 1.0)
  c, m = heatmap.decode(hm.numpy())
  np.testing.assert_array_equal(c, ints)
  np.testing.assert_allclose(m, 1.0, rtol=1e-5)
  # crop-pixel round trip of the integer case
  np.testing.assert_allclose(heatmap.to_crop(c, S, H), _hm_to_crop(ints), atol=1e-4)

  sub = rng.uniform(1.0, H - 2.0, size=(200, 2))
  for sigma in (1.0, 2.0):
    hm, _ = heatmap.encode(_hm_to_crop(sub).astype(np.float32), np.ones(200, np.float32), S, H, sigma)
    c, _ = heatmap.decode(hm.numpy())
    err = np.abs(c - sub)
    assert err.max() <= 0.25 + 1e-4, err.max()
    assert err.mean() < 0.15  # better than plain argmax (mean 0.25)


def test_decode_quarter_shift_hand_case_and_zero_map():
  hm = np.zeros((2, 6, 8, 3), np.float32)
  hm[0, 2, 4, 0] = 1.0
  hm[0, 2, 5, 0] = 0.5   # right > left → x + 0.25
  hm[0, 1, 4, 0] = 0.3   # up > down → y - 0.25
  hm[0, 0, 7, 1] = 1.0   # on the border: no neighbour on one side → no shift
  hm[0, 0, 6, 1] = 0.9
  hm[1, 3, 3, 0] = 2.0
  hm[1, 3, 2, 0] = hm[1, 3, 4, 0] = 0.7  # equal neighbours → no shift
  c, m = heatmap.decode(hm)
  assert c.shape == (2, 3, 2) and m.shape == (2, 3)
  np.testing.assert_allclose(c[0, 0], [4.25, 1.75])
  np.testing.assert_allclose(c[0, 1], [7.0, 0.0])
  np.testing.assert_allclose(c[1, 0], [3.0, 3.0])
  assert m[0, 2] == 0.0 and m[1, 1] == 0.0  # all-zero maps
  np.testing.assert_allclose(c[0, 2], [0.0, 0.0])
  # any leading dims
  c5, m5 = heatmap.decode(np.stack([hm, hm]))
  assert c5.shape == (2, 2, 3, 2) and m5.shape == (2, 2, 3)
  np.testing.assert_array_equal(c5[1], c)


def test_decode_and_flip_back_on_jax_arrays():
  import jax
  import jax.numpy as jnp
  rng = np.random.default_rng(1)
  hm = rng.random((2, 16, 16, 16)).astype(np.float32)
  c_np, m_np = heatmap.decode(hm)
  c_j, m_j = jax.jit(heatmap.decode)(jnp.asarray(hm))
  np.testing.assert_allclose(np.asarray(c_j), c_np)
  np.testing.assert_allclose(np.asarray(m_j), m_np)
  perm = skeleton.MPII.flip_permutation
  fb = jax.jit(lambda x: heatmap.flip_back(x, perm))(jnp.asarray(hm))
  np.testing.assert_array_equal(np.asarray(fb), heatmap.flip_back(hm, perm))


def test_dark_recovers_subpixel_joints_far_better_than_the_quarter_shift():
  """DARK (Zhang et al. 2020): on the training targets themselves (noisy, as a network's are)
  the Taylor step finds the sub-pixel mean; near the edge it keeps the quarter shift."""
  rng = np.random.default_rng(3)
  sub = rng.uniform(2.0, H - 3.0, size=(200, 2))
  for sigma in (1.0, 2.0):
    hm, _ = heatmap.encode(_hm_to_crop(sub).astype(np.float32), np.ones(200, np.float32), S, H, sigma)
    hm = hm.numpy() + rng.normal(0.0, 0.02, (H, H, 200)).astype(np.float32)
    quarter, mq = heatmap.decode(hm)
    dark, md = heatmap.decode_dark(hm, sigma)
    np.testing.assert_array_equal(md, mq)  # the peak value is the argmax's
    e_q, e_d = np.abs(quarter - sub).mean(), np.abs(dark - sub).mean()
    assert e_d < 0.06 and e_d < e_q / 2.5, (sigma, e_d, e_q)
  # within two pixels of the edge, or a flat map: the quarter shift stays
  edge = np.array([[1.2, 15.0], [15.0, H - 1.6], [0.0, 0.0]])
  hm, _ = heatmap.encode(_hm_to_crop(edge).astype(np.float32), np.array([1, 1, 0], np.float32),
                         S, H, 1.0)
  np.testing.assert_array_equal(heatmap.decode_dark(hm.numpy(), 1.0)[0],
                                heatmap.decode(hm.numpy())[0])
  # a peak that barely rises above a negative floor (an untrained network's maps): the
  # blurred values two pixels away are below 1 % of the peak, so no log of them decides
  weak = np.full((H, H, 1), -1e-3, np.float32)
  weak[10, 12, 0], weak[10, 13, 0] = 2e-3, 1e-3
  np.testing.assert_array_equal(heatmap.decode_dark(weak, 1.0)[0], heatmap.decode(weak)[0])
  assert heatmap.decode(weak)[0][0].tolist() == [12.25, 10.0]


def test_dark_hand_case_blur_and_jit():
  # a separable log-quadratic peak at (10.3, 7.6): after the σ = 1 blur it stays a Gaussian
  # of variance 1 + 1 about the same mean, so the Taylor step lands on it up to the
  # kernel's truncation
  g = np.arange(H, dtype=np.float64)
  hm = np.exp(-((g[None, :] - 10.3) ** 2 + (g[:, None] - 7.6) ** 2) / 2.0)[..., None]
  c, _ = heatmap.decode_dark(hm.astype(np.float32), 1.0)
  np.testing.assert_allclose(c[0], [10.3, 7.6], atol=0.03)
  b = heatmap.blur_matrix(9, 1.0)  # radius 2 (OpenCV's 5-tap kernel for σ = 1), zero padding
  assert np.count_nonzero(b[4]) == 5 and b[4].sum() == pytest.approx(1.0)
  assert b[0].sum() < 1.0 and np.allclose(b, b.T)
  import jax
  import jax.numpy as jnp
  maps = np.random.default_rng(4).random((2, H, H, 5)).astype(np.float32)
  c_j, m_j = jax.jit(lambda x: heatmap.decode_dark(x, 1.0))(jnp.asarray(maps))
  c_n, m_n = heatmap.decode_dark(maps, 1.0)
  np.testing.assert_allclose(np.asarray(c_j), c_n, atol=1e-4)
  np.testing.assert_array_equal(np.asarray(m_j), m_n)
  with pytest.raises(ValueError, match="unknown sub-pixel step 'taylor'; known: quarter, dark"):
    heatmap.HeatmapCodec(S, H, subpixel="taylor")
  from conftest import tiny_config
  from jaxpose import families
  from jaxpose.errors import ConfigError
  c = tiny_config()
  c.eval.subpixel = "taylor"  # the config key, named as the user wrote it
  with pytest.raises(ConfigError, match="eval.subpixel='taylor' is not a sub-pixel step; "
                                        "known: quarter, dark"):
    families.get(c)


def test_flip_back_matches_flipped_targets():
  """Heatmaps of the mirrored crop (x' = S-1-x, joints swapped), flipped back, equal the originals."""
  rng = np.random.default_rng(2)
  perm = skeleton.MPII.flip_permutation
  joints = rng.uniform(0, S - 1, size=(16, 2)).astype(np.float32)
  valid = np.ones(16, np.float32)
  valid[3] = 0
  hm, _ = heatmap.encode(joints, valid, S, H, 1.5)
  mirrored = np.stack([S - 1 - joints[:, 0], joints[:, 1]], -1)[perm]
  hm_f, _ = heatmap.encode(mirrored, valid[perm], S, H, 1.5)
  back = heatmap.flip_back(hm_f.numpy(), perm)
  np.testing.assert_allclose(back, hm.numpy(), atol=1e-6)
  np.testing.assert_array_equal(heatmap.flip_back(heatmap.flip_back(hm.numpy(), perm), perm), hm.numpy())
  np.testing.assert_allclose(heatmap.merge_flip(hm.numpy(), hm_f.numpy(), perm), hm.numpy(), atol=1e-6)


def test_pyramid_levels_and_sigmas():
  rng = np.random.default_rng(3)
  joints = rng.uniform(20, 100, size=(5, 2)).astype(np.float32)
  valid = np.array([1, 1, 0, 1, 1], np.float32)
  pyr = heatmap.encode_pyramid(joints, valid, S, H, sigma=1.0, levels=4)
  assert [p.shape for p in pyr] == [(32, 32, 5), (16, 16, 5), (8, 8, 5), (4, 4, 5)]
  np.testing.assert_allclose(pyr[0].numpy(), heatmap.encode(joints, valid, S, H, 1.0)[0].numpy())
  for i, p in enumerate(pyr):
    size = H // 2 ** i
    c, m = heatmap.decode(p.numpy())
    u = (joints + 0.5) * size / S - 0.5
    ok = valid > 0
    assert np.abs(c - u)[ok].max() <= 0.75  # argmax ± shift at each level's own pixels
    assert (m[ok] > 0.6).all() and (m[~ok] == 0).all()  # a well-formed peak even at GT/8
  pyr2 = heatmap.encode_pyramid(joints, valid, S, H, sigma=(2.0, 1.5, 1.0, 0.5))
  assert pyr2[3].shape == (4, 4, 5)
  with pytest.raises(ValueError):
    heatmap.encode_pyramid(joints, valid, S, H, sigma=(1.0, 1.0), levels=4)


def test_codec_decode_then_affine_to_image_through_the_inverse_affine():
  from jaxpose.data import augment
  rng = np.random.default_rng(4)
  perm = skeleton.LSP.flip_permutation
  joints = np.c_[rng.uniform(150, 250, (14, 2)), np.ones(14)].astype(np.float32)
  ex = dict(image=np.zeros((400, 400, 3), np.uint8), joints=joints, valid=np.ones(14, np.float32),
            center=np.array([200.0, 200.0], np.float32), scale=np.float32(1.0))
  cfg = dict(rotation_prob=1.0, shear=0.3)
  out = augment.augment_example(ex, tf.constant([3, 4]), cfg, S, perm, train=True)
  hm, tw = heatmap.encode(out["joints_crop"], out["valid"], S, H, 1.0)
  from jaxpose.codecs import geometry
  crop, maxvals = heatmap.HeatmapCodec(S, H).decode(hm.numpy()[None])
  pred = geometry.to_image(crop, out["affine"].numpy()[None])
  src = joints[perm] if bool(out["flip"]) else joints
  ok = tw.numpy() > 0
  assert ok.sum() >= 10
  # 0.25 heatmap px = 1 crop px, times the box/crop ratio (250/128)
  err = np.abs(pred[0] - src[:, :2])[ok]
  assert err.max() <= 0.25 * S / H * 250 / S * np.sqrt(2) * 1.3 + 1e-3


# ------------------------------------------------------------------------------- coords

def test_coords_round_trip():
  j = np.array([[-0.5, -0.5], [0.0, 63.5], [127.5, 127.5], [12.25, 99.0]], np.float32)
  c = coords.encode(j, S).numpy()
  np.testing.assert_allclose(c[0], [0.0, 0.0])
  np.testing.assert_allclose(c[1], [0.5 / S, 0.5])
  np.testing.assert_allclose(c[2], [1.0, 1.0])
  np.testing.assert_allclose(coords.decode(c, S), j, atol=1e-4)


# --------------------------------------------------------------------------- part windows

def test_window_boxes_layout():
  b = part_windows.window_boxes()
  assert b.shape == (64, 4) and b.dtype == np.float32
  np.testing.assert_allclose(b[0], [0, 0, 30, 30])
  np.testing.assert_allclose(b[-1], [82, 82, 112, 112])
  np.testing.assert_allclose(b[1], [82 / 7, 0, 82 / 7 + 30, 30], rtol=1e-6)   # row-major
  np.testing.assert_allclose(b[8], [0, 82 / 7, 30, 82 / 7 + 30], rtol=1e-6)
  np.testing.assert_allclose(b[:, 2] - b[:, 0], 30, rtol=1e-6)
  b256 = part_windows.window_boxes(112, 30, 8, image_size=256)
  np.testing.assert_allclose(b256, b * 256 / 112, rtol=1e-6)
  assert part_windows.window_boxes(64, 16, 4).shape == (16, 4)


def _px(*edge_points):
  """Edge-frame points (crop spans [0, 112]) → pixel-centre joints."""
  return np.asarray(edge_points, np.float32) - 0.5


def _grid(labels):
  return labels.numpy().reshape(-1, 8, 8)


def test_part_windows_hand_worked_cases():
  boxes = part_windows.window_boxes()  # window origins 0, 11.71, 23.43, 35.14, 46.86, ...

  # 1. horizontal stick (5,10)-(20,10), length 15: fully inside window (0,0); window (0,1)
  #    spans x ∈ [11.71, 41.71] and holds 20 - 11.71 = 8.29 px = 0.55 > 0.3; row 1 starts
  #    at y = 11.71 > 10, so nothing else.
  y = _grid(part_windows.encode(_px((5, 10), (20, 10)), [1, 1], [(0, 1)], boxes))
  expect = np.zeros((1, 8, 8))
  expect[0, 0, :2] = 1
  np.testing.assert_array_equal(y, expect)

  # 2. a stick of length 20 at y = 5 crossing window (0,0)'s right edge x = 30:
  #    (23.8 → 43.8): 6.2 px inside = 0.31 > 0.3 → 1;   (24.2 → 44.2): 5.8 px = 0.29 → 0.
  #    Windows (0,1) [11.71, 41.71], (0,2) [23.43, 53.43], (0,3) [35.14, 65.14] hold
  #    0.90/0.88, 1.0 and 0.43/0.45 of it → 1; (0,4) starts at 46.86 → 0.
  joints = _px((23.8, 5), (43.8, 5), (24.2, 5), (44.2, 5))
  y = _grid(part_windows.encode(joints, [1, 1, 1, 1], [(0, 1), (2, 3)], boxes))
  np.testing.assert_array_equal(y[0, 0], [1, 1, 1, 1, 0, 0, 0, 0])
  np.testing.assert_array_equal(y[1, 0], [0, 1, 1, 1, 0, 0, 0, 0])
  assert not y[:, 1:].any()
  f = part_windows.fractions(joints, [(0, 1), (2, 3)], boxes).numpy()
  np.testing.assert_allclose(f[:, 0], [0.31, 0.29], atol=1e-4)

  # 3. diagonal (10,10)-(40,40), t ∈ [0, 1] along it, window (r, c) spans
  #    [o_c, o_c+30] × [o_r, o_r+30]:
  #    (0,0): t ≤ 20/30 → 0.67;  (0,1),(1,0): t ∈ [0.057, 0.667] → 0.61;  (1,1): 0.94;
  #    (1,2),(2,1),(2,2): t ∈ [0.448, 1] → 0.55;  (0,2),(2,0): t ∈ [0.448, 0.667] → 0.22;
  #    row/col 3 starts at 35.14 → t ≥ 0.838 → ≤ 0.16.
  y = _grid(part_windows.encode(_px((10, 10), (40, 40)), [1, 1], [("diag", 0, 1)], boxes))
  expect = np.zeros((8, 8))
  expect[:3, :3] = 1
  expect[0, 2] = expect[2, 0] = 0
  np.testing.assert_array_equal(y[0], expect)

  # 4. the full-crop diagonal (0,0)-(112,112): each diagonal window holds 30/112 = 0.268 of
  #    it — no window at β = 0.3, exactly the 8 diagonal windows at β = 0.25.
  full = _px((0, 0), (112, 112))
  assert not part_windows.encode(full, [1, 1], [(0, 1)], boxes).numpy().any()
  y = _grid(part_windows.encode(full, [1, 1], [(0, 1)], boxes, beta=0.25))
  np.testing.assert_array_equal(y[0], np.eye(8))


def test_part_windows_invalid_zero_length_and_part_formats():
  boxes = part_windows.window_boxes()
  joints = _px((10, 10), (40, 40), (50, 50), (50, 50))
  y = part_windows.encode(joints, [1, 0, 1, 1], [(0, 1), (2, 3)], boxes).numpy()
  assert y.shape == (2, 64) and not y.any()  # invalid end; zero-length stick
  ub = skeleton.UPPER_BODY
  rng = np.random.default_rng(5)
  j = rng.uniform(0, 111, (8, 2)).astype(np.float32)
  a = part_windows.encode(j, np.ones(8), ub.parts, boxes).numpy()
  b = part_windows.encode(j, np.ones(8), [(p[1], p[2]) for p in ub.parts], boxes).numpy()
  assert a.shape == (7, 64)
  np.testing.assert_array_equal(a, b)


def test_part_windows_match_dense_sampling():
  """Liang–Barsky fractions equal a brute-force count of points sampled along the sticks."""
  rng = np.random.default_rng(6)
  boxes = part_windows.window_boxes(112, 30, 8, image_size=128)
  j = rng.uniform(-20, 140, (12, 2)).astype(np.float32)
  j[0, 1] = j[1, 1]  # a horizontal and a vertical stick hit the p == 0 branches
  j[2, 0] = j[3, 0]
  parts = [(i, i + 1) for i in range(11)]
  f = part_windows.fractions(j, parts, boxes).numpy()
  t = (np.arange(20000) + 0.5) / 20000
  for p, (a, b) in enumerate(parts):
    pts = j[a] + 0.5 + t[:, None] * (j[b] - j[a])
    ins = ((pts[:, None, 0] >= boxes[:, 0]) & (pts[:, None, 0] <= boxes[:, 2]) &
           (pts[:, None, 1] >= boxes[:, 1]) & (pts[:, None, 1] <= boxes[:, 3]))
    np.testing.assert_allclose(f[p], ins.mean(0), atol=2e-4)


def test_part_windows_in_graph_mode():
  boxes = part_windows.window_boxes()
  parts = skeleton.UPPER_BODY.parts
  ds = tf.data.Dataset.from_tensors((tf.zeros((8, 2)) + 50.0, tf.ones(8))).map(
      lambda j, v: part_windows.encode(j, v, parts, boxes))
  assert ds.element_spec.shape == (7, 64)
  next(iter(ds))
