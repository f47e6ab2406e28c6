"""One command-line style (issue #40): every tool is absl flags, and every one answers a bad or
missing input with one line ``error: …`` on stderr, no traceback, a non-zero exit status.

train.py and evaluate.py define their flags on absl's global ``FLAGS``; the ``python -m`` tools
(predict, export, visualize, grouping) on a ``FlagValues`` of their own (``flag_values()``), so
that importing them together, or with train / evaluate, defines nothing twice."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT, cli_env

OWN_FLAGS = ("jaxpose.predict", "jaxpose.export", "jaxpose.visualize.cli", "jaxpose.grouping.cli")


def _imports(path: str):
  for node in ast.walk(ast.parse(open(path).read(), path)):
    if isinstance(node, ast.Import):
      yield from (a.name for a in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      yield node.module


def test_no_module_imports_argparse():
  found = []
  for folder, _, files in os.walk(os.path.join(ROOT, "jaxpose")):
    for f in files:
      if f.endswith(".py"):
        path = os.path.join(folder, f)
        if any(m.split(".")[0] == "argparse" for m in _imports(path)):
          found.append(os.path.relpath(path, ROOT))
  assert not found, f"argparse imported by {found}: the CLIs are absl flags (runtime.parse_flags)"


# (arguments, what the one line says): an unknown flag, then a missing input, per tool
BAD = [
    (["-m", "jaxpose.train", "--nosuch=1"], "Unknown command line flag 'nosuch'"),
    (["-m", "jaxpose.train", "--config=/nowhere/my_config.py"], "no such file"),
    (["-m", "jaxpose.evaluate", "--nosuch"], "Unknown command line flag 'nosuch'"),
    (["-m", "jaxpose.evaluate"], "give --workdir=DIR"),
    (["-m", "jaxpose.predict", "photo.jpg", "--nosuch"], "Unknown command line flag 'nosuch'"),
    (["-m", "jaxpose.predict"], "give one or more images or folders"),
    (["-m", "jaxpose.export", "--workdir=runs/x", "--nosuch"], "Unknown command line flag"),
    (["-m", "jaxpose.export", "--platforms=cpu"], "give --workdir=DIR or --pretrained=NAME"),
    (["-m", "jaxpose.visualize", "overlay", "--workdir=runs/x", "--nosuch"],
     "Unknown command line flag 'nosuch'"),
    (["-m", "jaxpose.visualize", "overlay"], "overlay needs --workdir=DIR"),
    (["-m", "jaxpose.visualize", "--workdir=runs/x"], "give a command first"),
    (["-m", "jaxpose.grouping", "--nosuch"], "Unknown command line flag 'nosuch'"),
    (["-m", "jaxpose.grouping", "--dataset=lsp", "--data_root=/nowhere/lsp"],
     "data folder not found: /nowhere/lsp"),
]


@pytest.mark.slow
@pytest.mark.parametrize("args, says", BAD, ids=[" ".join(a[1:]) for a, _ in BAD])
def test_a_bad_or_missing_input_is_one_line(args, says, tmp_path):
  p = subprocess.run([sys.executable, *args], cwd=ROOT, env=cli_env(), capture_output=True,
                     text=True, timeout=300)
  lines = p.stderr.strip().splitlines()
  assert p.returncode == 2 and len(lines) == 1, p.stderr[-3000:]
  assert lines[0].startswith("error: ") and says in lines[0], lines[0]


def _import_together(*modules):
  code = textwrap.dedent(f"""
      import importlib
      from absl import flags
      for m in {list(modules)!r}:
        importlib.import_module(m)
      # the python -m tools define nothing on the global flags
      mine = {{"boxes", "saved_model", "miller_madow", "stacks", "num_images", "threshold"}}
      assert not mine & set(flags.FLAGS), sorted(mine & set(flags.FLAGS))
      from jaxpose import export, predict
      from jaxpose.grouping import cli as grouping
      from jaxpose.visualize import cli as visualize
      for make in (predict.flag_values, export.flag_values, grouping.flag_values):
        assert "workdir" in make() or "dataset" in make()
      for command in visualize.COMMANDS:
        assert "workdir" in visualize.flag_values(command)
      print("ok")
      """)
  return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=cli_env(),
                        capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("absl_tool", ["jaxpose.train", "jaxpose.evaluate"])
def test_the_tools_import_together(absl_tool):
  p = _import_together(*OWN_FLAGS, absl_tool)
  assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-3000:]


@pytest.mark.slow
def test_train_and_evaluate_import_together():
  """Both define --workdir on absl's global FLAGS, but only when their command runs (``run``):
  importing them (and every other tool) in one process defines no flag."""
  p = _import_together(*OWN_FLAGS, "jaxpose.train", "jaxpose.evaluate")
  assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-3000:]
  from absl import flags
  import jaxpose.evaluate  # noqa: F401
  import jaxpose.train  # noqa: F401
  assert "workdir" not in flags.FLAGS and "config" not in flags.FLAGS


# ---- in process: the parsing itself ------------------------------------------------------------

def test_booleans_are_absl_and_the_argparse_spelling_still_reads():
  from jaxpose import export, runtime
  for argv, want in ((["--workdir=w"], (False, True)), (["--workdir=w", "--flip"], (True, True)),
                     (["--workdir=w", "--noflip", "--nosaved_model"], (False, False)),
                     (["--workdir=w", "--no-saved_model", "--flip=true"], (True, False))):
    args, rest = runtime.parse_flags(export.flag_values(), argv, "u")
    assert (args.flip, args.saved_model, rest) == (*want, []), argv


def test_flags_take_a_separate_value_and_positionals_anywhere():
  from jaxpose import predict
  args = predict._args(["a.png", "--workdir", "runs/x", "b.png", "--box=1,2,3,4", "--noflip"])
  assert args.inputs == ["a.png", "b.png"] and args.workdir == "runs/x"
  assert args.box == [1.0, 2.0, 3.0, 4.0] and args.flip is False


@pytest.mark.parametrize("argv, says", [
    (["a.png", "--box=1,2,3"], "flag --box=1,2,3: expected x1,y1,x2,y2, got '1,2,3'"),
    (["a.png", "--box=1,2,3,4", "--boxes=b.json"], "give --box or --boxes, not both"),
    (["a.png", "--workdir=w", "--pretrained=lsp"], "give --workdir or --pretrained, not both"),
    (["a.png", "--batch_size=0"], "flag --batch_size=0: 0 is not a positive integer"),
    (["a.png", "--which=newest"], "flag --which=newest: value should be one of <latest|best>"),
])
def test_predict_refuses_in_one_line(argv, says, capsys):
  from jaxpose import predict
  with pytest.raises(SystemExit) as info:
    predict.main(argv)
  assert info.value.code == 2
  assert capsys.readouterr().err.strip().splitlines() == [f"error: {says}"]


@pytest.mark.parametrize("argv, says", [
    (["overlay", "--workdir=w", "--layer=2"], "--layer is a flag of backtrack, not of overlay"),
    (["filters", "--workdir=w", "--noflip"], "--noflip is a flag of overlay, not of filters"),
    (["heatmaps", "--workdir=w", "--out=x.png"],
     "--out is a flag of backtrack and filters, not of heatmaps"),
    (["heatmaps", "--workdir=w"], "heatmaps draws one person: give --image=PATH or --index=N"),
    (["backtrack", "--workdir=w", "--tile=4"], "flag --tile=4: 4 is not integer >= 8"),
    (["overlay", "extra", "--workdir=w"], "unexpected argument 'extra'"),
    (["draw", "--workdir=w"], "give a command first: overlay | heatmaps | backtrack | filters "
                              "(got 'draw')"),
])
def test_visualize_takes_its_command_first_and_only_its_flags(argv, says, capsys):
  from jaxpose.visualize import cli
  with pytest.raises(SystemExit) as info:
    cli.main(argv)
  assert info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith(f"error: {says}"), err


def test_help_shows_the_usage_and_the_flags(capsys):
  from jaxpose import predict
  from jaxpose.grouping import cli as grouping
  from jaxpose.visualize import cli as visualize
  for main, argv, want in ((predict.main, ["--help"], "usage: python -m jaxpose.predict"),
                           (grouping.main, ["-h"], "--[no]miller_madow:"),
                           (visualize.main, ["--help"], "  backtrack: HMLPE"),
                           (visualize.main, ["filters", "--help"], "  --out: Alias for --output.")):
    with pytest.raises(SystemExit) as info:
      main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert want in out, out
