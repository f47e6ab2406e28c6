"""Verified checkpoints (issue #39): digests per array, NaN/inf refused, the resume's fallback
to the newest intact checkpoint, storage failures as one line, old checkpoints still read."""
import errno
import os
import shutil

import numpy as np
import pytest
from conftest import TESTS

FIXTURE = os.path.join(TESTS, "fixtures", "ckpt_v0_1")


def _state(scale: float = 1.0, nan: bool = False):
  import jax
  import jax.numpy as jnp
  import optax
  from jaxpose.training.state import TrainState
  kernel = np.arange(600, dtype=np.float32).reshape(6, 100) * scale
  if nan:
    kernel[2, 3] = np.nan
  params = {"conv": {"kernel": kernel}, "bias": np.ones(5, np.float32) * scale}
  state = TrainState(step=np.int32(3), params=params,
                     batch_stats={"bn": {"mean": np.full(3, scale, np.float32)}},
                     opt_state=optax.adam(1e-3).init(params), rng=jax.random.PRNGKey(0))
  return jax.tree_util.tree_map(jnp.asarray, state)


def _abstract():
  import jax
  return {"params": {"conv": {"kernel": jax.ShapeDtypeStruct((6, 100), np.float32)},
                     "bias": jax.ShapeDtypeStruct((5,), np.float32)},
          "batch_stats": {"bn": {"mean": jax.ShapeDtypeStruct((3,), np.float32)}}}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
  """A workdir with checkpoints 3 (scale 1) and 6 (scale 2), both verified."""
  import ml_collections
  from jaxpose import checkpoint
  work = str(tmp_path_factory.mktemp("ckpt") / "run")
  mngr = checkpoint.manager(work)
  cfg = ml_collections.ConfigDict({"name": "t"})
  checkpoint.save(mngr, 3, _state(1.0), cfg)
  checkpoint.save(mngr, 6, _state(2.0), cfg)
  mngr.close()
  return work


_copies = iter(range(10 ** 6))


def _copy(src: str, tmp_path) -> str:
  """A fresh copy under a new path each time (tensorstore caches what it read by path)."""
  dst = str(tmp_path / f"copy{next(_copies)}")
  shutil.copytree(src, dst)
  return dst


def _swap_state(work: str) -> None:
  """Step 6's arrays replaced by step 3's: valid files, content changed after saving."""
  shutil.rmtree(os.path.join(work, "checkpoints", "6", "state"))
  shutil.copytree(os.path.join(work, "checkpoints", "3", "state"),
                  os.path.join(work, "checkpoints", "6", "state"))


def test_a_saved_checkpoint_carries_digests_and_verifies(saved, tmp_path):
  from jaxpose import checkpoint
  work = _copy(saved, tmp_path)
  mngr = checkpoint.manager(work, read_only=True)
  assert os.path.isdir(os.path.join(work, "checkpoints", "6", checkpoint.DIGEST))
  checkpoint.verify(mngr, 6)
  restored = checkpoint.restore_state(mngr, 6, _state())
  np.testing.assert_array_equal(restored.params["conv"]["kernel"], _state(2.0).params["conv"]["kernel"])
  variables = checkpoint.restore_variables(mngr, 6, _abstract())
  np.testing.assert_array_equal(variables["batch_stats"]["bn"]["mean"], 2.0)


def test_content_changed_after_saving_is_refused_by_every_reader(saved, tmp_path):
  from jaxpose import checkpoint
  from jaxpose.errors import DamagedCheckpointError
  work = _copy(saved, tmp_path)
  _swap_state(work)
  mngr = checkpoint.manager(work, read_only=True)
  where = os.path.join(work, "checkpoints", "6")
  pattern = rf"checkpoint {where} is damaged: array params/\S+ changed after it was saved"
  with pytest.raises(DamagedCheckpointError, match=pattern):
    checkpoint.restore_state(mngr, 6, _state())
  with pytest.raises(DamagedCheckpointError, match=pattern):
    checkpoint.restore_variables(mngr, 6, _abstract())
  with pytest.raises(DamagedCheckpointError, match=pattern):
    checkpoint.verify(mngr, 6)


def test_non_finite_values_are_refused_by_name(tmp_path):
  import ml_collections
  from jaxpose import checkpoint
  from jaxpose.errors import DamagedCheckpointError
  mngr = checkpoint.manager(str(tmp_path / "nan"))
  checkpoint.save(mngr, 1, _state(nan=True), ml_collections.ConfigDict({"name": "t"}))
  with pytest.raises(DamagedCheckpointError, match=r"array params/conv/kernel holds NaN or inf "
                                                   r"\(1 of 600 values\)"):
    checkpoint.restore_variables(mngr, 1, _abstract())
  with pytest.raises(DamagedCheckpointError, match="params/conv/kernel holds NaN"):
    checkpoint.restore_state(mngr, 1, _state())


def test_resume_falls_back_to_the_newest_intact_checkpoint_and_says_so(saved, tmp_path):
  from jaxpose import checkpoint
  work = _copy(saved, tmp_path)
  _swap_state(work)
  mngr = checkpoint.manager(work, read_only=True)
  lines = []
  assert checkpoint.newest_intact(mngr, lines.append) == 3
  assert len(lines) == 1 and "\n" not in lines[0]
  assert f"{work}/checkpoints/6 is damaged" in lines[0]
  assert lines[0].endswith(f"resuming from {work}/checkpoints/3, the newest intact checkpoint")
  # "last good checkpoint" names only a verified one
  assert checkpoint.last_good(mngr) == os.path.join(work, "checkpoints", "3")


def test_the_training_loop_sets_the_damaged_checkpoint_aside(saved, tmp_path, capsys):
  from jaxpose import checkpoint
  from jaxpose.training import loop
  work = _copy(saved, tmp_path)
  _swap_state(work)
  mngr = checkpoint.manager(work, keep=3)
  assert loop._newest_intact(mngr, work, 3, chief=True) == 3
  out = capsys.readouterr().out
  assert "resuming from" in out and "damaged-6" in out
  assert sorted(os.listdir(os.path.join(work, "checkpoints"))) == ["3", "damaged-6"]
  assert checkpoint.manager(work, read_only=True).all_steps() == [3]


def test_every_checkpoint_damaged_is_one_error(saved, tmp_path):
  from jaxpose import checkpoint
  from jaxpose.errors import DamagedCheckpointError
  work = _copy(saved, tmp_path)
  for step in ("3", "6"):
    shutil.rmtree(os.path.join(work, "checkpoints", step, "state", "d"))
  mngr = checkpoint.manager(work, read_only=True)
  with pytest.raises(DamagedCheckpointError, match="no intact checkpoint is left"):
    checkpoint.newest_intact(mngr)
  assert checkpoint.last_good(mngr) is None


@pytest.mark.slow
def test_checkpoints_written_before_digests_stay_readable(tmp_path):
  from jaxpose import checkpoint, inference
  work = _copy(FIXTURE, tmp_path)
  mngr = checkpoint.manager(work, read_only=True)
  assert not os.path.isdir(os.path.join(work, "checkpoints", "3", checkpoint.DIGEST))
  checkpoint.verify(mngr, 3)
  assert checkpoint.newest_intact(mngr) == 3
  config, variables, step, _ = inference.restore(work)
  assert step == 3 and "params" in variables


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EACCES])
def test_a_storage_failure_is_one_line_naming_the_path_and_keeps_the_last_good(
    saved, tmp_path, monkeypatch, err):
  import ml_collections
  import orbax.checkpoint as ocp
  from jaxpose import checkpoint
  from jaxpose.errors import CheckpointError
  work = _copy(saved, tmp_path)
  mngr = checkpoint.manager(work)

  def fail(*args, **kwargs):
    raise OSError(err, os.strerror(err), os.path.join(work, "checkpoints", "9"))
  monkeypatch.setattr(ocp.CheckpointManager, "save", fail)
  with pytest.raises(CheckpointError) as info:
    checkpoint.save(mngr, 9, _state(), ml_collections.ConfigDict({"name": "t"}))
  message = str(info.value)
  assert "\n" not in message
  assert message.startswith(f"cannot write checkpoint {work}/checkpoints/9: ")
  assert os.strerror(err) in message
  assert message.endswith(f"(last good checkpoint: {work}/checkpoints/6)")
  checkpoint.verify(checkpoint.manager(work, read_only=True), 6)


def test_a_file_where_the_checkpoint_folder_belongs_is_refused(tmp_path):
  from jaxpose.errors import CheckpointError
  from jaxpose.training import loop
  (tmp_path / "file").write_text("x")
  with pytest.raises(CheckpointError, match=rf"cannot create {tmp_path}/file/checkpoints"):
    loop._manager(str(tmp_path / "file"), 3)


def _mutate(path: str, rng: np.random.Generator, kind: str) -> None:
  data = bytearray(open(path, "rb").read())
  if kind == "truncate":
    data = data[:int(rng.integers(0, max(1, len(data))))]
  else:
    for _ in range(int(rng.integers(1, 4))):
      i = int(rng.integers(0, len(data)))
      data[i] ^= 1 << int(rng.integers(0, 8))
  with open(path, "wb") as f:
    f.write(data)


@pytest.mark.slow
def test_property_random_damage_gives_the_saved_arrays_or_one_checkpoint_error(saved, tmp_path):
  """Truncations and bit flips of random files of a checkpoint, and a restore into another
  shape: either exactly the saved arrays or one ``CheckpointError`` naming the checkpoint —
  never another exception, never different values."""
  import jax
  from jaxpose import checkpoint
  from jaxpose.errors import CheckpointError
  rng = np.random.default_rng(39)
  want = checkpoint.digests(_state(2.0))
  outcomes = {"same": 0, "refused": 0}
  for trial in range(24):
    work = _copy(saved, tmp_path)
    step_dir = os.path.join(work, "checkpoints", "6")
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(step_dir) for f in fs)
    _mutate(files[int(rng.integers(0, len(files)))], rng, ("truncate", "flip")[trial % 2])
    mngr = checkpoint.manager(work, read_only=True)
    try:
      restored = checkpoint.restore_state(mngr, 6, _state())
    except CheckpointError as e:
      assert step_dir in str(e) and "\n" not in str(e)
      outcomes["refused"] += 1
      continue
    assert checkpoint.digests(jax.device_get(restored)) == want
    outcomes["same"] += 1
  assert outcomes["refused"] > 0, outcomes
  # a shape change (another model) is refused as such, not as damage
  other = _state().replace(params={"conv": {"kernel": np.zeros((6, 50), np.float32)},
                                   "bias": np.ones(5, np.float32)})
  mngr = checkpoint.manager(_copy(saved, tmp_path), read_only=True)
  with pytest.raises(CheckpointError, match="does not fit the model"):
    checkpoint.restore_state(mngr, 6, jax.tree_util.tree_map(jax.numpy.asarray, other))


@pytest.fixture
def full_disk(tmp_path):
  """A 300 KB tmpfs: the tiny run's first checkpoint does not fit. Needs mount rights (root on
  Linux); skipped elsewhere."""
  import subprocess
  where = tmp_path / "disk"
  where.mkdir()
  p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(where)],
                     capture_output=True, text=True)
  if p.returncode != 0:
    pytest.skip(f"cannot mount a small tmpfs here: {p.stderr.strip()}")
  yield str(where)
  subprocess.run(["umount", str(where)], check=False)


@pytest.mark.slow
def test_a_real_full_disk_is_one_error_line(full_disk, cache_dir):
  """train.py on a disk too small for its first checkpoint: one ``error:`` line naming it, exit
  status 2, and none of the asyncio / tensorstore tracebacks that the failed writes log when
  they are collected, down to interpreter exit (there were 214 after the error line)."""
  from conftest import TINY_FLAGS, run_cli
  p = run_cli(["train.py", f"--workdir={full_disk}/run", *TINY_FLAGS], cache_dir, check=False)
  assert p.returncode == 2, p.output[-3000:]
  errors = [line for line in p.stderr.replace("\r", "\n").splitlines() if "error:" in line]
  assert len(errors) == 1 and f"cannot write checkpoint {full_disk}/run/checkpoints/2" in errors[0]
  assert "No space left" in errors[0] or "RESOURCE_EXHAUSTED" in errors[0], errors[0]
  assert "Traceback" not in p.stderr and "never retrieved" not in p.stderr, p.stderr[-3000:]
