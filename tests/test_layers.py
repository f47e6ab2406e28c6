"""Imports run one way (docs/DESIGN.md, "Layers"): every ``import jaxpose.X`` in the package,
at module level or inside a function, goes to X's own package or to one this table allows."""
import ast
import os

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "jaxpose")

# package -> the jaxpose packages it may import (besides itself). Bottom first.
ALLOWED = {
    "formats": set(),
    "skeleton": set(),
    "runtime": set(),
    "errors": {"formats"},
    "codecs": set(),
    "crops": {"codecs", "errors", "formats"},
    "models": set(),
    "losses": set(),
    "evaluation": {"formats", "skeleton"},
    "data": {"codecs", "errors", "formats", "skeleton"},
    "checkpoint": {"errors"},
    "zoo": {"checkpoint", "errors"},
    "grouping": {"data", "errors", "runtime", "skeleton"},  # runtime: cli.py parses its flags
    "families": {"codecs", "data", "errors", "losses", "models", "skeleton"},
    "config_check": {"data", "errors", "evaluation", "families", "models"},
    "inference": {"checkpoint", "codecs", "crops", "data", "errors", "evaluation", "families",
                  "models", "zoo"},
    "training": {"checkpoint", "codecs", "config_check", "data", "errors", "families", "grouping",
                 "inference", "models"},
    "visualize": {"codecs", "data", "errors", "inference", "models", "runtime", "skeleton"},
    # the command-line tools at the top
    "predict": {"codecs", "crops", "data", "errors", "families", "inference", "runtime",
                "skeleton", "visualize"},
    "export": {"codecs", "crops", "data", "errors", "families", "inference", "runtime",
               "skeleton", "zoo"},
    # the recipes (data, not code: they may name anything below the tools) and the two absl tools
    "configs": {"errors", "grouping", "inference"},
    "train": {"configs", "errors", "evaluation", "inference", "runtime", "training"},
    "evaluate": {"checkpoint", "codecs", "config_check", "configs", "data", "errors",
                 "evaluation", "formats", "inference", "runtime", "skeleton"},
}


def _imports():
  """(module path, line, imported jaxpose package) for every import in the package."""
  for dirpath, _, files in os.walk(PACKAGE):
    for name in files:
      if not name.endswith(".py"):
        continue
      path = os.path.join(dirpath, name)
      rel = os.path.relpath(path, PACKAGE)
      package = rel.split(os.sep)[0].removesuffix(".py")
      with open(path) as f:
        tree = ast.parse(f.read(), path)
      for node in ast.walk(tree):  # ast.walk: function bodies too
        if isinstance(node, ast.Import):
          targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
          targets = [node.module]
          if node.module == "jaxpose":
            targets = [f"jaxpose.{a.name}" for a in node.names]
        else:
          continue
        for t in targets:
          if t.startswith("jaxpose."):
            yield package, f"{rel}:{node.lineno}", t.split(".")[1]


def test_every_package_is_in_the_table():
  packages = {p for p, _, _ in _imports()}
  assert packages <= set(ALLOWED), sorted(packages - set(ALLOWED))


def test_no_module_imports_from_a_layer_above_it():
  bad = [f"{where} imports jaxpose.{dep}" for package, where, dep in _imports()
         if dep != package and dep not in ALLOWED[package]]
  assert not bad, "\n".join(bad)


def test_the_check_can_fail():
  """The scan sees imports inside functions (the kind that doubled back before)."""
  found = {(p, d) for p, _, d in _imports()}
  assert ("training", "inference") in found and ("visualize", "inference") in found
  assert ("inference", "training") not in found


CASCADE_MODULES = {os.path.join(p, "cascade.py") for p in ("codecs", "data", "inference",
                                                           "training")}


def test_only_the_cascade_asks_whether_a_run_is_a_cascade_stage():
  """Issue #40: DeepPose's cascade lives in its ``cascade.py`` modules; the generic loop and
  ``inference.load`` reach it through one hook called for every config
  (``training.cascade.stage_hooks``, ``inference.cascade.run_predictor``)."""
  found = []
  for dirpath, _, files in os.walk(PACKAGE):
    for name in files:
      path = os.path.join(dirpath, name)
      rel = os.path.relpath(path, PACKAGE)
      if name.endswith(".py") and rel not in CASCADE_MODULES:
        with open(path) as f:
          if "is_cascade" in f.read():
            found.append(rel)
  assert not found, found
