"""pmap on 4 forced host devices, and 2 processes joined by jax.distributed, take the same
steps as one jitted device on the same global batch."""
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "data_parallel.py")


def _run(args, devices=1, **kw):
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
             JAX_PLATFORMS="cpu")
  return subprocess.Popen([sys.executable, SCRIPT, *args], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kw)


def _wait(proc, timeout=300):
  out, _ = proc.communicate(timeout=timeout)
  assert proc.returncode == 0, out
  return out


def _errors(a_path, b_path):
  """(max relative error of the BatchNorm statistics, global relative error of the update)."""
  a, b = np.load(a_path), np.load(b_path)
  assert sorted(a.files) == sorted(b.files)
  stats, num, den = 0.0, 0.0, 0.0
  for k in a.files:
    if k.startswith("['batch_stats']"):
      stats = max(stats, float(np.max(np.abs(a[k] - b[k]) / (np.abs(a[k]) + 1e-3))))
    else:
      num += float(np.sum((a[k] - b[k]) ** 2))
      den += float(np.sum(a[k] ** 2))
  assert den > 0
  return stats, (num / den) ** 0.5


def _assert_same(a_path, b_path):
  """Same BatchNorm statistics (the synchronised forward pass) and the same parameter update.

  The update is compared by its global relative error: the 2×2 max-pools route each
  gradient to the argmax of their window, and float rounding that differs between one device
  and four (the order of the cross-device sums) can flip a near-tie, moving a few gradient
  entries by O(1) (seen: up to 1% of a single BatchNorm bias's update, 1e-5 with average
  pooling). A missing gradient or statistics all-reduce gives errors of order 1.
  """
  stats, update = _errors(a_path, b_path)
  assert stats < 1e-4, stats
  assert update < 1e-2, update


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("ref") / "jit.npz")
  _wait(_run(["jit", out]))
  return out


def test_pmap_on_four_devices_equals_jit(reference, tmp_path):
  out = str(tmp_path / "pmap.npz")
  assert "devices 4" in _wait(_run(["pmap", out], devices=4))
  _assert_same(reference, out)
  # The comparison can fail: without synchronised BatchNorm the same run is far off.
  nosync = str(tmp_path / "nosync.npz")
  _wait(_run(["pmap_nosync", nosync], devices=4))
  stats, update = _errors(reference, nosync)
  assert stats > 1e-2 and update > 5e-2, (stats, update)


def test_two_processes_with_jax_distributed_equal_one(reference, tmp_path):
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  outs = [str(tmp_path / f"p{i}.npz") for i in range(2)]
  procs = [_run(["dist", outs[i], str(port), "2", str(i)]) for i in range(2)]
  logs = [_wait(p) for p in procs]
  assert all("processes 2" in log for log in logs), logs
  _assert_same(outs[0], outs[1])      # lockstep
  _assert_same(reference, outs[0])    # same as one process on the global batch
