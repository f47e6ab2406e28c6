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


def test_group_table_official_columns_total_excludes_pelvis_thorax():
  k = skel.MPII.num_joints
  correct = np.zeros((2, k), bool)
  counted = np.ones((2, k), bool)
  correct[:, skel.MPII.index("pelvis")] = True   # in neither Total nor Mean
  correct[0, skel.MPII.index("head_top")] = True  # head_top 50 %, upper_neck 0 %
  counted[1, skel.MPII.index("l_ankle")] = False  # l_ankle 0/1, r_ankle 2/2
  correct[:, skel.MPII.index("r_ankle")] = True
  row = group_table(correct, counted, skel.MPII)
  assert row["Head"] == pytest.approx(25.0)
  assert row["Ankle"] == pytest.approx(50.0)          # genTablePCK: (pck(l) + pck(r)) / 2
  assert row["Total"] == pytest.approx(100 * 3 / 27)  # pooled over the 14 joints' entries
  assert row["Mean"] == pytest.approx(150 / 14)       # plain mean of the 14 joint values
  assert row["UBody"] == 0.0
  assert list(row) == ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "UBody",
                       "Total", "Mean"]


def test_compute_metrics_names_and_shapes():
  rng = np.random.default_rng(0)
  gt = rng.uniform(0, 100, (5, 16, 2))
  out = compute_metrics(["pckh@0.5", "pckh@0.1"], gt + 1.0, gt, np.ones((5, 16)),
                        np.full(5, 4.0), skel.MPII)
  assert out["metrics"]["PCKh@0.5"]["Total"] == 100.0   # sqrt(2) <= 2
  assert out["metrics"]["PCKh@0.5"]["Mean"] == 100.0
  assert out["metrics"]["PCKh@0.1"]["Total"] == 0.0     # sqrt(2) > 0.4
  assert set(out["per_joint"]["PCKh@0.5"]) == set(skel.MPII.joints)
  with pytest.raises(ValueError, match="unknown metric"):
    compute_metrics(["iou"], gt, gt, np.ones((5, 16)), np.ones(5), skel.MPII)


def test_shape_errors():
  with pytest.raises(ValueError):
    correct_mask(np.zeros((2, 3, 2)), np.zeros((2, 4, 2)), np.ones((2, 3)), np.ones(2), 0.5)


def test_report_json_is_strict_and_table_prints_unscored_as_dash(tmp_path):
  import json
  from jaxpose.evaluation import report
  gt = np.random.default_rng(1).uniform(0, 100, (3, 16, 2))
  valid = np.ones((3, 16))
  valid[:, [0, 5]] = 0                       # no ankle annotated: Ankle cannot be scored
  res = compute_metrics(["pckh@0.5", "pcp@0.5"], gt, gt, valid, np.full(3, 5.0), skel.MPII)
  res.update(dataset="mpii", split="validation", num_examples=3, step=np.int64(7),
             _predictions={"pred": gt})
  text = report.format_results(res)
  assert "UBody" in text and "Total" in text and "per part" in text and "nan" not in text
  path = report.write_json(res, str(tmp_path), {"flip": False})
  with open(path) as f:
    doc = json.loads(f.read(), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
  assert doc["metrics"]["PCKh@0.5"]["Ankle"] is None
  assert doc["metrics"]["PCKh@0.5"]["Total"] == 100.0
  assert doc["step"] == 7 and doc["flip"] is False and "_predictions" not in doc


def test_score_reads_predictions_stored_by_earlier_versions():
  """One vocabulary (issue #40): predictions of older runs, stored as ``pred`` /
  ``pred_visible`` / ``pred_parts``, score exactly as today's ``keypoints`` / ``visibility`` /
  ``parts``."""
  from jaxpose.evaluation import report
  rng = np.random.default_rng(3)
  gt = rng.uniform(0, 100, (6, 14, 3))
  gt[..., 2] = rng.uniform(size=(6, 14)) > 0.3
  kp = gt[..., :2] + rng.normal(0, 8, (6, 14, 2))
  vis = rng.uniform(size=(6, 14))
  truth = {"joints": gt, "valid": np.ones((6, 14)), "norm": np.full(6, 30.0)}
  names = ["pck@0.2", "visibility"]
  new = report.score(dict(truth, keypoints=kp, visibility=vis), skel.LSP, names)
  old = report.score(dict(truth, pred=kp, pred_visible=vis), skel.LSP, names)
  assert new == old and new["num_examples"] == 6
  assert set(new["metrics"]) == {"PCK@0.2", "Visibility-acc"}
