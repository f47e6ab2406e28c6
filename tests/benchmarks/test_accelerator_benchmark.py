"""benchmarks/accelerator.py --smoke on this CPU (issue #37), in a subprocess in which
tensorflow, tensorflow_datasets and ml_collections cannot be imported (the lent GPU machines have
none of them): both output files, their rows and fields. The torch contenders run where torch is
installed and are checked then; without torch the rows hold jaxpose alone."""
import pytest
import importlib.util
import json
import os
import subprocess
import sys

from tests.conftest import ROOT

BLOCK = ("import runpy, sys\n"
         "for m in ('tensorflow', 'tensorflow_datasets', 'ml_collections'):\n"
         "  sys.modules[m] = None\n"
         "sys.argv = [sys.argv[0]] + sys.argv[1:]\n"
         "runpy.run_path({script!r}, run_name='__main__')\n")
FIELDS = {"name", "ms_per_step", "images_per_s", "gflop_per_step", "tflop_per_s", "mfu",
          "peak_mib", "setup_s"}


@pytest.mark.slow
def test_smoke_writes_the_table(tmp_path):
  script = os.path.join(ROOT, "benchmarks", "accelerator.py")
  out = tmp_path / "acc"
  proc = subprocess.run(
      [sys.executable, "-c", BLOCK.format(script=script), "--smoke", f"--out={out}",
       "--steps=1", "--warmup=0", "--reps=1", "--per_core_images_s=50"],
      capture_output=True, text=True, timeout=900, cwd=ROOT)
  assert proc.returncode == 0, proc.stderr[-3000:]
  report = json.loads((out / "accelerator.json").read_text())
  text = (out / "accelerator.md").read_text()
  have_torch = importlib.util.find_spec("torch") is not None
  assert report["smoke"] and report["env"]["backend"] == "cpu"
  assert set(report["peaks"]) >= {"jnp bf16", "jnp fp32"} and all(
      v > 0 for v in report["peaks"].values())
  assert [r["row"] for r in report["rows"]] == ["train 1-stack bf16", "infer 1-stack fp32 b1"]
  train, infer = report["rows"]
  names = [c["name"] for c in train["contenders"]]
  # on a CPU auto is the cpu forms, so the second jaxpose run is the xla forms
  assert names[:2] == ["jaxpose auto", "jaxpose xla forms"]
  assert ("torch bf16 autocast ch_last" in names) == have_torch
  assert bool(train["ratios"]) == have_torch
  for row in report["rows"]:
    assert not row["skipped"]
    for c in row["contenders"]:
      assert FIELDS <= set(c)
      assert c["ms_per_step"] > 0 and c["gflop_per_step"] > 0 and 0 < c["mfu"]
      assert abs(c["images_per_s"] - row["batch"] * 1e3 / c["ms_per_step"]) < 1e-6 * c[
          "images_per_s"]
      assert c["name"] in text
  # both forms compute the same first step from the same parameters and batch
  first = [c["first_loss_or_mean"] for c in train["contenders"] if c["name"].startswith("jax")]
  assert abs(first[0] - first[1]) <= 0.05 * abs(first[0])
  cores = report["host_cores"]
  assert cores["per_core_images_per_s"] == 50
  best = max(c["images_per_s"] for c in train["contenders"] if c["name"].startswith("jax"))
  assert cores["cores"] == -(-best // 50)
  assert "host cores for the input pipeline" in text
