"""Per-example augmentation: geometry, image/joint consistency, determinism (CPU, tf)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from jaxpose import skeleton
from jaxpose.codecs import geometry
from jaxpose.data import augment

tf.config.set_visible_devices([], "GPU")

S = 128


def _params(scale_factor=1.0, rotation=0.0, shear=0.0, flip=False):
  return dict(scale_factor=tf.constant(scale_factor, tf.float32),
              rotation=tf.constant(rotation, tf.float32),
              shear=tf.constant(shear, tf.float32), flip=tf.constant(flip))


def _blob_image(h, w, point, sigma, rng, noise=0.15):
  """Low random background with a bright Gaussian blob (peak 1) at the sub-pixel ``point``."""
  yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
  blob = np.exp(-((xx - point[0]) ** 2 + (yy - point[1]) ** 2) / (2 * sigma ** 2))
  img = rng.random((h, w, 3)).astype(np.float32) * noise
  return np.clip(img + blob[..., None], 0, 1)


def _peak(crop):
  """Argmax of the crop's mean channel and the centroid of the 5×5 patch around it."""
  m = np.asarray(crop).mean(-1)
  y, x = np.unravel_index(np.argmax(m), m.shape)
  y0, y1, x0, x1 = max(y - 2, 0), min(y + 3, m.shape[0]), max(x - 2, 0), min(x + 3, m.shape[1])
  patch = np.clip(m[y0:y1, x0:x1] - 0.3, 0, None)
  yy, xx = np.mgrid[y0:y1, x0:x1]
  centroid = np.array([(xx * patch).sum(), (yy * patch).sum()]) / patch.sum()
  return np.array([x, y], np.float64), centroid


@pytest.mark.parametrize("sk", [skeleton.MPII, skeleton.LSP, skeleton.UPPER_BODY, skeleton.FLIC])
def test_flip_permutation_is_an_involution(sk):
  perm = sk.flip_permutation
  np.testing.assert_array_equal(perm[perm], np.arange(sk.num_joints))
  flat = [j for pair in sk.flip_pairs for j in pair]
  assert len(flat) == len(set(flat))
  for a, b in sk.flip_pairs:  # pairs swap left and right names
    assert {sk.joints[a][:2], sk.joints[b][:2]} == {"l_", "r_"}


def test_plain_crop_geometry():
  center, scale, pad = np.array([210.0, 160.0]), 1.3, 1.25
  side = 200 * scale * pad
  m = geometry.crop_matrix_tf(center, scale, S, augment.identity_params(), pad).numpy()
  pts = np.array([center, center - side / 2, center + side / 2], np.float32)
  out = geometry.apply_affine_tf(pts, m).numpy()
  # box centre → crop centre; box outer edges → crop outer edges (-0.5, S-0.5)
  np.testing.assert_allclose(out, [[(S - 1) / 2] * 2, [-0.5, -0.5], [S - 0.5, S - 0.5]], atol=1e-4)


def test_rotation_and_flip_conventions():
  c = np.array([100.0, 100.0])
  # positive rotation: a point right of the box centre moves up (counter-clockwise on screen)
  m = geometry.crop_matrix_tf(c, 1.0, S, _params(rotation=90.0)).numpy()
  p = geometry.apply_affine_tf(np.array([[150.0, 100.0]], np.float32), m).numpy()[0]
  mid = (S - 1) / 2
  np.testing.assert_allclose(p, [mid, mid - 50 * S / 250], atol=1e-4)
  # flip mirrors about the crop centre: x' = S - 1 - x
  m0 = geometry.crop_matrix_tf(c, 1.0, S, _params()).numpy()
  mf = geometry.crop_matrix_tf(c, 1.0, S, _params(flip=True)).numpy()
  q = np.array([[37.0, 81.0], [150.0, 12.0]], np.float32)
  a, b = geometry.apply_affine_tf(q, m0).numpy(), geometry.apply_affine_tf(q, mf).numpy()
  np.testing.assert_allclose(b[:, 0], S - 1 - a[:, 0], atol=1e-4)
  np.testing.assert_allclose(b[:, 1], a[:, 1], atol=1e-4)


def test_rendered_dot_lands_where_the_joint_says():
  """The affine maps image and joints consistently: the warped dot sits at apply(joint)."""
  rng = np.random.default_rng(0)
  h, w = 180, 220
  worst_argmax, worst_centroid = 0.0, 0.0
  for trial in range(12):
    center = np.array([w / 2 + rng.uniform(-15, 15), h / 2 + rng.uniform(-15, 15)])
    scale = rng.uniform(0.5, 0.7)  # box ≈ 125–175 px onto 128: no antialias downsampling
    params = _params(scale_factor=rng.uniform(0.75, 1.25), rotation=rng.uniform(-30, 30),
                     shear=rng.uniform(-0.5, 0.5), flip=bool(trial % 2))
    m = geometry.crop_matrix_tf(center, scale, S, params)
    joint = center + rng.uniform(-35, 35, size=2)
    img = (_blob_image(h, w, joint, 1.5, rng) * 255).round().astype(np.uint8)
    crop = augment.warp(img, m, S).numpy()
    assert crop.shape == (S, S, 3) and crop.dtype == np.float32
    assert 0.0 <= crop.min() and crop.max() <= 1.0
    expected = geometry.apply_affine_tf(joint[None].astype(np.float32), m).numpy()[0]
    argmax, centroid = _peak(crop)
    worst_argmax = max(worst_argmax, np.abs(argmax - expected).max())
    worst_centroid = max(worst_centroid, np.abs(centroid - expected).max())
  assert worst_argmax <= 1.0, worst_argmax
  assert worst_centroid <= 0.25, worst_centroid  # a half-pixel convention slip shows as ≈ 0.5


def test_rendered_dot_with_antialias_downsampling():
  """A large box (≥ 2 image px per crop px) goes through the area-downsampled path."""
  rng = np.random.default_rng(1)
  h, w = 700, 600
  center = np.array([300.0, 350.0])
  for trial in range(3):
    params = _params(scale_factor=rng.uniform(0.9, 1.1), rotation=rng.uniform(-30, 30),
                     flip=bool(trial % 2))
    m = geometry.crop_matrix_tf(center, 2.5, S, params)  # box 625 px → 128: factor ≈ 4.9
    joint = center + rng.uniform(-150, 150, size=2)
    img = _blob_image(h, w, joint, 8.0, rng)
    crop = augment.warp(img, m, S).numpy()
    expected = geometry.apply_affine_tf(joint[None].astype(np.float32), m).numpy()[0]
    argmax, centroid = _peak(crop)
    assert np.abs(argmax - expected).max() <= 1.0
    assert np.abs(centroid - expected).max() <= 0.35


def test_inverse_round_trips_joints():
  rng = np.random.default_rng(2)
  perm = skeleton.MPII.flip_permutation
  cfg = ml_collections.ConfigDict(dict(scale=0.25, rotation=30.0, rotation_prob=1.0, shear=0.5,
                                       flip=True, color=0.2))
  for i in range(6):
    joints = np.c_[rng.uniform(0, 640, (16, 2)), rng.integers(0, 2, 16)].astype(np.float32)
    ex = dict(image=np.zeros((480, 640, 3), np.uint8), joints=joints,
              valid=np.ones(16, np.float32), center=np.array([320.0, 240.0], np.float32),
              scale=np.float32(rng.uniform(1.0, 3.0)))
    out = augment.augment_example(ex, tf.constant([i, 3]), cfg, S, perm, train=True)
    a = out["affine"].numpy()
    back = out["joints_crop"].numpy() @ a[:, :2].T + a[:, 2]
    src = joints[perm] if bool(out["flip"]) else joints
    np.testing.assert_allclose(back, src[:, :2], atol=1e-4, rtol=0)
    np.testing.assert_array_equal(out["visible"].numpy(), src[:, 2])
  # the composed matrix and its inverse in float64
  m = geometry.crop_matrix_tf([320.0, 240.0], 2.0, S, _params(1.1, 25.0, 0.3, True),
                             dtype=tf.float64)
  p = rng.uniform(0, 2000, (50, 2))
  q = geometry.apply_affine_tf(geometry.apply_affine_tf(p, m),
                              geometry.invert_tf(m, tf.float64)).numpy()
  np.testing.assert_allclose(q, p, atol=1e-9, rtol=0)


def test_inside_and_valid():
  perm = skeleton.LSP.flip_permutation
  joints = np.zeros((14, 3), np.float32)
  joints[:, :2] = [100.0, 100.0]
  joints[1, :2] = [1000.0, 100.0]   # far outside the crop
  joints[2, :2] = [100.0, -400.0]   # outside
  valid = np.ones(14, np.float32)
  valid[3] = 0.0
  ex = dict(image=np.zeros((200, 200, 3), np.uint8), joints=joints, valid=valid,
            center=np.array([100.0, 100.0], np.float32), scale=np.float32(1.0))
  out = augment.augment_example(ex, tf.constant([0, 0]), None, S, perm, train=False)
  inside = out["inside"].numpy()
  assert inside[1] == 0 and inside[2] == 0 and inside[0] == 1 and inside[3] == 1
  assert out["valid"].numpy()[3] == 0
  assert not bool(out["flip"])


def test_sample_ranges_and_config_reading():
  cfg = ml_collections.ConfigDict(dict(scale=0.25, rotation=30.0, rotation_prob=0.6, shear=0.5,
                                       flip=True, color=0.2))
  draws = [augment.sample(tf.constant([i, 11]), cfg) for i in range(300)]
  s = np.array([d["scale_factor"].numpy() for d in draws])
  r = np.array([d["rotation"].numpy() for d in draws])
  sh = np.array([d["shear"].numpy() for d in draws])
  f = np.array([d["flip"].numpy() for d in draws])
  assert s.min() >= 0.75 and s.max() <= 1.25 and s.std() > 0.1
  assert np.abs(r).max() <= 30.0 and np.abs(sh).max() <= 0.5
  assert 0.5 < (r != 0).mean() < 0.7  # rotation_prob
  assert 0.4 < f.mean() < 0.6
  off = augment.sample(tf.constant([1, 2]), dict(scale=0.0, rotation=0.0, flip=False))
  assert float(off["scale_factor"]) == 1.0 and float(off["rotation"]) == 0.0
  assert not bool(off["flip"]) and float(off["shear"]) == 0.0
  normal = augment.AugmentConfig(distribution="normal", rotation_prob=1.0)
  rn = np.array([augment.sample(tf.constant([i, 5]), normal)["rotation"].numpy() for i in range(100)])
  assert np.abs(rn).max() <= 60.0
  with pytest.raises(ValueError):
    augment.AugmentConfig.from_any({"distribution": "beta"})


def _example(rng):
  img = (rng.random((160, 200, 3)) * 255).astype(np.uint8)
  joints = np.c_[rng.uniform(40, 160, (16, 2)), np.ones(16)].astype(np.float32)
  return dict(image=img, joints=joints, valid=np.ones(16, np.float32),
              center=np.array([100.0, 80.0], np.float32), scale=np.float32(0.6))


def test_deterministic_given_seed_and_graph_mode():
  ex = _example(np.random.default_rng(3))
  perm = skeleton.MPII.flip_permutation
  cfg = augment.AugmentConfig(rotation_prob=1.0, shear=0.2)
  a = augment.augment_example(ex, tf.constant([5, 9]), cfg, S, perm, train=True)
  b = augment.augment_example(ex, tf.constant([5, 9]), cfg, S, perm, train=True)
  c = augment.augment_example(ex, tf.constant([6, 9]), cfg, S, perm, train=True)
  for k in a:
    np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())
  assert not np.allclose(a["joints_crop"].numpy(), c["joints_crop"].numpy())
  assert not np.allclose(a["image"].numpy(), c["image"].numpy())

  # inside tf.data (graph mode), static shapes, same result as eager
  ds = tf.data.Dataset.from_tensors(ex).map(
      lambda e: augment.augment_example(e, tf.constant([5, 9]), cfg, S, perm, train=True))
  spec = ds.element_spec
  assert spec["image"].shape == (S, S, 3) and spec["joints_crop"].shape == (16, 2)
  assert spec["affine"].shape == (2, 3)
  g = next(iter(ds))
  np.testing.assert_allclose(g["joints_crop"].numpy(), a["joints_crop"].numpy(), atol=1e-4)
  np.testing.assert_allclose(g["image"].numpy(), a["image"].numpy(), atol=1e-5)


def test_color_jitter():
  rng = np.random.default_rng(4)
  img = tf.constant(rng.random((32, 32, 3)).astype(np.float32))
  out = augment.color_jitter(img, tf.constant([1, 2]), dict(color=0.2)).numpy()
  assert out.min() >= 0.0 and out.max() <= 1.0 and not np.allclose(out, img.numpy())
  again = augment.color_jitter(img, tf.constant([1, 2]), dict(color=0.2)).numpy()
  np.testing.assert_array_equal(out, again)
  np.testing.assert_array_equal(augment.color_jitter(img, tf.constant([1, 2]), dict(color=0.0)), img)


def test_translate_moves_the_crop_window_and_leaves_other_draws():
  """Li et al. §4.1's random 112-of-128 crops: ``translate`` shifts the window by u·S crop
  pixels, |u| ≤ translate per axis, drawn from its own stream (the other draws unchanged)."""
  cfg = dict(scale=0.25, rotation=30.0, rotation_prob=0.6, shear=0.5, flip=True)
  for i in range(20):
    seed = tf.constant([i, 3])
    plain = augment.sample(seed, cfg)
    moved = augment.sample(seed, dict(cfg, translate=0.0625))
    for k in ("scale_factor", "rotation", "shear", "flip"):
      assert plain[k].numpy() == moved[k].numpy()
    assert np.all(plain["translate"].numpy() == 0)
    assert np.abs(moved["translate"].numpy()).max() <= 0.0625
  u = np.array([augment.sample(tf.constant([i, 4]), {"translate": 0.0625})["translate"].numpy()
                for i in range(200)])
  assert u.std(axis=0).min() > 0.02 and np.abs(u).max() <= 0.0625
  # the content moves by -u·S: a joint at the centre lands at (S-1)/2 - u·S
  center, scale = np.array([100.0, 80.0]), 0.6
  p = dict(_params(), translate=tf.constant([0.05, -0.03]))
  m = geometry.crop_matrix_tf(center, scale, S, p).numpy()
  np.testing.assert_allclose(m[:2, :2] @ center + m[:2, 2],
                             [(S - 1) / 2 - 0.05 * S, (S - 1) / 2 + 0.03 * S], atol=1e-4)
  m0 = geometry.crop_matrix_tf(center, scale, S, _params()).numpy()
  np.testing.assert_allclose(m[:2, :2], m0[:2, :2])


# ------------------------------------------------------------------- the window a crop reads

def _whole_image_warp(image, m, size):
  """The crop cut from the whole image (no window): every pixel converted, the whole image
  box-downsampled — what ``warp`` did before it cut the window first."""
  from jaxpose import crops
  x = image.astype(np.float32) / np.float32(255.0)
  m = np.asarray(m, np.float64)
  det = abs(m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0])
  f = max(np.floor(1.0 / np.sqrt(det)), 1.0)
  if f >= 2:
    x = crops._box_down(image, int(f))  # uint8 block sums, as warp's
    m = m @ np.array([[f, 0, (f - 1) / 2], [0, f, (f - 1) / 2], [0, 0, 1]])
  inv = np.linalg.inv(m)
  return crops._bilinear(x, (inv / inv[2, 2]).reshape(9)[:8].astype(np.float32), size)


def _photo(h, w, rng):
  """A smooth random picture (JPEG-friendly) with some texture, uint8."""
  small = rng.integers(0, 256, (h // 8 + 2, w // 8 + 2, 3)).astype(np.float32)
  big = tf.image.resize(small[None], (h, w), method="bicubic")[0].numpy()
  return np.clip(big + rng.normal(0, 6, big.shape), 0, 255).astype(np.uint8)


def test_crop_from_its_window_equals_crop_from_the_whole_image():
  """warp converts and downsamples only the window the crop reads: the crop is the one cut
  from the whole image, for boxes inside, across the border of and outside the picture, at
  every downsampling factor up to 8."""
  rng = np.random.default_rng(7)
  worst = 0.0
  for trial in range(16):
    h, w = (int(v) for v in rng.integers(40, 900, 2))
    image = _photo(h, w, rng)
    center = rng.uniform([-0.2 * w, -0.2 * h], [1.2 * w, 1.2 * h])
    size = int(rng.choice([32, 64]))
    scale = rng.uniform(0.05, 8.0 * size / 250.0)
    params = _params(scale_factor=rng.uniform(0.8, 1.2), rotation=rng.uniform(-40, 40),
                     shear=rng.uniform(-0.3, 0.3), flip=bool(trial % 2))
    m = geometry.crop_matrix_tf(center, scale, size, params).numpy()
    crop = augment.warp(image, m, size).numpy()
    ref = _whole_image_warp(image, m, size)
    worst = max(worst, float(np.abs(crop - ref).max()))
  assert worst <= 3e-5, worst  # measured 1.5e-5: float32 transform offsets


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_warp_of_encoded_bytes_decodes_only_the_window(fmt):
  """Given the file's bytes, warp decodes only the window (JPEG: decode_and_crop_jpeg) and
  cuts the crop it cuts from the decoded picture."""
  rng = np.random.default_rng(11)
  for trial in range(6):
    h, w = (int(v) for v in rng.integers(60, 700, 2))
    image = _photo(h, w, rng)
    data = (tf.io.encode_jpeg(image, quality=90) if fmt == "jpeg" else tf.io.encode_png(image))
    decoded = tf.io.decode_image(data, channels=3).numpy()
    center = rng.uniform([0, 0], [w, h])
    m = geometry.crop_matrix_tf(center, rng.uniform(0.1, 2.0), S,
                            _params(rotation=rng.uniform(-30, 30))).numpy()
    from_bytes = augment.warp(data, m, S).numpy()
    np.testing.assert_allclose(from_bytes, augment.warp(decoded, m, S).numpy(), atol=1e-6)
  x0, y0, x1, y1 = (int(v) for v in augment.window(m, h, w, S, 1))
  assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
