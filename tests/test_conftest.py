"""The suite's own helpers (tests/conftest.py): the kept XLA cache is trimmed oldest first."""
import os

import conftest


def test_the_kept_compilation_cache_is_trimmed_oldest_first(tmp_path):
  for i in range(6):  # 6 files of 100 bytes, file 0 the oldest
    p = tmp_path / f"entry{i}"
    p.write_bytes(b"x" * 100)
    os.utime(p, (1000 + i, 1000 + i))
  conftest._trim(str(tmp_path), high=600, low=300)  # not over the high mark: nothing goes
  assert len(os.listdir(tmp_path)) == 6
  conftest._trim(str(tmp_path), high=500, low=300)
  assert sorted(os.listdir(tmp_path)) == ["entry3", "entry4", "entry5"]


def test_the_session_uses_one_cache_folder_for_every_process():
  path = os.environ["JAXPOSE_TEST_XLA_CACHE"]
  assert os.path.isdir(path) and os.environ["JAX_COMPILATION_CACHE_DIR"] == path
