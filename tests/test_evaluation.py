import numpy as np
import pytest

from jaxpose import skeleton as skel
from jaxpose.evaluation import compute_metrics, correct_mask, pckh
from jaxpose.evaluation.tables import group_table


def test_pckh_threshold_is_inclusive_and_excludes_unannotated():
  gt = np.zeros((3, 2, 2))
  pred = gt.copy()
  pred[0, 0] = [3.0, 4.0]      # distance 5 = 0.5 * norm 10: counts (<=)
  pred[1, 0] = [3.0, 4.01]     # just beyond
  pred[2, 0] = [100.0, 0.0]    # far, but unannotated
  valid = np.array([[1, 1], [1, 1], [0, 1]])
  norm = np.array([10.0, 10.0, 10.0])
  np.testing.assert_allclose(pckh(pred, gt, valid, norm, 0.5), [50.0, 100.0])


def test_joint_never_annotated_is_nan():
  gt = np.zeros((2, 2, 2))
  out = pckh(gt, gt, np.array([[1, 0], [1, 0]]), np.ones(2))
  assert out[0] == 100.0 and np.isnan(out[1])


def test_group_table_pools_by_count_and_excludes_pelvis_thorax():
  k = skel.MPII.num_joints
  correct = np.zeros((2, k), bool)
  counted = np.ones((2, k), bool)
  correct[:, skel.MPII.index("pelvis")] = True   # not in Mean
  correct[0, skel.MPII.index("head_top")] = True  # 1 of 4 Head entries
  counted[1, skel.MPII.index("l_ankle")] = False  # Ankle pools 3 entries
  correct[:, skel.MPII.index("r_ankle")] = True
  row = group_table(correct, counted, skel.MPII)
  assert row["Head"] == pytest.approx(25.0)
  assert row["Ankle"] == pytest.approx(200 / 3)
  assert row["Mean"] == pytest.approx(100 * 3 / 27)
  assert list(row) == ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean"]


def test_compute_metrics_names_and_shapes():
  rng = np.random.default_rng(0)
  gt = rng.uniform(0, 100, (5, 16, 2))
  out = compute_metrics(["pckh@0.5", "pckh@0.1"], gt + 1.0, gt, np.ones((5, 16)),
                        np.full(5, 4.0), skel.MPII)
  assert out["metrics"]["PCKh@0.5"]["Mean"] == 100.0   # sqrt(2) <= 2
  assert out["metrics"]["PCKh@0.1"]["Mean"] == 0.0     # sqrt(2) > 0.4
  with pytest.raises(ValueError, match="unknown metric"):
    compute_metrics(["iou"], gt, gt, np.ones((5, 16)), np.ones(5), skel.MPII)


def test_shape_errors():
  with pytest.raises(ValueError):
    correct_mask(np.zeros((2, 3, 2)), np.zeros((2, 4, 2)), np.ones((2, 3)), np.ones(2), 0.5)
