"""The suite's own helpers (tests/conftest.py): where the compilation cache lives, and its trim."""
import os

import conftest
from conftest import TESTS, run_cli

# what a process that loads the suite's conftest uses as its compilation cache
# (jax reads JAX_COMPILATION_CACHE_DIR when it is imported)
SHOW = ("import conftest, os; print(os.environ['JAXPOSE_TEST_XLA_CACHE']); "
        "print(os.environ['JAX_COMPILATION_CACHE_DIR'])")


def _show(cwd, **extra):
  """The folder a process started by ``run_cli`` in ``cwd`` with ``extra`` in its environment
  uses (``JAXPOSE_TEST_XLA_CACHE=""``: as if unset)."""
  p = run_cli(["-c", SHOW], cwd=cwd, PYTHONPATH=TESTS, **extra)
  exported, used = p.stdout.split()
  assert exported == used  # the variable the workers inherit is the folder jax uses
  return used


def test_the_compilation_cache_folder(tmp_path):
  kept = _show(str(tmp_path), JAXPOSE_TEST_XLA_CACHE="", JAXPOSE_CACHE=str(tmp_path / "cache"))
  assert kept == str(tmp_path / "cache" / "test_xla") and os.path.isdir(kept)  # kept after exit
  named = _show(str(tmp_path), JAXPOSE_TEST_XLA_CACHE="mine")  # relative: made absolute
  assert named == str(tmp_path / "mine") and os.path.isdir(named)
  fresh = _show(str(tmp_path), JAXPOSE_TEST_XLA_CACHE="fresh")
  assert fresh not in (kept, named) and not os.path.exists(fresh)  # removed at exit


def test_the_kept_compilation_cache_is_trimmed_least_recently_used_first(tmp_path):
  for i in range(6):  # 6 entries of 100 bytes, entry 0 the least recently used
    p = tmp_path / f"jit_f-{i}-cache"
    p.write_bytes(b"x" * 100)
    os.utime(p, (1000 + i, 1000 + i))
  (tmp_path / "distributed.lock").write_bytes(b"x" * 100)  # not an entry: never removed
  os.utime(tmp_path / "distributed.lock", (1, 1))
  conftest._trim(str(tmp_path), high=600, low=300)  # not over the high mark: nothing goes
  assert len(os.listdir(tmp_path)) == 7
  os.utime(tmp_path / "jit_f-0-cache", (2000, 1000))  # read recently: kept
  conftest._trim(str(tmp_path), high=500, low=300)
  assert sorted(os.listdir(tmp_path)) == ["distributed.lock", "jit_f-0-cache", "jit_f-4-cache",
                                          "jit_f-5-cache"]
