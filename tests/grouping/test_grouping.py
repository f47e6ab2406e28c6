"""Mutual-information part grouping (Tang & Wu, CVPR 2019, §3.1 and §4.3)."""
import gzip
import json
import os
import types

import numpy as np
import pytest

from jaxpose import grouping as G
from jaxpose import skeleton as S
from conftest import DATA

# "crop" normalisation with centre 0 and this scale maps x ∈ [-0.5, 0.5) onto the unit
# square, so synthetic joints can be written directly in lattice units.
UNIT_SCALE = 1.0 / (200.0 * G.DEFAULT_EXTENT["crop"])


def _crop_kw(n):
  return dict(centers=np.zeros((n, 2)), scales=np.full(n, UNIT_SCALE))


def _blocks(n, labels, seed=0, bins=16, span=6):
  """Joints moving in independent blocks: each block has a latent cell drawn
  uniformly from a ``span × span`` patch; each member sits at a fixed offset from it,
  jittered by one cell 20% of the time. Joints of different blocks are independent."""
  rng = np.random.default_rng(seed)
  labels = np.asarray(labels)
  k = len(labels)
  latent = rng.integers(0, span, size=(n, labels.max() + 1, 2))
  offset = rng.integers(0, bins - span - 2, size=(k, 2))
  jitter = rng.integers(-1, 2, size=(n, k, 2)) * (rng.random((n, k, 1)) < 0.2)
  cells = np.clip(latent[:, labels] + offset + jitter, 0, bins - 1)
  return (cells + 0.5) / bins - 0.5  # cell centres in [-0.5, 0.5)


def test_mi_symmetric_nonnegative_and_zero_for_independent():
  # Independent joints uniform over 4×4 = 16 cells each (bins=4), N = 20,000: the
  # plug-in estimate's bias is (16-1)(16-1)/(2N) = 0.0056 nats and its s.d. ≈ 0.0005,
  # so 2× the bias bounds it; Miller–Madow removes the bias (bound 0.003). A joint that
  # is a function of another shares all of its entropy, log 16 = 2.77 nats.
  n = 20000
  rng = np.random.default_rng(1)
  a = rng.integers(0, 4, size=(n, 2))
  b = rng.integers(0, 4, size=(n, 2))
  c = 3 - a  # deterministic function of a
  joints = (np.stack([a, b, c], 1) + 0.5) / 4 - 0.5
  valid = np.ones((n, 3))
  mi = G.joint_mutual_information(joints, valid, bins=4, **_crop_kw(n))
  bias = 15 * 15 / (2 * n)
  assert np.allclose(mi, mi.T) and (mi >= 0).all()
  assert mi[0, 1] < 2 * bias and mi[1, 2] < 2 * bias
  assert mi[0, 1] > 0  # the plug-in estimate is biased upwards, never exactly 0 here
  assert mi[0, 2] == pytest.approx(np.log(16), abs=0.01)
  assert np.diag(mi) == pytest.approx(np.full(3, np.log(16)), abs=0.01)  # I(l, l) = H(l)
  mm = G.joint_mutual_information(joints, valid, bins=4, miller_madow=True, **_crop_kw(n))
  assert mm[0, 1] < 0.003 and mm[0, 2] == pytest.approx(np.log(16), abs=0.01)


def test_mi_uses_only_poses_where_both_joints_are_annotated():
  n = 4000
  rng = np.random.default_rng(2)
  a = rng.integers(0, 4, size=(n, 2))
  joints = (np.stack([a, a], 1) + 0.5) / 4 - 0.5
  valid = np.ones((n, 2))
  # Garbage where joint 1 is unannotated must not enter the estimate.
  valid[: n // 2, 1] = 0
  joints[: n // 2, 1] = rng.uniform(-0.5, 0.5, size=(n // 2, 2))
  mi = G.joint_mutual_information(joints, valid, bins=4, **_crop_kw(n))
  assert mi[0, 1] == pytest.approx(np.log(16), abs=0.01)


def test_normalize_poses_crop_and_box():
  joints = np.array([[[100.0, 50.0], [140.0, 130.0], [0.0, 0.0]]])
  valid = np.array([[1, 1, 0]])
  u = G.normalize_poses(joints, valid, centers=[[100.0, 100.0]], scales=[0.4])
  # crop side = 1.25·200·0.4 = 100 px around (100, 100)
  np.testing.assert_allclose(u[0, :2], [[0.5, 0.0], [0.9, 0.8]])
  assert np.isnan(u[0, 2]).all()
  v = G.normalize_poses(joints, valid)  # box: centre (120, 90), side max(40, 80) = 80
  np.testing.assert_allclose(v[0, :2], [[0.25, 0.0], [0.75, 1.0]])
  cells = G.lattice_cells(v, bins=16)
  assert cells[0].tolist() == [0 * 16 + 4, 15 * 16 + 12, -1]  # y = 1.0 clipped to row 15


def test_affinity_range_and_diagonal():
  rng = np.random.default_rng(3)
  m = rng.random((7, 7)) * 3
  m = m + m.T
  a = G.affinity(m)
  off = ~np.eye(7, dtype=bool)
  assert np.allclose(a, a.T) and (np.diag(a) == 0).all()
  assert a.min() >= 0 and a.max() <= 1
  assert a[off].min() == 0 and a[off].max() == pytest.approx(1)
  # linear: ordering of the off-diagonal entries is preserved
  assert (np.argsort(m[off], kind="stable") == np.argsort(a[off], kind="stable")).all()


@pytest.mark.parametrize("method", ["shi_malik", "njw"])
def test_spectral_clustering_recovers_independent_blocks(method):
  labels = [2, 0, 1, 0, 2, 1, 0, 2, 1, 0, 3, 3]  # 4 blocks, interleaved indices
  n = 5000
  joints = _blocks(n, labels, seed=4)
  valid = np.ones((n, len(labels)))
  mi = G.joint_mutual_information(joints, valid, **_crop_kw(n))
  a = G.affinity(mi)
  same = np.equal.outer(labels, labels) & ~np.eye(len(labels), dtype=bool)
  assert a[same].min() > 0.5 > a[~same & ~np.eye(len(labels), dtype=bool)].max()
  groups = G.spectral_groups(a, 4, seed=0, method=method)
  expected = G.canonical(np.flatnonzero(np.equal(labels, b)) for b in range(4))
  assert groups == expected == ((0, 4, 7), (1, 3, 6, 9), (2, 5, 8), (10, 11))


def test_groups_from_records_and_determinism():
  labels = [0, 0, 1, 1, 1, 2, 2]
  n = 3000
  joints = _blocks(n, labels, seed=5)
  records = [types.SimpleNamespace(joints=np.concatenate([joints[i], np.ones((7, 1))], 1),
                                   valid=np.ones(7), center=np.zeros(2), scale=UNIT_SCALE)
             for i in range(n)]
  groups, mi = G.groups_from_records(records, 3, seed=7)
  assert groups == ((0, 1), (2, 3, 4), (5, 6)) and mi.shape == (7, 7)
  # The same seed gives the same answer, on an affinity where k-means has real choices.
  rng = np.random.default_rng(6)
  m = rng.random((12, 12))
  a = G.affinity(m + m.T)
  for method in ("shi_malik", "njw"):
    runs = {G.spectral_groups(a, 4, seed=11, method=method) for _ in range(3)}
    assert len(runs) == 1
    (g,) = runs
    assert sorted(j for grp in g for j in grp) == list(range(12)) and len(g) == 4
  l1, i1 = G.kmeans(rng.random((30, 2)), 3, seed=2)
  assert l1.shape == (30,) and i1 > 0
  with pytest.raises(ValueError):
    G.spectral_groups(a, 13)


@pytest.mark.parametrize("skel", [S.MPII, S.LSP])
def test_body_groups_cover_every_joint(skel):
  groups = G.body_groups(skel)
  assert len(groups) == 6
  flat = sorted(j for g in groups for j in g)
  assert flat == list(range(skel.num_joints))  # every joint, exactly once
  assert groups == G.canonical(groups)


def test_body_groups_are_the_papers():
  names = {frozenset(g) for g in G.group_names(G.body_groups("mpii"), S.MPII)}
  assert names == {frozenset(x) for x in (
      ("head_top", "upper_neck", "thorax"), ("l_wrist", "l_elbow", "l_shoulder"),
      ("r_wrist", "r_elbow", "r_shoulder"), ("l_knee", "l_ankle"), ("r_knee", "r_ankle"),
      ("l_hip", "r_hip", "pelvis"))}
  with pytest.raises(KeyError):
    G.body_groups(S.FLIC)


FIG2B = (("head_top", "upper_neck", "thorax", "r_shoulder", "l_shoulder"),
         ("r_hip", "l_hip", "pelvis"), ("r_elbow", "r_wrist"), ("l_elbow", "l_wrist"),
         ("r_knee", "l_knee", "r_ankle", "l_ankle"))


def _by_name(named, skel=S.MPII):
  return G.canonical(tuple(skel.index(n) for n in g) for g in named)


def test_overlapping_groups():
  fig2b = _by_name(FIG2B)
  over = G.paper_overlap(fig2b, S.MPII)
  as_names = {frozenset(g) for g in G.group_names(over, S.MPII)}
  assert frozenset(("l_shoulder", "l_elbow", "l_wrist")) in as_names
  assert frozenset(("r_shoulder", "r_elbow", "r_wrist")) in as_names
  assert frozenset(FIG2B[0]) in as_names  # the shoulders keep their own group
  count = np.bincount([j for g in over for j in g], minlength=16)
  assert count[S.MPII.index("l_shoulder")] == 2 and count.sum() == 18
  # Affinity-driven (single linkage, symmetric): joints 1 and 3 are tied across the
  # two groups, so each joins the other's group.
  a = np.full((5, 5), 0.1)
  a[0, 1] = a[1, 0] = a[2, 4] = a[4, 2] = a[3, 4] = a[4, 3] = 1.0
  a[3, 1] = a[1, 3] = 0.9
  np.fill_diagonal(a, 0)
  assert G.expand_overlap(((0, 1), (2, 3, 4)), a, threshold=0.8) == ((0, 1, 3), (1, 2, 3, 4))
  a[0, 2] = a[2, 0] = 0.85  # joint 0 also qualifies for (2, 3, 4); max_added keeps the strongest
  assert G.expand_overlap(((0, 1), (2, 3, 4)), a, threshold=0.8) == ((0, 1, 3), (1, 2, 3, 4))
  assert G.expand_overlap(((0, 1), (2, 3, 4)), a, threshold=0.8, max_added=None) == (
      (0, 1, 2, 3), (0, 1, 2, 3, 4))
  assert G.expand_overlap(((0, 1), (2, 3, 4)), a, threshold=0.95) == ((0, 1), (2, 3, 4))


def test_save_load_round_trip(tmp_path):
  groups = _by_name(FIG2B)
  mi = np.arange(256, dtype=np.float64).reshape(16, 16)
  mi = mi + mi.T
  path = str(tmp_path / "g.json")
  G.save_groups(path, groups, S.MPII, mi, k=5)
  with open(path) as f:
    doc = json.load(f)
  assert doc["joints"] == list(S.MPII.joints) and doc["k"] == 5
  assert ["thorax", "upper_neck", "head_top", "r_shoulder", "l_shoulder"] in doc["groups"]
  back = G.load_groups(path)
  assert back.groups == groups and back.joints == S.MPII.joints
  np.testing.assert_array_equal(back.mi, mi)
  # A file written in another joint order comes back in the skeleton's order.
  perm = np.arange(16)[::-1]
  names = [S.MPII.joints[i] for i in perm]
  G.save_groups(path, G.canonical(tuple(int(np.flatnonzero(perm == j)[0]) for j in g)
                                  for g in groups), names, mi[np.ix_(perm, perm)])
  back = G.load_groups(path, "mpii")
  assert back.groups == groups
  np.testing.assert_array_equal(back.mi, mi)
  with pytest.raises(ValueError):
    G.load_groups(path, "lsp")


def test_cli_on_a_tiny_dataset(tmp_path, monkeypatch, capsys):
  from jaxpose.data import sources
  labels = [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 4, 4, 2, 3, 4]  # MPII-sized, 5 blocks
  n = 1500
  joints = _blocks(n, labels, seed=8)
  center = np.array([300.0, 200.0])
  scale = 2.0  # the crop is 500 px: pixels = centre + 500·unit
  records = [types.SimpleNamespace(
      joints=np.concatenate([center + 500 * joints[i], np.ones((16, 1))], 1),
      valid=np.ones(16), center=center, scale=scale) for i in range(n)]
  calls = []

  def fake_read_split(name, split, root=None):
    calls.append((name, split, root))
    return records

  monkeypatch.setattr(sources, "read_split", fake_read_split, raising=False)
  plot = str(tmp_path / "mi.png")
  out = str(tmp_path / "groups.json")
  assert G.main(["--dataset=mpii", "--split=train", "--k=5", f"--plot={plot}",
                 f"--output={out}", "--data_root=/nowhere"]) == 0
  assert calls == [("mpii", "train", "/nowhere")]
  for path in (plot, str(tmp_path / "mi_groups.png")):
    with open(path, "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  back = G.load_groups(out, "mpii")
  assert back.groups == G.canonical(np.flatnonzero(np.equal(labels, b)) for b in range(5))
  text = capsys.readouterr().out
  assert "group 1: r_ankle, r_knee, r_hip" in text and "1500 poses" in text


def test_plot_groups_with_overlap_and_lsp(tmp_path):
  for skel, groups in ((S.LSP, G.body_groups(S.LSP)),
                       (S.MPII, G.paper_overlap(_by_name(FIG2B), S.MPII))):
    path = str(tmp_path / f"{skel.name}.png")
    G.plot_groups(groups, skel, path)
    assert os.path.getsize(path) > 1000
  assert np.isfinite(G.canonical_pose(S.LSP)).all()


# --------------------------------------------------------------------------------
# Real annotations (skipped where ../shared/data is absent).



def _mpii_train():
  """joints, valid, centers, scales of the MPII training people: through the project
  reader when it exists, else straight from the json (same conventions)."""
  path = os.path.join(DATA, "mpii", "mpii_annotations.json.gz")
  if not os.path.exists(path):
    pytest.skip(f"MPII annotations not found at {path}")
  try:
    from jaxpose.data.sources import read_split
    return G.records_arrays(read_split("mpii", "train", root=os.path.join(DATA, "mpii")))
  except (ImportError, AttributeError, NotImplementedError):
    pass
  with gzip.open(path) as f:
    people = [p for p in json.load(f) if p["isValidation"] == 0]
  j = np.array([p["joint_self"] for p in people], np.float64)
  return {"joints": j[..., :2] - 1, "valid": ((j[..., 0] > 0) & (j[..., 1] > 0)) * 1.0,
          "centers": np.array([p["objpos"] for p in people], np.float64) - 1,
          "scales": np.array([p["scale_provided"] for p in people], np.float64)}


@pytest.mark.slow
def test_mpii_grouping_reproduces_fig2b():
  arr = _mpii_train()
  assert len(arr["joints"]) == 22246
  mi = G.joint_mutual_information(arr["joints"], arr["valid"], arr["centers"], arr["scales"])
  a = G.affinity(mi)
  ix = S.MPII.index
  # Fig. 2(a): "right ankle and left ankle [are] more related than ... right ankle and
  # left wrist".
  assert a[ix("r_ankle"), ix("l_ankle")] > 3 * a[ix("r_ankle"), ix("l_wrist")]
  # Fig. 2(b), k = 5, with the default (Shi–Malik) spectral clustering, for any seed.
  for seed in (0, 1, 2):
    assert G.spectral_groups(a, 5, seed=seed) == _by_name(FIG2B)
  # What we measure for k = 6 (§3.1 says the legs stay together and head top + upper
  # neck split off; on these estimates the legs split left/right instead), and what
  # Ng–Jordan–Weiss gives for k = 5 (left shoulder joins the left arm).
  assert G.spectral_groups(a, 6) == _by_name(
      (FIG2B[0], FIG2B[1], FIG2B[2], FIG2B[3], ("r_knee", "r_ankle"), ("l_knee", "l_ankle")))
  assert G.spectral_groups(a, 5, method="njw") == _by_name(
      (("head_top", "upper_neck", "thorax", "r_shoulder"), FIG2B[1], FIG2B[2],
       ("l_shoulder", "l_elbow", "l_wrist"), FIG2B[4]))


def test_lsp_grouping():
  sio = pytest.importorskip("scipy.io")
  lsp_path = os.path.join(DATA, "lsp", "joints.mat")
  lspet_path = os.path.join(DATA, "lspet", "joints.mat")
  if not (os.path.exists(lsp_path) and os.path.exists(lspet_path)):
    pytest.skip("LSP / LSPET joints.mat not found")
  lsp = sio.loadmat(lsp_path)["joints"].transpose(2, 1, 0)[:1000]  # LSP train
  lspet = sio.loadmat(lspet_path)["joints"].transpose(2, 0, 1)
  joints = np.concatenate([lsp[..., :2], lspet[..., :2]]) - 1
  valid = np.concatenate([np.ones(lsp.shape[:2]), lspet[..., 2]])  # LSPET: 0 = missing
  mi = G.joint_mutual_information(joints, valid, mode="box")
  groups = G.spectral_groups(G.affinity(mi), 5)
  assert groups == _by_name((("r_ankle", "r_knee"), ("l_knee", "l_ankle"), ("r_hip", "l_hip"),
                             ("r_wrist", "r_elbow", "l_elbow", "l_wrist"),
                             ("r_shoulder", "l_shoulder", "neck", "head_top")), S.LSP)
