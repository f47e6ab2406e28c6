import numpy as np
import pytest

from jaxpose import skeleton as skel


@pytest.mark.parametrize("s", list(skel.SKELETONS.values()), ids=lambda s: s.name)
def test_flip_permutation_is_an_involution(s):
  perm = s.flip_permutation
  np.testing.assert_array_equal(perm[perm], np.arange(s.num_joints))
  for a, b in s.flip_pairs:
    assert s.joints[a].replace("l_", "r_") == s.joints[b].replace("l_", "r_")
    assert s.joints[a] != s.joints[b]


@pytest.mark.parametrize("s", list(skel.SKELETONS.values()), ids=lambda s: s.name)
def test_limbs_parts_groups_index_real_joints(s):
  for a, b in s.limbs:
    assert 0 <= a < s.num_joints and 0 <= b < s.num_joints
  for _, a, b in s.parts:
    assert 0 <= a < s.num_joints and 0 <= b < s.num_joints
  for _, idx in s.groups:
    assert all(0 <= i < s.num_joints for i in idx)


def test_mpii_order_matches_dataset_readme():
  assert skel.MPII.joints[0] == "r_ankle" and skel.MPII.joints[9] == "head_top"
  assert skel.MPII.joints[12] == "r_shoulder" and skel.MPII.joints[15] == "l_wrist"


def test_convert_lsp_to_mpii_and_back():
  rng = np.random.default_rng(0)
  lsp = np.concatenate([rng.uniform(0, 100, (14, 2)), np.ones((14, 1))], axis=1)
  mpii = skel.convert(lsp, skel.LSP, skel.MPII)
  assert mpii.shape == (16, 3)
  # pelvis and thorax are not LSP joints: zero, i.e. unannotated
  assert mpii[skel.MPII.index("pelvis")].sum() == 0
  np.testing.assert_array_equal(mpii[skel.MPII.index("upper_neck")], lsp[skel.LSP.index("neck")])
  np.testing.assert_array_equal(skel.convert(mpii, skel.MPII, skel.LSP), lsp)


def test_convert_wrong_joint_count():
  with pytest.raises(ValueError, match="expected 14 lsp joints"):
    skel.convert(np.zeros((16, 3)), skel.LSP, skel.MPII)
