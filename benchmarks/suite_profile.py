"""Where the test suite's CPU goes (issue #41): pytest run with every Python process it starts
instrumented — the xdist workers and each ``train.py`` / ``evaluate.py`` / ``python -m …`` a
test launches — then one table per question: which tests cost the most CPU (their own and their
subprocesses'), how much of it is XLA compiling programs for the first time (a persistent-cache
miss) rather than loading them, and which jitted functions those compilations were.

  python benchmarks/suite_profile.py                       # the full suite (what CI runs)
  python benchmarks/suite_profile.py -m "not slow"         # the fast tier
  python benchmarks/suite_profile.py tests/cli -n 0        # any pytest arguments
  python benchmarks/suite_profile.py --logs=DIR --top=40   # keep the raw logs; longer tables

How: a ``sitecustomize`` module on ``PYTHONPATH`` (every interpreter imports it at start-up)
writes the process's argv and parent, the ``jax._src.dispatch`` / ``jax._src.compiler`` debug
records of each compilation and cache hit, and its CPU time at exit; a pytest plugin (``-p``,
through ``PYTEST_ADDOPTS``, so the xdist workers load it too) marks where each test starts and
ends. A compilation is charged to the test running in its process; a subprocess's CPU and
compilations to the test its parent was running when it started. Nothing is written into the
checkout. The suite compiles everything afresh (``JAXPOSE_TEST_XLA_CACHE=fresh``, as on a fresh
clone) unless ``JAXPOSE_TEST_XLA_CACHE`` is set: ``""`` profiles a run from the kept cache of
tests/conftest.py. The instrumentation's own cost is one log line per event.
"""
import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Written into the temporary folder at run time: imported by every Python process started with
# that folder on PYTHONPATH. Logging below DEBUG never reaches the console (propagate=False), so
# the output tests compare stays as it is.
SITECUSTOMIZE = r'''
import atexit, json, logging, os, resource, sys, time
_DIR = os.environ["JAXPOSE_SUITE_PROFILE"]
_f = open(os.path.join(_DIR, "%d.jsonl" % os.getpid()), "a", buffering=1)
def _w(**kw):
  kw["t"] = time.time()
  _f.write(json.dumps(kw) + "\n")
_w(kind="start", argv=sys.argv, ppid=os.getppid())
class _Compiles(logging.Handler):
  def emit(self, record):
    msg = record.getMessage()
    if msg.startswith(("Finished XLA compilation", "Persistent compilation cache hit")):
      _w(kind="log", msg=msg)
_h = _Compiles(logging.DEBUG)
for _name in ("jax._src.dispatch", "jax._src.compiler"):
  _lg = logging.getLogger(_name)
  _lg.addHandler(_h)
  _lg.setLevel(logging.DEBUG)
  _lg.propagate = False
def _cpu(who):
  r = resource.getrusage(who)
  return r.ru_utime + r.ru_stime
def _end():
  _w(kind="end", cpu=_cpu(resource.RUSAGE_SELF))
atexit.register(_end)
'''

PLUGIN = r'''
import os, resource
from sitecustomize import _w
def _cpu(who):
  r = resource.getrusage(who)
  return r.ru_utime + r.ru_stime
def pytest_runtest_logstart(nodeid, location):
  _w(kind="test", nodeid=nodeid, cpu=_cpu(resource.RUSAGE_SELF), children=_cpu(resource.RUSAGE_CHILDREN))
def pytest_runtest_logfinish(nodeid, location):
  _w(kind="done", nodeid=nodeid, cpu=_cpu(resource.RUSAGE_SELF), children=_cpu(resource.RUSAGE_CHILDREN))
'''

_FINISHED = re.compile(r"Finished XLA compilation of (.*) in ([0-9.eE+-]+) sec")


def read_logs(folder: str) -> dict:
  """{pid: [records]} of every process that wrote a log into ``folder``."""
  procs = {}
  for name in os.listdir(folder):
    if name.endswith(".jsonl"):
      with open(os.path.join(folder, name)) as f:
        procs[int(name[:-6])] = [json.loads(line) for line in f if line.strip()]
  return procs


def analyse(procs: dict) -> dict:
  """Per test: its own CPU, its subprocesses' CPU, cold compilations (count, seconds); per
  jitted function: cold compilations; totals. Compilations are cold unless the record just
  before them in the same process is a persistent-cache hit."""
  tests = collections.defaultdict(lambda: {"cpu": 0.0, "sub_cpu": 0.0, "compile_s": 0.0,
                                           "compiles": 0, "subprocesses": 0})
  functions = collections.defaultdict(lambda: [0, 0.0])
  totals = {"processes": len(procs), "cpu": 0.0, "compile_s": 0.0, "compiles": 0,
            "loads_s": 0.0, "loads": 0, "sub_cpu": 0.0}
  # which test each process was running at each moment: [(start, end, nodeid)]
  spans = collections.defaultdict(list)
  for pid, recs in procs.items():
    open_ = {}
    for r in recs:
      if r["kind"] == "test":
        open_[r["nodeid"]] = r
      elif r["kind"] == "done" and r["nodeid"] in open_:
        s = open_.pop(r["nodeid"])
        spans[pid].append((s["t"], r["t"], r["nodeid"]))
        tests[r["nodeid"]]["cpu"] += r["cpu"] - s["cpu"]

  def owner(pid, t, depth=0):
    for start, end, nodeid in spans.get(pid, ()):
      if start <= t <= end:
        return nodeid
    recs = procs.get(pid)
    if recs and depth < 8:  # a subprocess: whatever its parent was running when it started
      return owner(recs[0].get("ppid"), recs[0]["t"], depth + 1)
    return None

  for pid, recs in procs.items():
    ended = [r for r in recs if r["kind"] == "end"]
    cpu = ended[-1]["cpu"] if ended else 0.0
    totals["cpu"] += cpu
    is_worker = pid in spans
    if not is_worker and recs:
      who = owner(recs[0].get("ppid"), recs[0]["t"])
      if who:
        tests[who]["sub_cpu"] += cpu
        tests[who]["subprocesses"] += 1
        totals["sub_cpu"] += cpu
    hit = False
    for r in recs:
      if r["kind"] != "log":
        continue
      if r["msg"].startswith("Persistent compilation cache hit"):
        hit = True
        continue
      m = _FINISHED.match(r["msg"])
      if not m:
        continue
      seconds = float(m.group(2))
      if hit:
        totals["loads"] += 1
        totals["loads_s"] += seconds
      else:
        totals["compiles"] += 1
        totals["compile_s"] += seconds
        functions[m.group(1)][0] += 1
        functions[m.group(1)][1] += seconds
        who = owner(pid, r["t"])
        if who:
          tests[who]["compiles"] += 1
          tests[who]["compile_s"] += seconds
      hit = False
  return {"tests": dict(tests), "functions": dict(functions), "totals": totals}


def report(result: dict, wall: float, top: int) -> str:
  t = result["totals"]
  lines = [f"wall {wall:.0f} s; CPU of all {t['processes']} processes {t['cpu']:.0f} s "
           f"(subprocesses of tests {t['sub_cpu']:.0f} s)",
           f"XLA compilations (persistent-cache misses): {t['compiles']} taking {t['compile_s']:.0f} s"
           f" = {100 * t['compile_s'] / max(t['cpu'], 1e-9):.0f} % of the CPU; "
           f"cache loads: {t['loads']} taking {t['loads_s']:.0f} s", "",
           f"{'CPU s':>7} {'own':>6} {'subpr':>6} {'#sub':>4} {'compile s':>9} {'#':>4}  test"]
  rows = sorted(result["tests"].items(), key=lambda kv: -(kv[1]["cpu"] + kv[1]["sub_cpu"]))
  for nodeid, r in rows[:top]:
    lines.append(f"{r['cpu'] + r['sub_cpu']:7.1f} {r['cpu']:6.1f} {r['sub_cpu']:6.1f} "
                 f"{r['subprocesses']:4d} {r['compile_s']:9.1f} {r['compiles']:4d}  {nodeid}")
  files = collections.defaultdict(lambda: [0.0, 0.0])
  for nodeid, r in result["tests"].items():
    f = files[nodeid.split("::")[0]]
    f[0] += r["cpu"] + r["sub_cpu"]
    f[1] += r["compile_s"]
  lines += ["", f"{'CPU s':>7} {'compile s':>9}  file"]
  for name, (cpu, comp) in sorted(files.items(), key=lambda kv: -kv[1][0])[:top]:
    lines.append(f"{cpu:7.1f} {comp:9.1f}  {name}")
  lines += ["", f"{'compile s':>9} {'#':>5}  jitted function (cold compilations)"]
  for name, (n, s) in sorted(result["functions"].items(), key=lambda kv: -kv[1][1])[:top]:
    lines.append(f"{s:9.1f} {n:5d}  {name}")
  return "\n".join(lines)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--logs", help="keep the raw logs in this folder (default: a temporary one)")
  parser.add_argument("--top", type=int, default=25, help="rows per table")
  args, pytest_args = parser.parse_known_args(argv)
  tmp = tempfile.mkdtemp(prefix="jaxpose_suite_profile_")
  logs = args.logs or os.path.join(tmp, "logs")
  os.makedirs(logs, exist_ok=True)
  with open(os.path.join(tmp, "sitecustomize.py"), "w") as f:
    f.write(SITECUSTOMIZE)
  with open(os.path.join(tmp, "jaxpose_suite_profile_plugin.py"), "w") as f:
    f.write(PLUGIN)
  env = dict(os.environ, JAXPOSE_SUITE_PROFILE=logs,
             JAXPOSE_TEST_XLA_CACHE=os.environ.get("JAXPOSE_TEST_XLA_CACHE", "fresh"),
             PYTHONPATH=os.pathsep.join(p for p in (tmp, os.environ.get("PYTHONPATH")) if p),
             PYTEST_ADDOPTS=" ".join(p for p in ("-p jaxpose_suite_profile_plugin",
                                                 os.environ.get("PYTEST_ADDOPTS")) if p))
  start = time.time()
  rc = subprocess.call([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *pytest_args],
                       cwd=ROOT, env=env)
  wall = time.time() - start
  print(report(analyse(read_logs(logs)), wall, args.top))
  shutil.rmtree(tmp, ignore_errors=True)  # the hooks, and the logs unless --logs kept them
  return rc


if __name__ == "__main__":
  sys.exit(main())
