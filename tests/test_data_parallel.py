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


def _assert_same(a_path, b_path):
  a, b = np.load(a_path), np.load(b_path)
  assert sorted(a.files) == sorted(b.files)
  for k in a.files:
    np.testing.assert_allclose(a[k], b[k], rtol=2e-4, atol=2e-5, err_msg=k)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("ref") / "jit.npz")
  _wait(_run(["jit", out]))
  return out


def test_pmap_on_four_devices_equals_jit(reference, tmp_path):
  out = str(tmp_path / "pmap.npz")
  assert "devices 4" in _wait(_run(["pmap", out], devices=4))
  _assert_same(reference, out)


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
