"""jaxpose/losses.py against numpy: the weighted heat-map and coordinate MSEs, the stacked sums,
CPM's extra maps on the scale of one joint map (Wei et al. eq. 4), the sigmoid cross-entropy at
extreme logits, and the multi-scale pyramid (Ke et al. eq. 1) matched by size with GT skipped.
The families' composition of these terms is tested in tests/families/ and tests/models/test_msn.py."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxpose import losses

K = 3


def _np_heatmap_mse(p, t, w):
  """Mean over (B, h, w, K) of w_bk (p − t)², by loops over batch and joint."""
  p, t = np.asarray(p, np.float64), np.asarray(t, np.float64)
  total = 0.0
  for b in range(p.shape[0]):
    for k in range(p.shape[-1]):
      total += w[b, k] * np.sum((p[b, ..., k] - t[b, ..., k]) ** 2)
  return total / p.size


def _maps(rng, b, h, k):
  return rng.normal(size=(b, h, h, k)).astype(np.float32)


def test_heatmap_mse_is_the_weighted_mean_and_ignores_weight_zero_joints():
  rng = np.random.default_rng(0)
  pred, target = _maps(rng, 2, 5, 4), _maps(rng, 2, 5, 4)
  weight = np.array([[1.0, 0.0, 2.0, 0.5], [0.0, 1.0, 1.0, 3.0]], np.float32)
  got = float(losses.heatmap_mse(pred, target, weight))
  np.testing.assert_allclose(got, _np_heatmap_mse(pred, target, weight), rtol=1e-6)
  # a joint of weight 0 (unannotated / outside the crop): any prediction, same loss, no gradient
  moved = pred.copy()
  moved[0, ..., 1] += 100.0
  moved[1, ..., 0] -= 100.0
  assert float(losses.heatmap_mse(moved, target, weight)) == pytest.approx(got, rel=1e-6)
  grad = np.asarray(jax.grad(losses.heatmap_mse)(jnp.asarray(pred), target, weight))
  assert not grad[0, ..., 1].any() and not grad[1, ..., 0].any()
  np.testing.assert_allclose(grad[0, ..., 2], 2 * 2.0 * (pred - target)[0, ..., 2] / pred.size,
                             rtol=1e-5)


def test_heatmap_mse_of_bfloat16_predictions_is_float32():
  rng = np.random.default_rng(1)
  pred = jnp.asarray(_maps(rng, 1, 4, K), jnp.bfloat16)
  target = _maps(rng, 1, 4, K)
  weight = np.ones((1, K), np.float32)
  got = losses.heatmap_mse(pred, target, weight)
  assert got.dtype == jnp.float32
  # the bf16 values themselves, squared in float32 (not rounded to bf16 again)
  np.testing.assert_allclose(float(got), _np_heatmap_mse(np.asarray(pred, np.float32), target,
                                                         weight), rtol=1e-6)


def test_stacked_heatmap_mse_sums_every_stack_against_one_target():
  rng = np.random.default_rng(2)
  target = _maps(rng, 2, 4, K)
  weight = rng.uniform(size=(2, K)).astype(np.float32)
  stacks = [_maps(rng, 2, 4, K) for _ in range(3)]
  expected = sum(_np_heatmap_mse(s, target, weight) for s in stacks)
  np.testing.assert_allclose(float(losses.stacked_heatmap_mse(tuple(stacks), target, weight)),
                             expected, rtol=1e-6)
  # a perfect stack adds nothing
  np.testing.assert_allclose(
      float(losses.stacked_heatmap_mse((stacks[0], target), target, weight)),
      _np_heatmap_mse(stacks[0], target, weight), rtol=1e-6)


def test_extra_map_mse_weighs_each_pixel_as_one_joint_map_pixel():
  """heatmaps (weights 1) + background = Σ over all K+1 maps of (p − t)² / (B·h·w·K), eq. 4 over
  a constant; the divisor is K (the joints), not the extra map's one channel."""
  rng = np.random.default_rng(3)
  b, h, k = 2, 4, 5
  target, bg_target = _maps(rng, b, h, k), _maps(rng, b, h, 1)
  joints = [_maps(rng, b, h, k) for _ in range(2)]
  bgs = [_maps(rng, b, h, 1) for _ in range(2)]
  extra = float(losses.stacked_extra_map_mse(tuple(bgs), bg_target, k))
  np.testing.assert_allclose(
      extra, sum(np.sum((g.astype(np.float64) - bg_target) ** 2) for g in bgs) / (b * h * h * k),
      rtol=1e-6)
  ones = np.ones((b, k), np.float32)
  both = float(losses.stacked_heatmap_mse(tuple(joints), target, ones)) + extra
  all_maps = sum(np.sum((np.concatenate([j, g], -1).astype(np.float64)
                         - np.concatenate([target, bg_target], -1)) ** 2)
                 for j, g in zip(joints, bgs))
  np.testing.assert_allclose(both, all_maps / (b * h * h * k), rtol=1e-6)


def test_coords_mse_is_weighted_over_joints_and_both_axes():
  rng = np.random.default_rng(4)
  target = rng.uniform(size=(3, 4, 2)).astype(np.float32)
  weight = np.array([[1, 0, 1, 1], [0, 0, 1, 1], [1, 1, 1, 0]], np.float32)
  pred = target + rng.normal(scale=0.1, size=target.shape).astype(np.float32)
  pred[weight == 0] = 50.0  # absent joints far off: they contribute nothing
  expected = np.sum(weight[..., None] * (pred.astype(np.float64) - target) ** 2) / pred.size
  np.testing.assert_allclose(float(losses.coords_mse(pred, target, weight)), expected, rtol=1e-6)
  # a uniform offset d on the present joints: d² · (present joints · 2) / (B·K·2)
  np.testing.assert_allclose(float(losses.coords_mse(target + 0.25, target, weight)),
                             0.0625 * weight.sum() / weight.size, rtol=1e-6)


def test_sigmoid_bce_matches_the_definition_and_stays_finite_at_extreme_logits():
  logits = np.array([[-2.0, 0.0, 1.5], [3.0, -0.5, 0.25]], np.float32)
  labels = np.array([[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]], np.float32)
  p = 1 / (1 + np.exp(-logits.astype(np.float64)))
  expected = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
  np.testing.assert_allclose(float(losses.sigmoid_bce(logits, labels)), expected, rtol=1e-6)
  # log(1 − sigmoid(100)) underflows naively; the loss is log(1 + e^100) ≈ 100 (and ≈ 0 when right)
  big = np.array([[100.0, -100.0, 100.0, -100.0]], np.float32)
  got = float(losses.sigmoid_bce(big, np.array([[0.0, 1.0, 1.0, 0.0]], np.float32)))
  np.testing.assert_allclose(got, (100.0 + 100.0 + 0.0 + 0.0) / 4, rtol=1e-6)
  assert losses.sigmoid_bce(jnp.asarray(logits, jnp.bfloat16), labels).dtype == jnp.float32


def test_pyramid_weighting_reads_the_config_with_pixels_as_default():
  cd = ml_collections.ConfigDict
  assert losses.pyramid_weighting(cd({"model": {}})) == "pixels"             # no loss block
  assert losses.pyramid_weighting(cd({"loss": {"weights": {}}})) == "pixels"  # no key
  assert losses.pyramid_weighting(cd({"loss": {"pyramid_weighting": "uniform"}})) == "uniform"
  with pytest.raises(ValueError, match=r"loss.pyramid_weighting='mean': expected one of "
                                       r"\('pixels', 'uniform'\)"):
    losses.pyramid_weighting(cd({"loss": {"pyramid_weighting": "mean"}}))


def test_multiscale_levels_matched_by_size_gt_skipped_and_weighted_by_pixels():
  rng = np.random.default_rng(5)
  w = rng.uniform(size=(2, K)).astype(np.float32)
  targets = tuple(_maps(rng, 2, s, K) for s in (8, 4, 2))
  gt, half, quarter = (_maps(rng, 2, s, K) for s in (8, 4, 2))
  pyramid = ((quarter, gt, half),)  # out of order: each map finds its level by its size
  m_half, m_quarter = (_np_heatmap_mse(half, targets[1], w),
                       _np_heatmap_mse(quarter, targets[2], w))
  np.testing.assert_allclose(float(losses.multiscale_heatmap_mse(pyramid, targets, w)),
                             m_half / 4 + m_quarter / 16, rtol=1e-6)       # 4^-i
  np.testing.assert_allclose(float(losses.multiscale_heatmap_mse(pyramid, targets, w, "uniform")),
                             m_half + m_quarter, rtol=1e-6)
  # GT-resolution entries belong to the heatmaps term: alone they add nothing
  assert float(losses.multiscale_heatmap_mse(((gt,), (gt,)), targets, w)) == 0.0
  with pytest.raises(ValueError, match=r"loss.pyramid_weighting='sum'"):
    losses.multiscale_heatmap_mse(pyramid, targets, w, "sum")


def test_multiscale_loss_missing_level():
  outputs = {"pyramid": ((jnp.zeros((1, 8, 8, K)), jnp.zeros((1, 4, 4, K))),)}
  batch = {"heatmap_pyramid": (jnp.zeros((1, 8, 8, K)),), "target_weight": jnp.ones((1, K))}
  with pytest.raises(ValueError, match="4×4 has no target.*pyramid_levels"):
    losses.multiscale_heatmap_mse(outputs["pyramid"], batch["heatmap_pyramid"],
                                  batch["target_weight"])
