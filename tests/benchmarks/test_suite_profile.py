"""benchmarks/suite_profile.py (issue #41): compilations and subprocesses are charged to the test
that caused them, cache loads are told apart from compilations, and the script profiles a real
pytest run end to end."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import suite_profile  # noqa: E402


def _log(msg, t):
  return {"kind": "log", "msg": msg, "t": t}


def test_compilations_and_subprocesses_are_charged_to_their_test():
  worker = [
      {"kind": "start", "argv": ["-c"], "pid": 100, "ppid": 1, "t": 0.0},
      _log("Finished XLA compilation of jit(_normal) in 0.5 sec", 0.5),  # before any test
      {"kind": "test", "nodeid": "a.py::one", "cpu": 1.0, "children": 0.0, "t": 1.0},
      _log("Finished XLA compilation of jit(step) in 2.5 sec", 2.0),
      _log("Persistent compilation cache hit for 'jit_step' with key 'x'", 3.0),
      _log("Finished XLA compilation of jit(step) in 0.25 sec", 3.0),
      {"kind": "done", "nodeid": "a.py::one", "cpu": 6.0, "children": 0.0, "t": 4.0},
      {"kind": "test", "nodeid": "a.py::two", "cpu": 6.0, "children": 0.0, "t": 5.0},
      {"kind": "done", "nodeid": "a.py::two", "cpu": 7.0, "children": 12.0, "t": 9.0},
      {"kind": "end", "cpu": 8.0, "t": 10.0}]
  child = [  # started by the worker during a.py::two: its CPU and compilations are two's
      {"kind": "start", "argv": ["train.py"], "pid": 200, "ppid": 100, "t": 6.0},
      _log("Finished XLA compilation of jit(final) in 1.5 sec", 7.0),
      {"kind": "end", "cpu": 9.0, "t": 8.0}]
  reused = [  # pid 100 again, long after the worker: not the child's parent
      {"kind": "start", "argv": ["other"], "pid": 100, "ppid": 1, "t": 50.0}]
  result = suite_profile.analyse({"100-0": worker, "200-6": child, "100-50": reused})
  one, two = result["tests"]["a.py::one"], result["tests"]["a.py::two"]
  assert one == {"cpu": 5.0, "sub_cpu": 0.0, "children": 0.0, "compile_s": 2.5, "compiles": 1,
                 "subprocesses": 0}
  assert two == {"cpu": 1.0, "sub_cpu": 9.0, "children": 12.0, "compile_s": 1.5, "compiles": 1,
                 "subprocesses": 1}
  assert result["functions"] == {"jit(_normal)": [1, 0.5], "jit(step)": [1, 2.5],
                                 "jit(final)": [1, 1.5]}
  t = result["totals"]
  assert (t["processes"], t["unended"], t["cpu"], t["sub_cpu"]) == (3, 1, 17.0, 9.0)
  assert (t["compiles"], t["compile_s"], t["loads"], t["loads_s"]) == (3, 4.5, 1, 0.25)
  assert t["unlogged_cpu"] == 3.0  # two waited for 12 CPU s of children, 9 of them logged
  text = suite_profile.report(result, 12.0, top=5).splitlines()
  assert text[0] == "wall 12 s; CPU of all 3 processes 17 s (subprocesses of tests 9 s)"
  assert text[2].startswith("not in these figures: 3 CPU s") and "1 processes" in text[2]
  assert "   10.0    1.0    9.0    1       1.5    1  a.py::two" in text


def test_logs_cut_short_are_read_up_to_the_damage(tmp_path):
  (tmp_path / "7-1.jsonl").write_text('{"kind": "start", "argv": [], "pid": 7, "ppid": 1, '
                                      '"t": 1.0}\n{"kind": "end", "cp')
  (tmp_path / "notes.txt").write_text("not a log")
  assert suite_profile.read_logs(str(tmp_path)) == {
      "7-1": [{"kind": "start", "argv": [], "pid": 7, "ppid": 1, "t": 1.0}]}


@pytest.mark.slow
def test_profiles_a_pytest_run_with_a_subprocess(tmp_path):
  (tmp_path / "test_probe.py").write_text(textwrap.dedent("""
      import subprocess, sys
      import jax

      def test_jit_and_a_child():
        def suite_profile_probe(x):
          return x * 3
        assert float(jax.jit(suite_profile_probe)(2.0)) == 6.0
        code = "import jax\\ndef child_probe(x): return x + 1\\nprint(jax.jit(child_probe)(1.0))"
        subprocess.run([sys.executable, "-c", code], check=True)
      """))
  # no persistent cache (every compilation cold), none of the caller's pytest options
  env = {k: v for k, v in os.environ.items()
         if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE", "PYTEST_ADDOPTS"))}
  p = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "suite_profile.py"),
                      str(tmp_path / "test_probe.py"), "-q", "-p", "no:xdist"],
                     cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600)
  assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
  row = re.findall(r"^ *[\d.]+ +[\d.]+ +([\d.]+) +(\d+) +[\d.]+ +(\d+)  \S*"
                   r"test_probe\.py::test_jit_and_a_child$", p.stdout, re.M)
  assert len(row) == 1, p.stdout[-3000:]
  sub_cpu, nsub, ncomp = row[0]
  assert int(nsub) == 1 and float(sub_cpu) > 0 and int(ncomp) >= 2
  assert "jit(suite_profile_probe)" in p.stdout and "jit(child_probe)" in p.stdout
  assert "1 processes never reached exit" not in p.stdout


def test_refuses_a_log_folder_in_use(tmp_path, capsys):
  (tmp_path / "old.jsonl").write_text("{}")
  with pytest.raises(SystemExit):
    suite_profile.main([f"--logs={tmp_path}", "tests/test_skeleton.py"])
  assert "is not empty" in capsys.readouterr().err
