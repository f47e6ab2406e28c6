"""jaxpose.evaluation.compare: the side-by-side table of several runs' evaluation files."""
import json
import os
import subprocess
import sys

import pytest

from jaxpose.evaluation import compare
from conftest import ROOT



def write_run(tmp_path, name, total, step=100, split="test", extra=None):
  doc = {"step": step, "config": "c", "dataset": "lsp", "split": split,
         "metrics": {"PCK@0.2": {"Head": 90.0, "Wrist": None, "Total": total},
                     "PCP@0.5": {"Torso": 80.0, "Total": total - 10}}}
  doc["metrics"].update(extra or {})
  path = tmp_path / name / "eval" / f"lsp_{split}.json"
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(doc))
  return str(tmp_path / name)


def test_table_rows_columns_and_missing_values(tmp_path):
  a = write_run(tmp_path, "a", 50.0)
  b = write_run(tmp_path, "b", 61.25, step=200, extra={"AUC": {"Total": 40.0}})
  runs = [(os.path.basename(p), compare.load(compare.find_eval_file(p))) for p in (a, b)]
  lines = compare.table(runs, compare.parse_metrics("PCK@0.2,PCP@0.5:Total,AUC")).splitlines()
  assert lines[0] == ("| run | step | PCK@0.2 Head | PCK@0.2 Wrist | PCK@0.2 Total | "
                      "PCP@0.5 Total | AUC Total |")
  assert lines[2] == "| a | 100 | 90.0 | – | 50.0 | 40.0 | – |"      # null and absent: –
  assert lines[3] == "| b | 200 | 90.0 | – | 61.2 | 51.2 | 40.0 |"


def test_single_metric_names_it_once_above_the_table(tmp_path):
  runs = [("a", compare.load(compare.find_eval_file(write_run(tmp_path, "a", 50.0))))]
  out = compare.table(runs, compare.parse_metrics("PCK@0.2:Head+Total")).splitlines()
  assert out[0] == "PCK@0.2:"
  assert out[1] == "| run | step | Head | Total |"
  assert out[3] == "| a | 100 | 90.0 | 50.0 |"


def test_default_is_every_metric_of_the_first_file(tmp_path):
  runs = [("a", compare.load(compare.find_eval_file(write_run(tmp_path, "a", 50.0))))]
  header = compare.table(runs).splitlines()[0]
  assert header.count("PCK@0.2") == 3 and header.count("PCP@0.5") == 2


def test_errors_name_the_run_and_the_choice(tmp_path):
  with pytest.raises(compare.CompareError, match="no such workdir"):
    compare.find_eval_file(str(tmp_path / "nope"))
  empty = tmp_path / "empty"
  empty.mkdir()
  with pytest.raises(compare.CompareError, match="empty: no evaluation file"):
    compare.find_eval_file(str(empty))
  two = write_run(tmp_path, "two", 50.0)
  write_run(tmp_path, "two", 50.0, split="train")
  with pytest.raises(compare.CompareError, match="several evaluation files"):
    compare.find_eval_file(two)
  assert compare.find_eval_file(two, split="train").endswith("lsp_train.json")
  bad = tmp_path / "bad.json"
  bad.write_text("{not json")
  with pytest.raises(compare.CompareError, match="bad.json: not a JSON"):
    compare.load(str(bad))
  bad.write_text('{"step": 1}')
  with pytest.raises(compare.CompareError, match="no 'metrics'"):
    compare.load(str(bad))
  runs = [("a", compare.load(compare.find_eval_file(write_run(tmp_path, "a", 50.0))))]
  with pytest.raises(compare.CompareError, match="'PCKh@0.5' is in none.*PCK@0.2"):
    compare.table(runs, [("PCKh@0.5", None)])


def test_cli_prints_the_table_and_fails_clearly(tmp_path):
  a = write_run(tmp_path, "a", 50.0)
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  p = subprocess.run([sys.executable, "-m", "jaxpose.evaluation.compare", a,
                      "--metrics=PCK@0.2:Total"], cwd=ROOT, env=env, capture_output=True,
                     text=True, timeout=120)
  assert p.returncode == 0, p.stderr
  assert "| a | 100 | 50.0 |" in p.stdout
  p = subprocess.run([sys.executable, "-m", "jaxpose.evaluation.compare", str(tmp_path / "x")],
                     cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
  assert p.returncode == 2 and "no such workdir" in p.stderr
