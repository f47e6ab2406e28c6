"""Hand-worked cases for every registered metric, the official MPII cross-check and the
official file formats."""
import math
import os

import h5py
import numpy as np
import pytest
import scipy.io

from jaxpose import skeleton as skel
from jaxpose.evaluation import compute_metrics, flic_curves, format_table, plot_curves
from jaxpose.evaluation import mpii_format
from jaxpose.formats import mpii as mpii_files
from jaxpose.evaluation.pcp import pcp_mask

MPII = skel.MPII
LSP = skel.LSP


def _ix(s, name):
  return s.index(name)


# ----------------------------------------------------------------------------- PCKh

def _mpii_zero(n=1):
  """n people, joints at distinct points (a non-zero torso), perfect predictions."""
  gt = np.zeros((n, 16, 2)) + 50.0 + np.arange(16)[None, :, None] * [10.0, 7.0]
  return gt, gt.copy(), np.ones((n, 16)), np.full(n, 10.0)


def test_pckh_tie_at_threshold_counts_and_just_beyond_does_not():
  gt, pred, valid, norm = _mpii_zero(2)
  pred[:, :] += [3.0, 4.0]                  # 5 px = 0.5 × 10: correct at 0.5 (<=)
  pred[1, _ix(MPII, "l_wrist")] += [0.0, 0.01]  # just beyond
  out = compute_metrics(["pckh@0.5"], pred, gt, valid, norm, MPII)
  per_joint = out["per_joint"]["PCKh@0.5"]
  assert per_joint["r_wrist"] == 100.0
  assert per_joint["l_wrist"] == 50.0
  assert out["metrics"]["PCKh@0.5"]["Wrist"] == 75.0


def test_pckh_table_columns_ubody_total_mean_hand_worked():
  gt, pred, valid, norm = _mpii_zero(4)
  far = [100.0, 0.0]
  # r_wrist wrong for 1 of 4 people; l_wrist annotated for only 2 people, 1 wrong.
  pred[0, _ix(MPII, "r_wrist")] += far
  valid[2:, _ix(MPII, "l_wrist")] = 0
  pred[2:, _ix(MPII, "l_wrist")] += far        # unannotated: ignored though far
  pred[0, _ix(MPII, "l_wrist")] += far
  pred[:, _ix(MPII, "pelvis")] += far          # pelvis / thorax are outside every column
  row = compute_metrics(["pckh@0.5"], pred, gt, valid, norm, MPII)["metrics"]["PCKh@0.5"]
  assert row["Wrist"] == pytest.approx((75.0 + 50.0) / 2)         # genTablePCK mean of L, R
  assert row["UBody"] == pytest.approx(100 * (22 - 2) / 22)       # 6 joints × 4 − 2 missing
  assert row["Total"] == pytest.approx(100 * (54 - 2) / 54)       # 14 joints × 4 − 2 missing
  assert row["Mean"] == pytest.approx((12 * 100 + 75 + 50) / 14)  # plain mean of 14 joints
  assert row["Head"] == 100.0 and row["Ankle"] == 100.0


def test_empty_column_is_nan_not_zero_and_prints_dash():
  gt, pred, valid, norm = _mpii_zero(3)
  valid[:, [_ix(MPII, "l_ankle"), _ix(MPII, "r_ankle")]] = 0
  out = compute_metrics(["pckh@0.5", "pck@0.2"], pred, gt, valid, norm, MPII)
  for title in ("PCKh@0.5", "PCK@0.2"):
    row = out["metrics"][title]
    assert math.isnan(row["Ankle"])
    assert row["Knee"] == 100.0 and row["Total"] == 100.0
    assert math.isnan(out["per_joint"][title]["l_ankle"])
  text = format_table("PCKh@0.5", out["metrics"]["PCKh@0.5"])
  assert "nan" not in text and " -" in text


def test_one_joint_of_a_column_never_annotated_gives_the_other():
  gt, pred, valid, norm = _mpii_zero(2)
  valid[:, _ix(MPII, "l_knee")] = 0
  pred[0, _ix(MPII, "r_knee")] += [50.0, 0.0]
  row = compute_metrics(["pckh@0.5"], pred, gt, valid, norm, MPII)["metrics"]["PCKh@0.5"]
  assert row["Knee"] == 50.0


def test_nan_prediction_is_wrong_and_bad_normaliser_is_not_scored():
  gt, pred, valid, norm = _mpii_zero(3)
  pred[0, 0] = np.nan
  norm[2] = 0.0          # an empty head box: this person cannot be scored
  pred[2] += 1000.0
  per_joint = compute_metrics(["pckh@0.5"], pred, gt, valid, norm, MPII)["per_joint"]["PCKh@0.5"]
  assert per_joint["r_ankle"] == 50.0
  assert per_joint["l_ankle"] == 100.0


def _official_pckh(pos_pred_src, pos_gt_src, jnt_missing, headboxes_src, threshold):
  """The official MPII evaluation (eval_PCKh.py / HRNet mpii.py / computePCK.m), re-written
  from its description on the official 16 × 2 × N layout."""
  sc_bias = 0.6
  jnt_visible = 1 - jnt_missing
  uv_error = pos_pred_src - pos_gt_src
  uv_err = np.linalg.norm(uv_error, axis=1)
  headsizes = headboxes_src[1, :, :] - headboxes_src[0, :, :]
  headsizes = np.linalg.norm(headsizes, axis=0) * sc_bias
  scale = headsizes * np.ones((len(uv_err), 1))
  scaled_uv_err = uv_err / scale
  scaled_uv_err = scaled_uv_err * jnt_visible
  jnt_count = np.sum(jnt_visible, axis=1)
  less_than_threshold = (scaled_uv_err <= threshold) * jnt_visible
  pckh = 100.0 * np.sum(less_than_threshold, axis=1) / jnt_count
  keep = np.r_[0:6, 8:16]                            # PCKh.mask[6:8] = True
  jnt_ratio = jnt_count[keep] / np.sum(jnt_count[keep]).astype(np.float64)
  total = np.sum(pckh[keep] * jnt_ratio)
  ubody = [10, 11, 12, 13, 14, 15]                   # computePCK.m dist(1, 7:12, :)
  ubody_pck = 100.0 * np.sum(less_than_threshold[ubody]) / np.sum(jnt_visible[ubody])
  columns = {"Head": (8, 9), "Shoulder": (12, 13), "Elbow": (11, 14), "Wrist": (10, 15),
             "Hip": (2, 3), "Knee": (1, 4), "Ankle": (0, 5)}
  row = {c: (pckh[a] + pckh[b]) / 2 for c, (a, b) in columns.items()}
  row.update(UBody=ubody_pck, Total=total, Mean=np.mean(pckh[keep]))
  return pckh, row, scaled_uv_err, jnt_visible


def _random_mpii(seed, n=300):
  rng = np.random.default_rng(seed)
  gt = rng.uniform(0, 640, (n, 16, 2))
  corner = rng.uniform(0, 600, (n, 2))
  headboxes = np.stack([corner, corner + rng.uniform(10, 60, (n, 2))], axis=1)
  norm = 0.6 * np.linalg.norm(headboxes[:, 1] - headboxes[:, 0], axis=-1)
  pred = gt + rng.normal(0, 1, (n, 16, 2)) * norm[:, None, None] * rng.uniform(0, 0.8, (n, 16, 1))
  valid = (rng.uniform(size=(n, 16)) > 0.15).astype(np.float64)
  return gt, pred, valid, headboxes, norm


@pytest.mark.parametrize("threshold", [0.5, 0.1])
def test_pckh_equals_independent_official_implementation(threshold):
  gt, pred, valid, headboxes, norm = _random_mpii(int(threshold * 10))
  # The official arrays: 16 × 2 × N positions, 16 × N missing flags, 2 × 2 × N boxes.
  official, row, _, _ = _official_pckh(pred.transpose(1, 2, 0), gt.transpose(1, 2, 0),
                                       1 - valid.T, headboxes.transpose(1, 2, 0), threshold)
  title = f"PCKh@{threshold:g}"
  out = compute_metrics([f"pckh@{threshold}"], pred, gt, valid, norm, MPII)
  np.testing.assert_allclose([out["per_joint"][title][j] for j in MPII.joints], official,
                             rtol=1e-12, atol=0)
  for col, v in row.items():
    assert out["metrics"][title][col] == pytest.approx(v, rel=1e-12, abs=0), col


def test_auc_equals_official_area_under_curve():
  gt, pred, valid, headboxes, norm = _random_mpii(7)
  _, _, scaled, jnt_visible = _official_pckh(pred.transpose(1, 2, 0), gt.transpose(1, 2, 0),
                                             1 - valid.T, headboxes.transpose(1, 2, 0), 0.5)
  rng_ = np.arange(0, 51) / 100.0                    # range = 0:0.01:0.5
  keep = np.r_[0:6, 8:16]
  total = [100.0 * np.sum((scaled[keep] <= r) * jnt_visible[keep]) / np.sum(jnt_visible[keep])
           for r in rng_]
  x01 = (rng_ - rng_.min()) / (rng_.max() - rng_.min())  # scale01(range)
  expected = np.trapezoid(total, x01)                # quadgk of interp1 = trapezoid rule
  out = compute_metrics(["auc"], pred, gt, valid, norm, MPII)
  assert list(out["metrics"]) == ["AUC"]
  assert out["metrics"]["AUC"]["Total"] == pytest.approx(expected, rel=1e-12)


def test_auc_hand_worked_is_trapezoid_not_plain_mean():
  gt, pred, valid, norm = _mpii_zero(1)
  pred[:, :] += [2.55, 0.0]      # every joint at 0.255 head sizes
  auc = compute_metrics(["auc"], pred, gt, valid, norm, MPII)["metrics"]["AUC"]["Total"]
  # curve 0 up to α = 0.25, 100 from 0.26: 24 full steps + one half step of 50.
  assert auc == pytest.approx(100 * 24.5 / 50)
  assert auc != pytest.approx(100 * 25 / 51)
  pck_auc = compute_metrics(["pck_auc@0.2", "auc@0.3"], pred, gt, valid, norm, MPII)
  assert set(pck_auc["metrics"]) == {"PCK-AUC@0.2", "AUC@0.3"}


# ----------------------------------------------------------------------------- PCK

def _lsp_person():
  gt = np.zeros((1, 14, 2))
  gt[0, _ix(LSP, "l_shoulder")] = [0.0, 0.0]
  gt[0, _ix(LSP, "r_hip")] = [60.0, 80.0]       # torso = 100
  return gt


def test_pck_torso_threshold_tie_and_beyond():
  gt = np.repeat(_lsp_person(), 2, axis=0)
  pred = gt.copy()
  pred[:, _ix(LSP, "r_wrist")] += [12.0, 16.0]  # 20 = 0.2 × 100: correct
  pred[1, _ix(LSP, "l_wrist")] += [0.0, 20.01]
  out = compute_metrics(["pck@0.2", "pck"], pred, gt, np.ones((2, 14)), None, LSP)
  assert list(out["metrics"]) == ["PCK@0.2"]       # "pck" is pck@0.2, the same table
  per_joint = out["per_joint"]["PCK@0.2"]
  assert per_joint["r_wrist"] == 100.0 and per_joint["l_wrist"] == 50.0
  row = out["metrics"]["PCK@0.2"]
  assert row["Wrist"] == 75.0 and row["Total"] == pytest.approx(100 * 27 / 28)
  assert "UBody" in row


def test_pck_torso_uses_ground_truth_not_prediction_and_skips_unknown_torso():
  gt = np.repeat(_lsp_person(), 2, axis=0)
  pred = gt.copy()
  pred[:, _ix(LSP, "r_hip")] += [1000.0, 0.0]   # a far predicted hip must not grow the torso
  valid = np.ones((2, 14))
  valid[1, _ix(LSP, "l_shoulder")] = 0          # person 1 has no torso: not scored
  per_joint = compute_metrics(["pck@0.2"], pred, gt, valid, None, LSP)["per_joint"]["PCK@0.2"]
  assert per_joint["r_hip"] == 0.0 and per_joint["head_top"] == 100.0


def test_pck_height_fraction_of_crop_height():
  gt, pred, valid, _ = _mpii_zero(2)
  pred[:, :] += [6.0, 8.0]                       # 10 px = 120 / 12
  pred[1, 0] += [0.0, 0.1]
  out = compute_metrics(["pck_height@1/12", "pck_image@0.05"], pred, gt, valid, None, MPII,
                        crop_height=np.array([120.0, 120.0]), image_height=200.0)
  assert out["per_joint"]["PCK-height@1/12"]["r_ankle"] == 50.0
  assert out["per_joint"]["PCK-height@1/12"]["l_ankle"] == 100.0
  assert out["metrics"]["PCK-image@0.05"]["Total"] == pytest.approx(100 * 27 / 28)
  with pytest.raises(ValueError, match="crop_height"):
    compute_metrics(["pck_height"], pred, gt, valid, None, MPII)


# ----------------------------------------------------------------------------- occlusion

def test_pckh_occluded_scores_only_invisible_annotated_joints():
  gt, pred, valid, norm = _mpii_zero(4)
  visible = np.ones((4, 16))
  e, w = _ix(MPII, "r_elbow"), _ix(MPII, "r_wrist")
  visible[:2, e] = 0                 # two invisible r_elbows: one right, one wrong
  pred[1, e] += [9.0, 0.0]
  pred[3, e] += [9.0, 0.0]           # wrong but visible: not in the occluded metric
  visible[0, w] = 0
  valid[0, w] = 0                    # invisible but unannotated: not scored
  out = compute_metrics(["pckh_occluded@0.5"], pred, gt, valid, norm, MPII, visible=visible)
  row = out["metrics"]["PCKh-occluded@0.5"]
  assert out["per_joint"]["PCKh-occluded@0.5"]["r_elbow"] == 50.0
  assert row["Elbow"] == 50.0 and row["Total"] == 50.0
  assert math.isnan(row["Head"]) and math.isnan(row["Wrist"])
  with pytest.raises(ValueError, match="visible"):
    compute_metrics(["pckh_occluded"], pred, gt, valid, norm, MPII)


def test_hard10_is_mean_of_the_five_columns():
  gt, pred, valid, norm = _mpii_zero(4)
  visible = np.ones((4, 16))
  far = [9.0, 0.0]
  pred[0, _ix(MPII, "r_wrist")] += far          # Wrist overall (75 + 100) / 2 = 87.5
  valid[1:, _ix(MPII, "l_ankle")] = 0
  pred[0, _ix(MPII, "l_ankle")] += far          # l_ankle 0/1, r_ankle 4/4 → Ankle 50
  pred[:, _ix(MPII, "head_top")] += far         # not a hard joint
  visible[0, _ix(MPII, "r_wrist")] = 0          # the only invisible joint: wrong
  out = compute_metrics(["hard10"], pred, gt, valid, norm, MPII, visible=visible)
  row = out["metrics"]["Hard10@0.5"]
  assert row["Overall"] == pytest.approx((100 + 87.5 + 100 + 100 + 50) / 5)
  assert row["Invisible"] == 0.0
  assert row["Visible"] == pytest.approx((100 + 100 + 100 + 100 + 50) / 5)
  assert len(out["per_joint"]["Hard10@0.5"]) == 10
  no_vis = compute_metrics(["hard10"], pred, gt, valid, norm, MPII)["metrics"]["Hard10@0.5"]
  assert math.isnan(no_vis["Invisible"]) and no_vis["Overall"] == row["Overall"]


def test_hard10_pck_uses_the_torso_on_lsp():
  # Two people; torso (l_shoulder – r_hip) = 100 px, so PCK@0.2 tolerates 20 px.
  gt = np.zeros((2, 14, 2)) + np.arange(14)[None, :, None] * [3.0, 1.0]
  gt[:, _ix(LSP, "l_shoulder")] = [0.0, 0.0]
  gt[:, _ix(LSP, "r_hip")] = [60.0, 80.0]
  pred = gt.copy()
  pred[0, _ix(LSP, "r_knee")] += [20.0, 0.0]     # exactly at the threshold: correct
  pred[1, _ix(LSP, "r_knee")] += [20.01, 0.0]    # just beyond: wrong → Knee (2 + 1) / 4 = 75
  pred[:, _ix(LSP, "head_top")] += [90.0, 0.0]   # not a hard joint
  out = compute_metrics(["hard10_pck@0.2"], pred, gt, np.ones((2, 14)), None, LSP)
  row = out["metrics"]["Hard10-PCK@0.2"]
  assert row["Overall"] == pytest.approx((100 + 100 + 100 + 75 + 100) / 5)
  assert math.isnan(row["Invisible"])
  assert out["per_joint"]["Hard10-PCK@0.2"]["r_knee"] == 50.0


# ----------------------------------------------------------------------------- PCP

def _stick(e1, e2, g1=(0.0, 0.0), g2=(10.0, 0.0)):
  gt = np.array([[g1, g2]], np.float64)
  pred = np.array([[e1, e2]], np.float64)
  correct, counted = pcp_mask(pred, gt, np.ones((1, 2)), [("part", 0, 1)], 0.5)
  return bool(correct[0, 0]), bool(counted[0, 0])


def test_pcp_eq6_both_endpoints_ties_and_swap():
  assert _stick((3.0, 4.0), (10.0, 5.0)) == (True, True)     # both exactly at 0.5 × 10
  assert _stick((3.0, 4.0), (10.0, 5.01)) == (False, True)
  assert _stick((10.0, 0.0), (0.0, 0.0)) == (True, True)     # swapped end points (eq. 6 "or")
  # Average of the two end-point errors (8 + 0) / 2 = 4 ≤ 5 but one end is 8 > 5: wrong.
  assert _stick((0.0, 8.0), (10.0, 0.0)) == (False, True)


def test_pcp_table_missing_endpoint_and_columns():
  gt = np.zeros((2, 16, 2))
  for j in range(16):
    gt[:, j] = [10.0 * j, 5.0 * (j % 3)]
  pred = gt.copy()
  valid = np.ones((2, 16))
  valid[1, _ix(MPII, "l_wrist")] = 0                  # l_lower_arm of person 1 not scored
  pred[0, _ix(MPII, "l_wrist")] += [100.0, 0.0]       # l_lower_arm of person 0 wrong
  out = compute_metrics(["pcp@0.5"], pred, gt, valid, None, MPII)
  row, parts = out["metrics"]["PCP@0.5"], out["per_joint"]["PCP@0.5"]
  assert list(row) == ["Torso", "Upper legs", "Lower legs", "Upper arms", "Lower arms", "Head",
                       "Total", "Mean"]
  assert parts["l_lower_arm"] == 0.0 and parts["r_lower_arm"] == 100.0
  assert row["Lower arms"] == 50.0
  assert row["Total"] == pytest.approx(100 * 18 / 19)
  assert row["Mean"] == pytest.approx(100 * 9 / 10)
  ub = compute_metrics(["pcp"], np.zeros((1, 8, 2)) + np.arange(8)[None, :, None],
                       np.zeros((1, 8, 2)) + np.arange(8)[None, :, None], np.ones((1, 8)),
                       None, skel.UPPER_BODY)["metrics"]["PCP@0.5"]
  assert "Shoulders" in ub and "Torso" not in ub


# ----------------------------------------------------------------------------- FLIC curves

def _flic_person(scale=1.0):
  s = skel.FLIC
  gt = np.zeros((1, 11, 2))
  gt[0, s.index("r_shoulder")] = [0.0, 0.0]
  gt[0, s.index("l_hip")] = [60.0, 80.0]        # eq. (7) torso: r-sho – l-hip = 100
  gt[0, s.index("l_shoulder")] = [60.0, 0.0]
  gt[0, s.index("r_hip")] = [0.0, 80.0]
  return gt * scale


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_flic_curves_eq7_torso_normalised(tmp_path, scale):
  s = skel.FLIC
  gt = _flic_person(scale)
  pred = gt.copy()
  pred[0, s.index("l_wrist")] += np.array([3.6, 4.8]) * scale   # 6 torso-px
  pred[0, s.index("r_wrist")] += np.array([0.0, 12.0]) * scale  # 12 torso-px
  curves = flic_curves(pred, gt, np.ones((1, 11)), s)
  r = curves["r"]
  assert r[0] == 0 and r[-1] == 20 and len(r) == 21
  np.testing.assert_array_equal(curves["joints"]["l_wrist"], np.where(r >= 6, 100.0, 0.0))
  np.testing.assert_array_equal(curves["groups"]["Wrist"],
                                np.where(r >= 12, 100.0, np.where(r >= 6, 50.0, 0.0)))
  np.testing.assert_array_equal(curves["groups"]["Elbow"], np.full(21, 100.0))
  row = compute_metrics(["flic@6"], pred, gt, np.ones((1, 11)), None, s)["metrics"]["FLIC-acc@6"]
  assert row["Wrist"] == 50.0
  path = plot_curves(curves, str(tmp_path / "sub" / "flic.png"))
  with open(path, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert os.path.getsize(path) > 1000
  with pytest.raises(KeyError):
    plot_curves(curves, str(tmp_path / "x.png"), names=("Ankle",))


# ----------------------------------------------------------------------------- identity, registry

def test_ground_truth_against_itself_is_100_everywhere():
  rng = np.random.default_rng(3)
  n = 20
  cases = [(MPII, rng.uniform(0, 300, (n, 16, 2))), (LSP, rng.uniform(0, 300, (n, 14, 2))),
           (skel.FLIC, rng.uniform(0, 300, (n, 11, 2)))]
  for s, gt in cases:
    valid = (rng.uniform(size=(n, s.num_joints)) > 0.1).astype(float)
    valid[:, list(s.torso)] = 1
    visible = (rng.uniform(size=(n, s.num_joints)) > 0.5).astype(float)
    names = ["pck@0.2", "pck@0.05", "pck_height", "pcp@0.5", "pck_auc", "flic@0", "flic@20",
             "visibility"]
    if s is not skel.FLIC:
      names += ["hard10_pck@0.2", "pckh@0.5", "pckh@0.1", "auc", "pckh_occluded@0.5", "hard10@0.5"]
    out = compute_metrics(names, gt, gt, valid, rng.uniform(5, 30, n), s, visible=visible,
                          crop_height=np.full(n, 256.0), visibility=visible)
    assert len(out["metrics"]) == len(names)
    for title, row in out["metrics"].items():
      for col, v in row.items():
        assert v == 100.0, (s.name, title, col, v)
      assert all(v == 100.0 or math.isnan(v) for v in out["per_joint"][title].values())


def test_registry_errors_and_titles():
  gt, pred, valid, norm = _mpii_zero(2)
  with pytest.raises(ValueError, match=r"unknown metric 'iou'.*pckh@.*pcp@.*auc"):
    compute_metrics(["iou"], pred, gt, valid, norm, MPII)
  with pytest.raises(ValueError, match="threshold"):
    compute_metrics(["pck@1/0"], pred, gt, valid, norm, MPII)
  with pytest.raises(ValueError, match="'norm'"):
    compute_metrics(["pckh@0.5"], pred, gt, valid, None, MPII)
  with pytest.raises(ValueError, match="hard10"):
    compute_metrics(["hard10"], np.zeros((1, 11, 2)), np.zeros((1, 11, 2)), np.ones((1, 11)),
                    np.ones(1), skel.FLIC)
  out = compute_metrics(["PCKh@0.50", "pck_height@1/12", "pck_height@0.0833", "auc"],
                        pred, gt, valid, norm, MPII, crop_height=120.0)
  assert list(out["metrics"]) == ["PCKh@0.5", "PCK-height@1/12", "PCK-height@0.0833", "AUC"]



# ----------------------------------------------------------------------------- visibility

def _lsp_visibility():
  """Four LSPET-style people (absent joints: valid = visible = 0) and presence probabilities."""
  gt = np.zeros((4, 14, 2)) + np.arange(14)[None, :, None] * 10.0
  visible = np.ones((4, 14))
  p = np.full((4, 14), 0.9)
  visible[1, _ix(LSP, "l_wrist")], p[1, _ix(LSP, "l_wrist")] = 0, 0.2   # absent, said absent: right
  p[1, _ix(LSP, "r_wrist")] = 0.5                                         # exactly 0.5 = absent: wrong
  visible[2, _ix(LSP, "l_wrist")], p[2, _ix(LSP, "l_wrist")] = 0, 0.8   # absent, said present: wrong
  p[2, _ix(LSP, "head_top")] = 0.51                                       # just over: right
  visible[3, _ix(LSP, "r_ankle")], p[3, _ix(LSP, "r_ankle")] = 0, 0.0   # absent, said absent: right
  return gt, visible.copy(), visible, p


def test_visibility_accuracy_hand_worked():
  """Chen §3.5 Table 2: percent of joints whose presence is classified right; absent joints
  (valid 0) are negatives that count, so l_wrist is 3 of 4 (2 of 3 if they were dropped)."""
  gt, valid, visible, p = _lsp_visibility()
  out = compute_metrics(["visibility"], gt, gt, valid, None, LSP, visible=visible, visibility=p)
  row, per_joint = out["metrics"]["Visibility-acc"], out["per_joint"]["Visibility-acc"]
  assert list(row) == [name for name, _ in LSP.groups] + ["Total"]
  assert per_joint["r_wrist"] == 75.0 and per_joint["l_wrist"] == 75.0
  assert per_joint["r_ankle"] == per_joint["head_top"] == 100.0
  assert row["Wrist"] == 75.0 and row["Head"] == 100.0 and row["Ankle"] == 100.0
  assert row["Total"] == pytest.approx(100.0 * 54 / 56)
  assert len(per_joint) == 14


def test_visibility_total_pools_every_joint_and_threshold_is_selectable():
  """MPII: pelvis and thorax are in no column but in Total (all k joints, eq. (5)); a higher
  threshold turns a 0.6 "present" into "absent"."""
  gt, pred, valid, norm = _mpii_zero(1)
  visible = np.ones((1, 16))
  p = np.full((1, 16), 0.9)
  p[0, _ix(MPII, "pelvis")] = 0.1
  p[0, _ix(MPII, "l_knee")] = 0.6
  out = compute_metrics(["visibility", "visibility@0.7"], pred, gt, valid, norm, MPII,
                        visible=visible, visibility=p)
  at5, at7 = out["metrics"]["Visibility-acc"], out["metrics"]["Visibility-acc@0.7"]
  assert all(at5[name] == 100.0 for name, _ in MPII.groups)
  assert at5["Total"] == 100.0 * 15 / 16
  assert out["per_joint"]["Visibility-acc"]["pelvis"] == 0.0
  assert at7["Knee"] == 50.0 and at7["Total"] == 100.0 * 14 / 16


def test_visibility_needs_probabilities_and_labels():
  gt, valid, visible, p = _lsp_visibility()
  with pytest.raises(ValueError, match="does not predict visibility"):
    compute_metrics(["pck", "visibility"], gt, gt, valid, None, LSP, visible=visible)
  with pytest.raises(ValueError, match="visible"):
    compute_metrics(["visibility"], gt, gt, valid, None, LSP, visibility=p)
  with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*sigmoid"):
    compute_metrics(["visibility"], gt, gt, valid, None, LSP, visible=visible, visibility=p * 4 - 2)
  with pytest.raises(ValueError, match="probabilities"):
    compute_metrics(["visibility"], gt, gt, valid, None, LSP, visible=visible,
                    visibility=np.where(p > 0.5, np.nan, p))
  with pytest.raises(ValueError, match=r"visibility must be \(N, K\)"):
    compute_metrics(["visibility"], gt, gt, valid, None, LSP, visible=visible, visibility=p[:, :5])
  with pytest.raises(ValueError, match="<= 1"):
    compute_metrics(["visibility@1.5"], gt, gt, valid, None, LSP, visible=visible, visibility=p)


def test_known_names_and_requirements():
  """What a trainer needs to check ``eval.metrics`` at start-up against what its model outputs."""
  from jaxpose.evaluation import metrics, tables
  assert set(metrics.known()) == set(metrics.METRICS) and "visibility" in metrics.known()
  assert metrics.requirements("visibility") == {"visibility", "visible"}
  assert metrics.requirements("PCKh@0.1") == {"norm"}
  assert metrics.requirements("pckh_occluded@0.5") == {"norm", "visible"}
  assert metrics.requirements("pck_height@1/12") == {"crop_height"}
  assert metrics.requirements("pcp") == set() == metrics.requirements("pck@0.2")
  own = [n for n in metrics.known() if metrics.METRICS[n].fn.__module__ == metrics.__name__]
  assert len(own) == 14  # (a test elsewhere registers a metric of its own)
  assert all(metrics.requirements(n) <= set(metrics.INPUTS) for n in own)
  with pytest.raises(ValueError, match="unknown metric 'iou'.*visibility"):
    metrics.requirements("iou")
  # The registry lives in metrics.py only; tables.py keeps the layouts.
  assert not any(hasattr(tables, n) for n in ("compute_metrics", "parse", "METRICS"))


# ----------------------------------------------------------------------------- MPII files

@pytest.mark.parametrize("ext", [".mat", ".h5"])
def test_mpii_predictions_round_trip_with_one_based_offset(tmp_path, ext):
  preds = np.random.default_rng(1).uniform(-5, 500, (7, 16, 2))
  path = mpii_files.write_predictions(str(tmp_path / f"preds{ext}"), preds)
  if ext == ".mat":
    raw = scipy.io.loadmat(path)["preds"]
  else:
    with h5py.File(path, "r") as f:
      raw = f["preds"][()]
  assert raw.shape == (7, 16, 2)
  np.testing.assert_allclose(raw, preds + 1.0)
  np.testing.assert_allclose(mpii_files.read_predictions(path), preds)


def test_mpii_gt_valid_read_write_and_official_evaluation(tmp_path):
  gt, pred, valid, headboxes, norm = _random_mpii(11, n=40)
  path = mpii_files.write_gt_valid(str(tmp_path / "gt_valid.mat"), gt, valid, headboxes)
  raw = scipy.io.loadmat(path)
  assert raw["pos_gt_src"].shape == (16, 2, 40)
  np.testing.assert_allclose(raw["pos_gt_src"][:, :, 3], gt[3] + 1.0)
  np.testing.assert_allclose(raw["headboxes_src"][:, :, 3], headboxes[3] + 1.0)
  np.testing.assert_array_equal(raw["jnt_missing"], 1 - valid.T)
  read = mpii_files.read_gt_valid(path)
  np.testing.assert_allclose(read.gt, gt)
  np.testing.assert_array_equal(read.valid, valid)
  np.testing.assert_allclose(read.headboxes, headboxes)
  np.testing.assert_allclose(read.norm, norm)
  # The transposed 2 × 16 × N layout some copies carry reads the same.
  alt = str(tmp_path / "alt.mat")
  scipy.io.savemat(alt, {"pos_gt_src": raw["pos_gt_src"].transpose(1, 0, 2),
                         "jnt_missing": raw["jnt_missing"], "headboxes_src": raw["headboxes_src"]})
  np.testing.assert_allclose(mpii_files.read_gt_valid(alt).gt, gt)
  pred_path = mpii_files.write_predictions(str(tmp_path / "pred.mat"), pred)
  official, row, _, _ = _official_pckh(pred.transpose(1, 2, 0) + 1, raw["pos_gt_src"],
                                       raw["jnt_missing"], raw["headboxes_src"], 0.5)
  out = mpii_format.evaluate_files(pred_path, path)
  assert set(out["metrics"]) == {"PCKh@0.5", "PCKh@0.1", "AUC"}
  for col, v in row.items():
    assert out["metrics"]["PCKh@0.5"][col] == pytest.approx(v, rel=1e-12), col


def test_mpii_format_errors(tmp_path):
  with pytest.raises(ValueError, match="unknown prediction file type"):
    mpii_files.write_predictions(str(tmp_path / "p.txt"), np.zeros((1, 16, 2)))
  bad = str(tmp_path / "bad.mat")
  scipy.io.savemat(bad, {"preds": np.zeros((3, 14, 2))})
  with pytest.raises(mpii_files.FormatError, match="bad.mat.*'preds'"):
    mpii_files.read_predictions(bad)
  scipy.io.savemat(bad, {"pos_gt_src": np.zeros((16, 2, 3))})
  with pytest.raises(mpii_files.FormatError, match="jnt_missing"):
    mpii_files.read_gt_valid(bad)


def test_small_values_keep_three_decimals():
  """Table 3's errors (0.131 vs 0.284) print with their third digit, percentages with two."""
  text = format_table("Regression-error", {"Error": 0.1314, "Total": 53.217, "Zero": 0.0})
  assert "0.131" in text and "53.22" in text and "0.00" in text
