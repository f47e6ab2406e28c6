"""jaxpose as a user installs it (issue #42): the sdist and the wheel built from it carry every
file of the package, and the wheel, installed into a fresh virtual environment, imports, trains
and evaluates from a folder outside the checkout.

The fresh environment reuses this one's dependencies through a ``.pth`` line naming this
environment's site-packages (plain path lines add the folder without running its ``.pth`` files,
so the checkout's editable install does not leak in), and the wheel goes in with ``--no-deps``.
"""
import os
import site
import subprocess
import sys
import textwrap
import zipfile

import pytest
from conftest import ROOT



def _package_files() -> set[str]:
  """Every file of the checkout's ``jaxpose/`` (byte code aside), relative to the root."""
  out = set()
  for folder, dirs, files in os.walk(os.path.join(ROOT, "jaxpose")):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    out.update(os.path.relpath(os.path.join(folder, f), ROOT).replace(os.sep, "/")
               for f in files if not f.endswith((".pyc", ".pyo")))
  return out


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
  """``python -m build``: the sdist, then the wheel built from the sdist (so a file missing
  from the sdist is missing from the wheel too). Offline: the test environment has the build
  requirements (setup.cfg's ``test`` extra)."""
  out = tmp_path_factory.mktemp("dist")
  p = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), ROOT],
                     capture_output=True, text=True)
  assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
  wheels = list(out.glob("jaxpose-*.whl"))
  sdists = list(out.glob("jaxpose-*.tar.gz"))
  assert len(wheels) == 1 and len(sdists) == 1, os.listdir(out)
  return wheels[0], sdists[0]


@pytest.mark.slow
def test_the_wheel_carries_every_file_of_the_package(dist):
  wheel, _ = dist
  with zipfile.ZipFile(wheel) as z:
    names = set(z.namelist())
  missing = sorted(_package_files() - names)
  assert not missing, f"not in {wheel.name}: {missing}"
  entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
  with zipfile.ZipFile(wheel) as z:
    text = z.read(entry_points).decode()
  assert "jaxpose-train = jaxpose.train:run" in text
  assert "jaxpose-evaluate = jaxpose.evaluate:run" in text


def test_the_sdist_carries_every_file_of_the_package(dist):
  import tarfile
  _, sdist = dist
  with tarfile.open(sdist) as t:
    names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
  missing = sorted(_package_files() - names)
  assert not missing, f"not in {sdist.name}: {missing}"


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory):
  """A fresh virtual environment with the wheel installed and this environment's packages
  visible; returns its bin folder."""
  wheel, _ = dist
  path = tmp_path_factory.mktemp("venv")
  subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
  py = str(path / "bin" / "python")
  target = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
  parents = [p for p in site.getsitepackages() if os.path.isdir(p)]
  with open(os.path.join(target, "_jaxpose_test_parent.pth"), "w") as f:
    f.write("\n".join(parents) + "\n")
  p = subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
                      str(wheel)], capture_output=True, text=True)
  assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
  return path / "bin"


def _run(args, cwd, ok=(0,)):
  env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
  p = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
  assert p.returncode in ok, f"{args}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
  return p.stdout + p.stderr


@pytest.mark.slow
def test_installed_outside_the_checkout(venv, tmp_path, cache_dir):
  """From a folder outside the checkout: the networks import (from the installed copy, not the
  checkout), the tools answer --help, and a config written there that builds on the packaged
  recipe blocks trains two steps and is evaluated with ``jaxpose-train`` and ``jaxpose-evaluate``."""
  py = str(venv / "python")
  out = _run([py, "-c", "import sys, jaxpose, jaxpose.models; print(jaxpose.__file__); "
              "print(sorted(jaxpose.models.MODELS)); "
              "print('tensorflow' in sys.modules)"], tmp_path)
  where, _, tf_loaded = out.strip().splitlines()
  assert where.startswith(str(venv.parent)) and not where.startswith(ROOT), where
  assert tf_loaded == "False"
  assert "usage: python -m jaxpose.predict" in _run([py, "-m", "jaxpose.predict", "--help"], tmp_path)
  # absl's --help exits with status 1
  assert "--workdir: Run directory" in _run([str(venv / "jaxpose-train"), "--help"], tmp_path, (1,))
  assert "--workdir: A training run" in _run([str(venv / "jaxpose-evaluate"), "--help"], tmp_path,
                                             (1,))

  # the released model is in the wheel: a picture → a pose with no workdir, from the installed copy
  from PIL import Image
  Image.new("RGB", (120, 160), (90, 120, 60)).save(tmp_path / "photo.png")
  out = _run([py, "-m", "jaxpose.predict", "photo.png", "--out=poses"], tmp_path)
  assert "using the released model 'lsp'" in out, out[-2000:]
  assert os.path.join(str(venv.parent), "") in out and ROOT + os.sep not in out, out[-2000:]
  assert os.path.isfile(tmp_path / "poses" / "photo.json")

  (tmp_path / "my_config.py").write_text(textwrap.dedent("""\
      from jaxpose.configs import common, default

      def get_config():
        c = default.get_config()
        c.name = "my_tiny"
        common.cpu_budget(c, features=16, steps=2)
        c.model.num_stacks = 1
        c.model.depth = 2
        c.data.image_size = 64
        c.data.heatmap_size = 16
        c.data.synthetic.update(train_size=16, validation_size=8, test_size=8, image_size=96)
        c.data.shuffle_buffer = 16
        c.train.batch_size = 8
        c.train.schedule.warmup_steps = 0
        c.train.log_every = 1
        c.train.eval_every = 2
        c.train.checkpoint_every = 2
        c.eval.batch_size = 8
        return c
      """))
  out = _run([str(venv / "jaxpose-train"), "--config=my_config.py", "--workdir=run"], tmp_path)
  assert os.path.isdir(tmp_path / "run" / "checkpoints" / "2"), out[-2000:]
  assert "PCKh" in out, out[-2000:]
  out = _run([str(venv / "jaxpose-evaluate"), "--workdir=run", "--split=test"], tmp_path)
  assert "PCKh" in out, out[-2000:]
