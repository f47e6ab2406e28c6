"""DeepPose cascade geometry (jaxpose/codecs/cascade.py, issue #16): normalisation, torso
diameter and stage boxes, the patch affine against the library's crop, the jax patch sampler
against the numpy crop of jaxpose.crops, the map back to image pixels, and the §3.2 error model."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpose import crops
from jaxpose import skeleton as sk
from jaxpose.codecs import cascade as dp
from jaxpose.codecs import geometry

LSP = sk.LSP


def _lsp_pose():
  """A hand-built LSP pose: l_shoulder (9) – r_hip (2) = 5 px, r_shoulder (8) – l_hip (3) = 10."""
  j = np.zeros((14, 2), np.float32)
  j[9] = (10.0, 0.0)
  j[2] = (13.0, 4.0)
  j[8] = (0.0, 0.0)
  j[3] = (6.0, 8.0)
  return j


def _denormalise(n, center, size):
  """DeepPose §3's ``N⁻¹(n; b) = b_c + n·(b_w, b_h)``, sizes by ``normalise``'s shape rule: a
  size with fewer axes than ``center`` is a square side aligned with its leading axes."""
  c, s = np.asarray(center), np.asarray(size)
  if s.ndim < c.ndim:
    s = s.reshape(s.shape + (1,) * (c.ndim - s.ndim))
  return c + np.asarray(n) * s


# ---------------------------------------------------------------------------- normalisation

def test_normalise_hand_value_and_round_trip():
  n = dp.normalise(np.array([110.0, 40.0]), np.array([100.0, 50.0]), np.array([20.0, 40.0]))
  np.testing.assert_array_equal(n, [0.5, -0.25])
  rng = np.random.default_rng(0)
  y = rng.uniform(-50, 500, (3, 14, 2))
  c = rng.uniform(0, 400, (3, 14, 2))
  for size in (37.5, rng.uniform(10, 90, (3,)), rng.uniform(10, 90, (3, 14)),
               rng.uniform(10, 90, (3, 14, 2))):
    n = dp.normalise(y, c, size)
    np.testing.assert_allclose(_denormalise(n, c, size), y, rtol=0, atol=1e-10)
    nj = jax.jit(dp.normalise)(y.astype(np.float32), c.astype(np.float32),
                               np.asarray(size, np.float32))
    assert isinstance(nj, jax.Array)
    np.testing.assert_allclose(np.asarray(nj), n, rtol=1e-5, atol=1e-5)
    back = _denormalise(np.asarray(nj), c.astype(np.float32), np.asarray(size, np.float32))
    np.testing.assert_allclose(back, y, rtol=0, atol=1e-3)
  # (B,) sides are aligned with the leading axis: person b's side for all its joints.
  sides = np.array([10.0, 20.0, 40.0])
  np.testing.assert_allclose(dp.normalise(y, c, sides), (y - c) / sides[:, None, None])


def test_normalised_crop_coords_are_deeppose_normalisation():
  """c = (p + 0.5)/S of a point in the patch of box b is N(y; b) + 0.5 (the design's reading)."""
  rng = np.random.default_rng(1)
  y = rng.uniform(0, 300, (2, 14, 2))
  c = rng.uniform(0, 300, (2, 14, 2))
  side = rng.uniform(20, 80, (2,))
  S = 64
  p = geometry.apply_affine(y, np.linalg.inv(dp.box_affine_inverse(c, side, S)))
  np.testing.assert_allclose((p + 0.5) / S, dp.normalise(y, c, side) + 0.5, atol=1e-10)
  # and back: the patch pixel of N(y; b) + 0.5 goes through the patch affine to y
  pix = (dp.normalise(y, c, side) + 0.5) * S - 0.5
  np.testing.assert_allclose(geometry.apply_affine(pix, dp.box_affine_inverse(c, side, S)), y,
                             rtol=0, atol=1e-10)


# ----------------------------------------------------------------------------- torso, boxes

def test_torso_pairs():
  assert dp.torso_pairs(LSP) == ((9, 2), (8, 3))  # l_sho–r_hip, then r_sho–l_hip
  assert dp.torso_pairs(sk.MPII) == ((13, 2), (12, 3))
  assert dp.torso_pairs((9, 2)) == ((9, 2),)
  with pytest.raises(ValueError, match="no torso"):
    dp.torso_pairs(sk.UPPER_BODY)


def test_torso_diameter_and_fallback():
  j = np.stack([_lsp_pose()] * 4)
  j[1, 9] = np.nan  # l_shoulder missing → the other diagonal
  j[3, 9] = np.nan
  j[3, 8] = np.nan  # both diagonals incomplete → NaN
  valid = np.ones((4, 14))
  valid[2, 2] = 0  # r_hip not annotated → the other diagonal
  d = dp.torso_diameter(j, LSP, valid)
  np.testing.assert_array_equal(d[:3], [5.0, 10.0, 10.0])
  assert np.isnan(d[3])
  dj = jax.jit(lambda a, v: dp.torso_diameter(a, LSP, v))(jnp.asarray(j), jnp.asarray(valid))
  np.testing.assert_array_equal(np.asarray(dj[:3]), [5.0, 10.0, 10.0])
  assert np.isnan(np.asarray(dj[3]))


def test_torso_diameter_tf_is_the_numpy_rule():
  """The pipeline's tf twin: the same pairs, fallback and NaN, the same float32 values."""
  import tensorflow as tf
  rng = np.random.default_rng(3)
  j = (rng.uniform(0, 300, (6, 14, 2))).astype(np.float32)
  j[1, 9] = np.nan
  j[3, 9], j[3, 8] = np.nan, np.nan
  valid = np.ones((6, 14), np.float32)
  valid[2, 2] = 0
  valid[4, 9], valid[4, 3] = 0, 0  # both diagonals unannotated → NaN
  want = dp.torso_diameter(j, LSP, valid)
  got = dp.torso_diameter_tf(tf.constant(j), LSP, tf.constant(valid)).numpy()
  np.testing.assert_array_equal(got, want)
  assert np.isnan(got[[3, 4]]).all() and np.isfinite(got[[0, 1, 2, 5]]).all()
  one = dp.torso_diameter_tf(tf.constant(j[5]), LSP, tf.constant(valid[5])).numpy()
  assert one.shape == () and one == want[5]


def test_stage_boxes_from_a_known_pose():
  j = _lsp_pose()[None] + np.float32(100.0)
  centers, sides = dp.stage_boxes(j, LSP, sigma=1.5)
  np.testing.assert_array_equal(centers, j)  # box i centred on y_i^(s-1)
  np.testing.assert_array_equal(sides, [7.5])  # σ · |l_sho − r_hip| = 1.5 · 5
  cj, sj = jax.jit(lambda a: dp.stage_boxes(a, LSP, 1.5))(jnp.asarray(j))
  np.testing.assert_array_equal(np.asarray(sj), [7.5])
  np.testing.assert_array_equal(np.asarray(cj), j)


# --------------------------------------------------------------------------------- affines

def test_box_affine_inverse_is_the_library_crop_matrix():
  rng = np.random.default_rng(2)
  S, pad = 96, 1.25
  for _ in range(5):
    center = rng.uniform(-50, 700, 2).astype(np.float32)
    side = np.float32(rng.uniform(30, 400))
    scale = np.float32(side / (200.0 * pad))
    ref = geometry.crop_matrix(center, scale, S, scale_pad=pad)
    inv = dp.box_affine_inverse(center.astype(np.float64), np.float64(side), S)
    np.testing.assert_allclose(inv, geometry.invert(ref), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(np.linalg.inv(inv), ref, rtol=1e-6, atol=2e-4)
  # Box centre → crop centre; box edges → the crop's outer edges (−0.5 and S − 0.5), both ways.
  inv = dp.box_affine_inverse(np.array([10.0, 20.0]), 8.0, 4)
  image = np.array([[10.0, 20.0], [6.0, 16.0], [14.0, 24.0]])
  patch = np.array([[1.5, 1.5], [-0.5, -0.5], [3.5, 3.5]])
  np.testing.assert_array_equal(geometry.apply_affine(patch, inv), image)
  np.testing.assert_allclose(geometry.apply_affine(image, np.linalg.inv(inv)), patch,
                             rtol=0, atol=1e-12)
  mj = jax.jit(dp.box_affine_inverse, static_argnums=2)(np.zeros((2, 3, 2), np.float32),
                                                       np.array([4.0, 8.0], np.float32), 4)
  assert mj.shape == (2, 3, 3, 3)
  np.testing.assert_allclose(np.asarray(mj),
                             dp.box_affine_inverse(np.zeros((2, 3, 2)), [4.0, 8.0], 4))


# --------------------------------------------------------------------------------- patches

def test_crop_patches_match_the_numpy_crop():
  """Same bilinear convention as crops.warp (tf's kernel) at side/S < 2, where crops.warp does
  not antialias; boxes partly outside the image blend with the fill 0 the same way."""
  rng = np.random.default_rng(3)
  H, W, S = 90, 120, 48
  images = rng.uniform(0, 1, (2, H, W, 3)).astype(np.float32)
  centers = np.array([[[60.3, 44.7], [5.2, 80.9], [118.0, 3.4]],
                      [[30.0, 30.0], [70.6, 50.1], [-10.0, 45.0]]], np.float32)
  sides = np.array([[37.3, 61.1, 80.0], [48.0, 20.5, 90.0]], np.float32)  # side/S < 2
  fn = jax.jit(functools.partial(dp.crop_patches, out_size=S))
  out = np.asarray(fn(jnp.asarray(images), jnp.asarray(centers), jnp.asarray(sides)))
  assert out.shape == (2, 3, S, S, 3)
  for b in range(2):
    for k in range(3):
      scale = sides[b, k] / (200.0 * 1.25)
      m = geometry.crop_matrix(centers[b, k], scale, S, scale_pad=1.25)
      ref = crops.warp(images[b], m, S)
      np.testing.assert_allclose(out[b, k], ref, atol=2e-4, err_msg=f"box {b},{k}")
  # (B,) sides: one side for all boxes of a person.
  one = np.asarray(fn(jnp.asarray(images), jnp.asarray(centers), jnp.asarray(sides[:, 0])))
  m = geometry.crop_matrix(centers[1, 2], sides[1, 0] / 250.0, S, scale_pad=1.25)
  np.testing.assert_allclose(one[1, 2], crops.warp(images[1], m, S), atol=2e-4)
  # uint8 is scaled to [0, 1] as crops.warp does; edge mode never reads the fill.
  u8 = (images * 255).astype(np.uint8)
  out8 = np.asarray(fn(jnp.asarray(u8), jnp.asarray(centers), jnp.asarray(sides)))
  m = geometry.crop_matrix(centers[0, 1], sides[0, 1] / 250.0, S, scale_pad=1.25)
  np.testing.assert_allclose(out8[0, 1], crops.warp(u8[0], m, S), atol=2e-4)
  edge = np.asarray(jax.jit(functools.partial(dp.crop_patches, out_size=S, mode="edge"))(
      images, centers, sides))
  assert edge.min() > 0  # the random image is > 0 everywhere; constant mode reads 0 outside
  assert out[1, 2].min() == 0.0
  # At side/S ≥ 2 crops.warp area-downsamples first (antialias); crop_patches does not, and
  # equals crops.warp without it.
  big = np.asarray(fn(jnp.asarray(images[:1]), jnp.asarray(centers[:1, :1]),
                      jnp.asarray([[3.0 * S]], jnp.float32)))[0, 0]
  m = geometry.crop_matrix(centers[0, 0], 3.0 * S / 250.0, S, scale_pad=1.25)
  np.testing.assert_allclose(big, crops.warp(images[0], m, S, antialias=False), atol=2e-4)


# ------------------------------------------------------------------------------- map back

def test_refine_displacement_to_image_exact_hand_case():
  """S = 4, box side 8 at (10, 20): one patch pixel = 2 image pixels. ψ = (0.75, 0.25) is the
  normalised displacement (+0.25, −0.25) of the box frame = (+2, −2) px → (12, 18) exactly."""
  S = 4
  prev = np.zeros((1, 2, 2), np.float32)
  prev[0, 0] = (10.0, 20.0)
  prev[0, 1] = (-3.0, 7.0)
  out = np.full((1, 2, 2, 2), 99.0, np.float32)  # (patch, joint); off-diagonal is ignored
  out[0, 0, 0] = (0.75, 0.25)
  out[0, 1, 1] = (0.5, 0.625)  # joint 1: displacement (0, +0.125·8) = (0, +1)
  sides = np.array([8.0], np.float32)
  want = np.array([[[12.0, 18.0], [-3.0, 8.0]]], np.float32)
  np.testing.assert_array_equal(dp.refine(prev, out, prev, sides, S), want)
  # the already-selected (B, K, 2) form, and N⁻¹ of the displacement agree
  psi = out[:, [0, 1], [0, 1]]
  np.testing.assert_array_equal(dp.refine(prev, psi, prev, sides, S), want)
  np.testing.assert_array_equal(_denormalise(psi - 0.5, prev, sides), want)
  # boxes centred away from y^(s−1): the displacement is added to y^(s−1) (DeepPose's update)
  shifted = prev + np.float32(4.0)
  np.testing.assert_array_equal(dp.refine(prev, out, shifted, sides, S), want)
  jitted = jax.jit(functools.partial(dp.refine, out_size=S))
  np.testing.assert_array_equal(np.asarray(jitted(prev, out, prev, sides)), want)


def test_patch_of_a_dot_maps_back_to_the_dot():
  """A one-pixel dot in the image, cut into the patch of a nearby box (side = S: one patch pixel
  per image pixel, box centre at half-pixels so the grid is integer): the patch's brightest pixel
  mapped back through refine is the dot, exactly."""
  S = 32
  image = np.zeros((1, 100, 120, 3), np.float32)
  image[0, 70, 47] = 1.0  # (x, y) = (47, 70)
  prev = np.array([[[50.5, 60.5]]], np.float32)
  patches = jax.jit(dp.crop_patches, static_argnums=3)(image, prev, np.array([32.0], np.float32), S)
  v, u = np.unravel_index(np.argmax(np.asarray(patches)[0, 0, ..., 0]), (S, S))
  assert (u, v) == (12, 25)
  coords = (np.array([[[[u, v]]]], np.float32) + 0.5) / S  # (B, K, K, 2), K = 1
  got = dp.refine(prev, coords, prev, np.array([32.0], np.float32), S)
  np.testing.assert_array_equal(got, [[[47.0, 70.0]]])


def test_refine_stage_with_a_stand_in_network_and_alexnet_shapes():
  """The jit-able stage: every patch's output i is the box centre + a known normalised offset."""
  from jaxpose.models.regressors import AlexNet
  S, K = 72, 14
  rng = np.random.default_rng(4)
  images = jnp.asarray(rng.uniform(0, 1, (2, 160, 140, 3)), jnp.float32)
  prev = jnp.asarray(_lsp_pose()[None] * 3 + np.array([[[40.0], [50.0]]]).reshape(2, 1, 1),
                     jnp.float32)
  offset = jnp.asarray(rng.uniform(-0.2, 0.2, (K, 2)), jnp.float32)

  def fake(x):  # (B·K, S, S, 3) → (B·K, K, 2)
    return jnp.broadcast_to(0.5 + offset, (x.shape[0], K, 2))

  step = jax.jit(lambda im, j: dp.refine_stage(fake, im, j, LSP, 2.0, S))
  joints, centers, sides = step(images, prev)
  np.testing.assert_allclose(np.asarray(sides), 2.0 * 15.0)
  np.testing.assert_allclose(np.asarray(joints), np.asarray(prev + offset * 30.0), atol=1e-4)
  # The stage network is the coordinate regressor: patches in, (B·K, K, 2) coords out.
  # Traced abstractly (shapes only, nothing compiled: the regressor has its own tests).
  net = AlexNet(num_joints=K, stem_stride=2, width_mult=0.05, fc_features=(16,),
                regression_features=16)
  variables = jax.eval_shape(lambda: net.init(jax.random.key(0), jnp.zeros((1, S, S, 3))))

  def stage(v, im, j):
    return dp.refine_stage(lambda x: net.apply(v, x)["coords"][-1], im, j, LSP, 2.0, S)

  joints, centers, sides = jax.eval_shape(stage, variables, images, prev)
  assert joints.shape == centers.shape == (2, K, 2) and sides.shape == (2,)


# ------------------------------------------------------------------------------ error model

def test_error_statistics_measure_a_drawn_distribution_back():
  """Errors drawn as the pipeline draws them (mean + L·z with L = cholesky_2x2(Σ), in units of
  the box side) are measured back by error_statistics, in numpy and in jax."""
  K, N = 3, 100_000
  mean = np.array([[0.05, -0.02], [0.0, 0.0], [-0.1, 0.03]], np.float32)
  cov = np.array([[[0.010, 0.004], [0.004, 0.020]],
                  [[0.0, 0.0], [0.0, 0.005]],  # singular: no spread in x
                  [[0.030, -0.012], [-0.012, 0.008]]], np.float32)
  chol = dp.cholesky_2x2(cov)
  np.testing.assert_allclose(np.einsum("kij,klj->kil", chol, chol), cov, atol=1e-7)
  assert np.all(chol[:, 0, 1] == 0)  # lower triangular
  rng = np.random.default_rng(5)
  gt = rng.uniform(0, 500, (N, K, 2))
  sides = rng.uniform(40, 200, (N,))
  e = mean + np.einsum("kij,nkj->nki", chol, rng.normal(size=(N, K, 2)))
  sim = gt + e * sides[:, None, None]
  m_np, c_np = dp.error_statistics(sim, gt, None, sides)
  np.testing.assert_allclose(m_np, mean, atol=2e-3)
  np.testing.assert_allclose(c_np, cov, atol=1e-3, rtol=0.03)
  m_j, c_j = jax.jit(dp.error_statistics)(jnp.asarray(sim, jnp.float32), jnp.asarray(gt, jnp.float32),
                                          jnp.ones((N, K)), jnp.asarray(sides, jnp.float32))
  np.testing.assert_allclose(np.asarray(m_j), m_np, atol=1e-4)
  np.testing.assert_allclose(np.asarray(c_j), c_np, atol=1e-4)


def test_error_statistics_hand_case_mask_and_empty_joint():
  gt = np.zeros((4, 2, 2))
  pred = np.array([[[1, 0], [9, 9]], [[3, 2], [9, 9]], [[np.nan, 0], [9, 9]],
                   [[50, 50], [9, 9]]], np.float64)
  valid = np.array([[1, 0], [1, 0], [1, 0], [0, 0]])  # joint 1 never valid; row 3 masked
  mean, cov = dp.error_statistics(pred, gt, valid, np.array([1.0, 2.0, 1.0, 1.0]))
  # joint 0: errors (1, 0) and (3, 2)/2 = (1.5, 1); the NaN row and the masked row do not count
  np.testing.assert_allclose(mean[0], [1.25, 0.5])
  np.testing.assert_allclose(cov[0], [[0.125, 0.25], [0.25, 0.5]])
  np.testing.assert_array_equal(mean[1], [0.0, 0.0])
  np.testing.assert_array_equal(cov[1], np.zeros((2, 2)))
