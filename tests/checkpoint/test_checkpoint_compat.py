"""Checkpoints written before the family contract still restore (tests/fixtures/README.md)."""
import os

import numpy as np
import pytest
from conftest import TESTS

FIXTURE = os.path.join(TESTS, "fixtures", "ckpt_v0_1")


@pytest.mark.slow
def test_pre_contract_checkpoint_restores_without_an_optimizer(tmp_path):
  import shutil
  from jaxpose import inference
  work = str(tmp_path / "ckpt")
  shutil.copytree(FIXTURE, work)  # orbax may touch its directory; keep the fixture pristine
  p = inference.load(work, "best")
  assert p.step == 3 and p.family.name == "heatmap"
  assert set(p.variables) == {"params", "batch_stats"}
  x = np.linspace(-1, 1, 2 * 32 * 32 * 3, dtype=np.float32).reshape(2, 32, 32, 3)
  expected = np.load(os.path.join(FIXTURE, "expected_heatmaps.npy"))
  np.testing.assert_allclose(p.outputs(x)["heatmaps"][-1], expected, rtol=1e-5, atol=1e-6)
  # restored BatchNorm statistics are the stored ones (the fixture shifted them by 0.5)
  stats = p.variables["batch_stats"]["stem"]["bn"]["mean"]
  np.testing.assert_allclose(stats, 0.5)


def test_a_checkpoint_of_another_network_names_the_mismatch(tmp_path):
  import shutil
  from jaxpose import inference
  from jaxpose.errors import CheckpointError
  work = str(tmp_path / "ckpt")
  shutil.copytree(FIXTURE, work)
  config, _, _, _ = inference.restore(work)
  other = config.copy_and_resolve_references()
  other.model.features = 16
  with pytest.raises(CheckpointError, match="model.features: checkpoint has 8, this config has 16"):
    inference.load(work, overrides=other)
  from jaxpose import checkpoint
  mngr = checkpoint.manager(work, read_only=True)
  with pytest.raises(CheckpointError, match=r"params: .*shape \(8,\), model has \(16,\)"):
    checkpoint.restore_variables(mngr, 3, inference.abstract_variables(other))
