"""Where the test suite's CPU goes (issue #41): pytest run with every Python process it starts
instrumented — the xdist workers and each ``train.py`` / ``evaluate.py`` / ``python -m …`` a
test launches — then one table per question: which tests cost the most CPU (their own and their
subprocesses'), how much of it is XLA compiling programs for the first time (a persistent-cache
miss) rather than loading them, and which jitted functions those compilations were.

  python benchmarks/suite_profile.py                       # the full suite (what CI runs)
  python benchmarks/suite_profile.py -m "not slow"         # the fast tier
  python benchmarks/suite_profile.py tests/cli -n 0        # any pytest arguments
  python benchmarks/suite_profile.py --logs=DIR --top=40   # keep the raw logs; longer tables

How: a ``sitecustomize`` module on ``PYTHONPATH`` (every interpreter imports it at start-up;
it hides any other ``sitecustomize`` for the run) writes the process's argv and parent, the
``jax._src.dispatch`` / ``jax._src.compiler`` debug records of each compilation and cache hit,
and its CPU time at exit; a pytest plugin (``-p``, through ``PYTEST_ADDOPTS``, so the xdist
workers load it too) marks where each test starts and ends, with the CPU of the subprocesses it
waited for. A compilation is charged to the test running in its process; a subprocess's CPU and
compilations to the test its parent was running when it started (its start is taken after the
interpreter's own start-up). Processes started with ``PYTHONPATH`` removed (the installed
commands of tests/cli/test_packaging.py) or killed write no CPU figure: the report says how much
CPU that leaves out. Nothing is written into the checkout. Its own options are argparse's, not
absl's: everything else on the command line goes to pytest unchanged. The suite compiles everything afresh (``JAXPOSE_TEST_XLA_CACHE=fresh``, as on a fresh
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
# that folder on PYTHONPATH (and JAXPOSE_SUITE_PROFILE set). The compile records are DEBUG
# records of two jax loggers, kept off the console (propagate=False) so that the output tests
# compare stays as it is; records at WARNING and above still go on to the "jax" logger. One file
# per process (pid and start time: pids are reused); a child forked without exec starts its own.
SITECUSTOMIZE = r"""
import atexit, json, logging, os, resource, sys, time
_DIR = os.environ.get("JAXPOSE_SUITE_PROFILE")
_f = None
def _w(**kw):
  if _f is not None:
    kw["t"] = time.time()
    _f.write(json.dumps(kw) + "\n")
def _open():
  global _f
  _f = open(os.path.join(_DIR, "%d-%d.jsonl" % (os.getpid(), time.time_ns())), "a", buffering=1)
  _w(kind="start", argv=sys.argv, pid=os.getpid(), ppid=os.getppid())
def _cpu(who):
  r = resource.getrusage(who)
  return r.ru_utime + r.ru_stime
class _Compiles(logging.Handler):
  def emit(self, record):
    msg = record.getMessage()
    if msg.startswith(("Finished XLA compilation", "Persistent compilation cache hit")):
      _w(kind="log", msg=msg)
    if record.levelno >= logging.WARNING:
      logging.getLogger("jax").handle(record)
if _DIR:
  _open()
  os.register_at_fork(after_in_child=_open)
  _h = _Compiles(logging.DEBUG)
  for _name in ("jax._src.dispatch", "jax._src.compiler"):
    _lg = logging.getLogger(_name)
    _lg.addHandler(_h)
    _lg.setLevel(logging.DEBUG)
    _lg.propagate = False
  atexit.register(lambda: _w(kind="end", cpu=_cpu(resource.RUSAGE_SELF)))
"""

# Loaded by pytest (-p) in the process that runs the tests (an xdist worker, or pytest itself
# without xdist): the protocol hook runs only where the test runs, never in xdist's controller.
PLUGIN = r"""
import resource
import pytest
from sitecustomize import _w, _cpu
@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
  _w(kind="test", nodeid=item.nodeid, cpu=_cpu(resource.RUSAGE_SELF),
     children=_cpu(resource.RUSAGE_CHILDREN))
  try:
    return (yield)
  finally:
    _w(kind="done", nodeid=item.nodeid, cpu=_cpu(resource.RUSAGE_SELF),
       children=_cpu(resource.RUSAGE_CHILDREN))
"""

_FINISHED = re.compile(r"Finished XLA compilation of (.*) in ([0-9.eE+-]+) sec")


def read_logs(folder: str) -> dict:
  """{file name: [records]} of every process that wrote a log into ``folder`` (a line cut
  short by a killed process is skipped)."""
  procs = {}
  for name in os.listdir(folder):
    if name.endswith(".jsonl"):
      recs = []
      with open(os.path.join(folder, name)) as f:
        for line in f:
          try:
            recs.append(json.loads(line))
          except ValueError:
            continue
      if recs and recs[0].get("kind") == "start":
        procs[name[:-6]] = recs
  return procs


def analyse(procs: dict) -> dict:
  """Per test: its own CPU, its logged subprocesses' CPU, the CPU of subprocesses it waited for
  that wrote no log (started without the hook, or killed), cold compilations (count, seconds);
  per jitted function: cold compilations; totals. Module and session fixtures are charged to
  the test that first (or last) uses them. A compilation is cold unless the record just before
  it in the same process is a persistent-cache hit."""
  tests = collections.defaultdict(lambda: {"cpu": 0.0, "sub_cpu": 0.0, "children": 0.0,
                                           "compile_s": 0.0, "compiles": 0, "subprocesses": 0})
  functions = collections.defaultdict(lambda: [0, 0.0])
  totals = {"processes": len(procs), "unended": 0, "cpu": 0.0, "compile_s": 0.0, "compiles": 0,
            "loads_s": 0.0, "loads": 0, "sub_cpu": 0.0, "unlogged_cpu": 0.0}
  spans = collections.defaultdict(list)  # process -> [(start, end, nodeid)] of the tests it ran
  for key, recs in procs.items():
    open_ = {}
    for r in recs:
      if r["kind"] == "test":
        open_[r["nodeid"]] = r
      elif r["kind"] == "done" and r["nodeid"] in open_:
        s = open_.pop(r["nodeid"])
        spans[key].append((s["t"], r["t"], r["nodeid"]))
        tests[r["nodeid"]]["cpu"] += r["cpu"] - s["cpu"]
        tests[r["nodeid"]]["children"] += r["children"] - s["children"]
  by_pid = collections.defaultdict(list)  # pid -> [(start time, process)], pids being reused
  for key, recs in procs.items():
    by_pid[recs[0].get("pid")].append((recs[0]["t"], key))

  def process(pid, t):
    """The process with ``pid`` that was running at time ``t``: the last one started before."""
    started = [(t0, key) for t0, key in by_pid.get(pid, ()) if t0 <= t]
    return max(started)[1] if started else None

  def owner(key, t, depth=0):
    """The test that process ``key`` ran at ``t``; for a process that runs no tests (a command
    a test started), the test its parent was running when it started."""
    if key in spans:
      return next((nodeid for start, end, nodeid in spans[key] if start <= t <= end), None)
    recs = procs.get(key)
    if not recs or depth > 8:
      return None
    return owner(process(recs[0].get("ppid"), recs[0]["t"]), recs[0]["t"], depth + 1)

  for key, recs in procs.items():
    ended = [r for r in recs if r["kind"] == "end"]
    totals["unended"] += not ended
    cpu = ended[-1]["cpu"] if ended else 0.0
    totals["cpu"] += cpu
    if key not in spans:
      who = owner(key, recs[0]["t"])
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
        who = owner(key, r["t"])
        if who:
          tests[who]["compiles"] += 1
          tests[who]["compile_s"] += seconds
      hit = False
  for r in tests.values():
    totals["unlogged_cpu"] += max(0.0, r["children"] - r["sub_cpu"])
  return {"tests": dict(tests), "functions": dict(functions), "totals": totals}


def report(result: dict, wall: float, top: int) -> str:
  t = result["totals"]
  lines = [f"wall {wall:.0f} s; CPU of all {t['processes']} processes {t['cpu']:.0f} s "
           f"(subprocesses of tests {t['sub_cpu']:.0f} s)",
           f"XLA compilations (persistent-cache misses): {t['compiles']} taking "
           f"{t['compile_s']:.0f} s = {100 * t['compile_s'] / max(t['cpu'], 1e-9):.0f} % of the "
           f"CPU; cache loads: {t['loads']} taking {t['loads_s']:.0f} s",
           f"not in these figures: {t['unlogged_cpu']:.0f} CPU s of subprocesses that wrote no log "
           f"(started without PYTHONPATH, or killed); {t['unended']} processes never reached exit",
           "", f"{'CPU s':>7} {'own':>6} {'subpr':>6} {'#sub':>4} {'compile s':>9} {'#':>4}  test"]
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
  """Options of its own (argparse: the rest of the command line goes to pytest as it is)."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
  parser.add_argument("--logs", help="keep the raw logs in this new or empty folder")
  parser.add_argument("--top", type=int, default=25, help="rows per table")
  args, pytest_args = parser.parse_known_args(argv)
  if args.logs and os.path.isdir(args.logs) and os.listdir(args.logs):
    parser.error(f"--logs={args.logs} is not empty (the logs of another run?)")
  tmp = tempfile.mkdtemp(prefix="jaxpose_suite_profile_")
  try:
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
    rc = subprocess.call([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                          *pytest_args], cwd=ROOT, env=env)
    wall = time.time() - start
    print(report(analyse(read_logs(logs)), wall, args.top))
    return rc
  finally:
    shutil.rmtree(tmp, ignore_errors=True)  # the hooks, and the logs unless --logs kept them


if __name__ == "__main__":
  sys.exit(main())
