"""Shared fixtures: a tiny config on a tiny synthetic dataset, cached per test session."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _share_compilations():
  """One persistent XLA compilation cache for the whole session, subprocesses included (they
  inherit the environment): the same tiny networks are compiled by many tests and by every
  ``train.py`` / ``evaluate.py`` a test starts, and on this CPU compiling is ~45 % of the suite's
  CPU time (``benchmarks/suite_profile.py``). Entries are keyed by the program, the compile
  options, the XLA flags and the jax version, so nothing but compile time is shared.

  The folder is kept between sessions — ``~/.cache/jaxpose/test_xla``, under ``JAXPOSE_CACHE``
  when that is set, its entries trimmed to the most recently used 512 MiB once they pass 1 GiB —
  so a later run compiles only what changed (figures: docs/benchmarks.md, "The test suite").
  ``JAXPOSE_TEST_XLA_CACHE=DIR`` uses DIR instead; ``JAXPOSE_TEST_XLA_CACHE=fresh`` a private
  folder removed at exit, every program compiled as on a fresh clone (``.ci/run`` does this).
  Deleting the folder resets it. The user's own JAX cache is never touched."""
  import atexit
  import shutil
  import tempfile
  path = os.environ.get("JAXPOSE_TEST_XLA_CACHE", "")
  kept = not path
  if path == "fresh":
    path = tempfile.mkdtemp(prefix="jaxpose_xla_cache_")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
  elif kept:
    root = os.environ.get("JAXPOSE_CACHE") or os.path.join("~", ".cache", "jaxpose")
    path = os.path.join(root, "test_xla")
  path = os.path.abspath(os.path.expanduser(path))  # the same folder from any working directory
  os.makedirs(path, exist_ok=True)
  if kept:
    _trim(path, high=1 << 30, low=1 << 29)
  os.environ["JAXPOSE_TEST_XLA_CACHE"] = path  # the workers and the commands they start
  settings = {"jax_compilation_cache_dir": path,
              # every compilation, even the eager init's many sub-second ones
              "jax_persistent_cache_min_compile_time_secs": "0",
              "jax_persistent_cache_min_entry_size_bytes": "0"}
  for name, value in settings.items():
    os.environ[name.upper()] = value
  if "jax" in sys.modules:  # imported before this file (tests/scripts/*.py): too late for env
    import jax
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _trim(path: str, high: int, low: int) -> None:
  """Once jax's entries in ``path`` (``*-cache`` files) pass ``high`` bytes, removes the least
  recently used (the later of access and modification time; other files, such as the lock of
  ``one_distributed_job``, stay) until they are under ``low``. A file another process removes
  first is skipped."""
  entries = []
  for e in os.scandir(path):
    try:
      if e.name.endswith("-cache") and e.is_file():
        st = e.stat()
        entries.append((max(st.st_atime, st.st_mtime), st.st_size, e.path))
    except FileNotFoundError:
      continue
  total = sum(size for _, size, _ in entries)
  if total <= high:
    return
  for _, size, name in sorted(entries):
    if total <= low:
      break
    try:
      os.remove(name)
    except FileNotFoundError:
      pass
    total -= size


_share_compilations()

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)
TESTS = os.path.join(ROOT, "tests")
# The real datasets (../shared/data unless JAXPOSE_DATA says otherwise); tests that need them
# skip when they are absent.
DATA = os.environ.get("JAXPOSE_DATA") or os.path.join(ROOT, "..", "shared", "data")

# train.py flags for the tiny run of the command-line tests (tiny_config as flags): a 1-stack
# narrow hourglass on 64×64 crops of a 48/16/8-image synthetic set, 4 steps of batch 8.
TINY_FLAGS = [
    "--config.model.num_stacks=1", "--config.model.features=32", "--config.model.depth=2",
    "--config.data.image_size=64", "--config.data.heatmap_size=16",
    "--config.data.synthetic.train_size=48", "--config.data.synthetic.validation_size=16",
    "--config.data.synthetic.test_size=8", "--config.data.synthetic.image_size=96",
    "--config.train.batch_size=8", "--config.train.num_steps=4", "--config.train.log_every=2",
    "--config.train.eval_every=4", "--config.train.checkpoint_every=2",
    "--config.train.schedule.warmup_steps=0", "--config.eval.batch_size=8"]


def load_recipe(path: str):
  """``get_config()`` of the recipe file ``path``."""
  import importlib.util
  spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def offline_groups(c):
  """A PBN recipe's groups are resolved from its data at start-up; here the spec is checked
  against the skeleton and, for "stat", k stand-in groups give the recipe's shapes."""
  import numpy as np
  from jaxpose import grouping
  from jaxpose.data import datasets
  skel = datasets.skeleton(c.data)
  grouping.check_spec(c.model.grouping, skel)
  if c.model.grouping.strategy != "stat":
    return grouping.resolve_config(c)[0]
  c = c.copy_and_resolve_references()
  c.model.groups = tuple(tuple(int(j) for j in g)
                         for g in np.array_split(np.arange(skel.num_joints), c.model.grouping.k))
  return c


def cli_env(cache_dir=None, devices=None, **extra) -> dict:
  """The environment of a command a test starts: the session's, the CPU tuning off (no
  re-exec: the process the test starts is the one that runs), ``JAXPOSE_CACHE=cache_dir``, and
  with ``devices`` that many forced host devices."""
  env = dict(os.environ, JAXPOSE_CPU_TUNING="0", **extra)
  if cache_dir:
    env["JAXPOSE_CACHE"] = cache_dir
  if devices:
    env.update(JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
  return env


def run_cli(args, cache_dir=None, *, check=True, devices=None, cwd=ROOT, timeout=600, **extra):
  """``python ARGS`` (``train.py …``, ``-m jaxpose.predict …``) from the repository root in
  ``cli_env``; with ``check`` a non-zero exit fails the test with the output's tail. The
  result's ``output`` is stdout and stderr together."""
  import subprocess
  p = subprocess.run([sys.executable, *args], cwd=cwd, env=cli_env(cache_dir, devices, **extra),
                     capture_output=True, text=True, timeout=timeout)
  if check:
    assert p.returncode == 0, f"{args}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
  p.output = p.stdout + p.stderr
  return p


@pytest.hookimpl(optionalhook=True)  # pytest without xdist (-p no:xdist) ignores it
def pytest_xdist_auto_num_workers(config):
  """``-n auto`` (setup.cfg's addopts): one pytest-xdist worker per core, at most 4. The suite
  is mostly single-threaded XLA compilation and process start-up: on a 2-core machine two
  workers took 34 min where one process had taken 58 (that run partly shared the cores). Each
  worker holds its own jax + tensorflow (~1.5 GB) besides the trainings it starts, hence the
  cap. ``-n N`` overrides, ``-n 0`` runs in one process."""
  return max(1, min(os.cpu_count() or 1, 4))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
  """A private JAXPOSE_CACHE for the session, so tests never touch the user's cache."""
  path = str(tmp_path_factory.mktemp("jaxpose_cache"))
  old = os.environ.get("JAXPOSE_CACHE")
  os.environ["JAXPOSE_CACHE"] = path
  yield path
  if old is None:
    os.environ.pop("JAXPOSE_CACHE", None)
  else:
    os.environ["JAXPOSE_CACHE"] = old


def tiny_config():
  """configs/default.py shrunk to seconds: 64×64 crops, a 1-stack narrow hourglass."""
  from jaxpose.configs import default
  c = default.get_config()
  c.name = "tiny"
  c.model.num_stacks = 1
  c.model.features = 32
  c.model.depth = 2
  c.data.heatmap_size = 16
  return tiny_budget(c)


def tiny_budget(c):
  """Any model's config on seconds of data and steps: 64×64 crops of a 48/16/8-image
  synthetic set, 6 steps of batch 8, validation at step 6, checkpoints every 3."""
  c.data.image_size = 64
  c.data.synthetic.update(train_size=48, validation_size=16, test_size=8, image_size=96)
  c.data.shuffle_buffer = 48
  c.train.batch_size = 8
  c.train.num_steps = 6
  c.train.log_every = 2
  c.train.eval_every = 6
  c.train.checkpoint_every = 3
  c.train.schedule.warmup_steps = 0
  c.eval.batch_size = 8
  return c


@pytest.fixture
def config(cache_dir):
  return tiny_config()


@pytest.fixture
def one_distributed_job():
  """Test workers (pytest-xdist) run one ``jax.distributed`` test at a time: the two-process
  jobs' peers wait on each other in collectives and barriers, and two such jobs on two cores
  starve each other into time-outs. The datasets' lock (an ``flock``) on a file in the
  session's shared folder."""
  from jaxpose.data.builders import base
  with base.exclusive(os.path.join(os.environ["JAXPOSE_TEST_XLA_CACHE"], "distributed.lock")):
    yield
