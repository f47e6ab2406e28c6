"""The README and docs/ say only what exists (issue #41).

Every shell command in a fenced ```bash block of README.md and docs/**/*.md is extracted and
checked against the code, without running it: each ``python X.py`` / ``python benchmarks/X.py``
names a script that exists, each ``python -m jaxpose.X`` a module that exists, each
``--config=…`` a config file or a packaged recipe, each ``--flag`` one that the tool defines
(train.py, evaluate.py: a ``flags.DEFINE_*("flag"`` in the script or the modules it imports; the
``python -m`` tools with flags of their own: their ``flag_values()``, per command for
``jaxpose.visualize``), and each ``--config.KEY=…`` a key of that
config (built with ml_collections). Shell variables set in the block (``M="--config=…"``) and
``for V in a b c; do … done`` loops are expanded. Also: README.md stays a landing page (≤ 8 KB,
its first code block starts with the two commands), and every relative link in the README and
docs points to a file that exists (and, for ``file.md#anchor``, to one of its headings).
"""
from __future__ import annotations

import pytest

import ast
import dataclasses
import functools
import glob
import importlib
import importlib.util
import itertools
import os
import re
import shlex
import sys
from conftest import ROOT

if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

README = os.path.join(ROOT, "README.md")
README_MAX_BYTES = 8 * 1024
FIRST_COMMANDS = ["pip install -e . && python train.py", 'pip install -e ".[test]" && pytest']
# the absl tools and the console scripts that stand for them
ABSL_ALIASES = {"jaxpose-train": "train.py", "jaxpose-evaluate": "evaluate.py"}
# tools whose --config takes a packaged recipe's name as well as a file
RECIPE_NAMES_OK = {"train.py", "jaxpose-train"}
# flags absl defines for every program
ABSL_BUILTIN = {"help", "helpshort", "helpfull", "helpxml", "flagfile", "undefok", "logtostderr",
                "alsologtostderr", "verbosity", "v", "log_dir", "only_check_args", "pdb",
                "run_with_pdb", "run_with_profiling", "use_cprofile_for_profiling"}
WRAPPERS = {"time", "/usr/bin/time", "env", "nohup"}


def doc_files() -> list[str]:
  return [README] + sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))


def rel(path: str) -> str:
  return os.path.relpath(path, ROOT)


# ---- extracting the commands -------------------------------------------------------------------

FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```", re.S | re.M)


@dataclasses.dataclass
class Command:
  where: str  # file:line
  argv: list[str]
  # files the same page writes out in a ```python block that opens with "# NAME.py"
  files: dict[str, str] = dataclasses.field(default_factory=dict)


def code_blocks(text: str, lang: str | None = None) -> list[tuple[int, str]]:
  """(line number of the block's first line, body) of every fenced block (of ``lang``)."""
  out = []
  for m in FENCE.finditer(text):
    if lang is None or m.group(1) == lang:
      out.append((text.count("\n", 0, m.start(2)) + 1, m.group(2)))
  return out


def _logical_lines(body: str, first: int) -> list[tuple[int, str]]:
  """Lines with backslash continuations joined, with the number of their first line."""
  out, buf, start = [], "", None
  for i, line in enumerate(body.split("\n")):
    if start is None:
      start = first + i
    if line.rstrip().endswith("\\"):
      buf += line.rstrip()[:-1] + " "
      continue
    out.append((start, buf + line))
    buf, start = "", None
  return out


def _tokens(line: str) -> list[str]:
  lex = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
  lex.whitespace_split = True
  lex.commenters = "#"
  return list(lex)


def _segments(tokens: list[str]) -> list[list[str]]:
  out, cur = [], []
  for t in tokens:
    if t in {";", "&&", "||", "|", "&", "(", ")", ";;"}:
      out.append(cur)
      cur = []
    else:
      cur.append(t)
  out.append(cur)
  return [s for s in out if s]


VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def _expand(argv: list[str], variables: dict[str, str], loops: list[tuple[str, list[str]]]):
  """Every expansion of ``argv`` over the loop variables it mentions."""
  used = [(v, vals) for v, vals in loops if any(f"${v}" in a or f"${{{v}}}" in a for a in argv)]
  for combo in itertools.product(*[vals for _, vals in used]) if used else [()]:
    env = dict(variables, **{v: val for (v, _), val in zip(used, combo)})
    out = []
    for a in argv:
      whole = VAR.fullmatch(a)
      if whole and (whole.group(1) or whole.group(2)) in variables:
        out += variables[whole.group(1) or whole.group(2)].split()  # unquoted: word splitting
      else:
        out.append(VAR.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), a))
    yield out


def page_files(text: str) -> dict[str, str]:
  """``{"my_config.py": source}`` for every ```python block of ``text`` that opens with a
  ``# my_config.py`` line: a file the page asks the reader to write."""
  out = {}
  for _, body in code_blocks(text, "python"):
    m = re.match(r"#\s*([\w./-]+\.py)\s*\n", body)
    if m:
      out[m.group(1)] = body
  return out


def commands_of(text: str, name: str) -> list[Command]:
  """The simple commands of every ```bash block of ``text`` (``name`` labels them)."""
  out = []
  files = page_files(text)
  for first, body in code_blocks(text, "bash"):
    variables: dict[str, str] = {}
    loops: list[tuple[str, list[str]]] = []
    for line_no, line in _logical_lines(body, first):
      for seg in _segments(_tokens(line)):
        while seg and seg[0] in {"do", "then", "else", "{"}:
          seg = seg[1:]
        if not seg:
          continue
        if seg[0] in {"done", "fi", "}"}:
          if seg[0] == "done" and loops:
            loops.pop()
          continue
        if seg[0] == "for" and len(seg) >= 3 and seg[2] == "in":
          loops.append((seg[1], seg[3:]))
          continue
        assignments = []
        while seg and re.match(r"^[A-Za-z_]\w*=", seg[0]):
          assignments.append(seg.pop(0))
        if not seg:  # NAME=value on its own: a shell variable for the lines below
          for a in assignments:
            k, _, v = a.partition("=")
            variables[k] = v
          continue
        while seg and seg[0] in WRAPPERS:
          seg = seg[1:]
        for argv in _expand(seg, variables, loops):
          out.append(Command(f"{name}:{line_no}", argv, files))
  return out


# ---- what the code defines ---------------------------------------------------------------------

DEFINE = re.compile(r"""DEFINE_\w+\(\s*["'](\w+)["']""")


def _module_file(name: str, near: str) -> str | None:
  """The file of module ``name``: a jaxpose module, or a sibling of ``near`` (benchmarks)."""
  parts = name.split(".")
  for base in (ROOT, os.path.dirname(near)):
    p = os.path.join(base, *parts)
    for cand in (p + ".py", os.path.join(p, "__init__.py")):
      if os.path.isfile(cand):
        return cand
  return None


def _top_level_imports(tree: ast.Module):
  """Module names imported when the file is loaded (not inside functions: a flag defined by a
  module imported only inside ``main`` does not exist when absl parses the command line)."""
  todo = list(tree.body)
  while todo:
    node = todo.pop()
    if isinstance(node, ast.Import):
      yield from (a.name for a in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      yield node.module
      yield from (f"{node.module}.{a.name}" for a in node.names)
    elif isinstance(node, (ast.If, ast.Try)):
      todo += node.body + node.orelse + getattr(node, "finalbody", [])
      todo += [n for h in getattr(node, "handlers", []) for n in h.body]


@functools.lru_cache(maxsize=None)
def absl_flags(path: str) -> frozenset[str]:
  """Flag names defined in ``path`` and in the project modules it imports (transitively)."""
  names, seen, todo = set(), set(), [path]
  while todo:
    f = todo.pop()
    if f in seen:
      continue
    seen.add(f)
    with open(f) as fh:
      src = fh.read()
    names |= set(DEFINE.findall(src))
    for m in _top_level_imports(ast.parse(src, f)):
      mf = _module_file(m, f)
      if mf and ".venv" not in os.path.relpath(mf, ROOT).split(os.sep):
        todo.append(mf)
  return frozenset(names)


@functools.lru_cache(maxsize=None)
def own_flags_tool(module: str):
  """The module of a ``python -m`` tool whose flags live on a ``FlagValues`` of its own
  (``flag_values()``; ``flag_values(command)`` and ``COMMANDS`` for one with commands), the
  package's ``cli`` for a package; None for one on absl's global flags (train, evaluate,
  compare: read, not imported — importing two of them would define their flags twice)."""
  spec = importlib.util.find_spec(module)
  if spec.submodule_search_locations:
    module = module + ".cli"
    spec = importlib.util.find_spec(module)
  if spec is None or not os.path.isfile(spec.origin):
    return None
  with open(spec.origin) as f:
    if "def flag_values(" not in f.read():
      return None
  return importlib.import_module(module)


def _check_own_flags(module: str, mod, args: list[str]) -> list[str]:
  """The flags of ``args`` that the tool (of the command ``args`` starts with) lacks."""
  commands = getattr(mod, "COMMANDS", None)
  if commands:
    if not args or args[0] not in commands:
      return [f"{module}: no subcommand of {sorted(commands)} first"]
    fv = mod.flag_values(args[0])
  else:
    fv = mod.flag_values()
  out = []
  for a in args:
    name = a[2:].split("=")[0]
    if not a.startswith("--") or name in fv or a in ("--help", "--helpshort", "--helpfull"):
      continue
    if not (name.startswith("no") and name[2:] in fv and fv[name[2:]].boolean):
      out.append(f"{module} has no option --{name}")
  return out


@functools.lru_cache(maxsize=None)
def _packaged_recipes() -> frozenset[str]:
  from jaxpose import configs
  return frozenset(configs.names())


@functools.lru_cache(maxsize=None)
def build_config(file: str, arg: str):
  spec = importlib.util.spec_from_file_location(
      "_docs_config_" + re.sub(r"\W", "_", os.path.relpath(file, ROOT)), file)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg) if arg else module.get_config()


def _has_key(config, dotted: str) -> bool:
  node = config
  for part in dotted.split("."):
    if not hasattr(node, "keys") or part not in node.keys():
      return False
    node = node[part]
  return True


@functools.lru_cache(maxsize=None)
def _written(name: str, source: str) -> str:
  """A page's file, written where a config built from it can be loaded."""
  import tempfile
  folder = tempfile.mkdtemp(prefix="jaxpose_docs_")
  path = os.path.join(folder, os.path.basename(name))
  with open(path, "w") as f:
    f.write(source)
  return path


def _config_file(value: str, tool: str, files: dict[str, str]) -> tuple[str | None, str, str | None]:
  """(file, argument, error) of a ``--config`` value."""
  file, _, arg = value.partition(":")
  path = os.path.join(ROOT, file)
  if os.path.isfile(path):
    return path, arg, None
  if file in files:
    return _written(file, files[file]), arg, None
  if tool in RECIPE_NAMES_OK and file in _packaged_recipes():
    return os.path.join(ROOT, "jaxpose", "configs", file + ".py"), arg, None
  return None, arg, f"--config={value}: no such file" + (
      " and no packaged recipe" if tool in RECIPE_NAMES_OK else "")


def _check_absl(tool: str, script: str, args: list[str], files=None) -> list[str]:
  errors = []
  defined = absl_flags(script) | ABSL_BUILTIN
  config_value, overrides = None, []
  for a in args:
    if not a.startswith("--"):
      continue
    name, _, value = a[2:].partition("=")
    if name == "config":
      config_value = value
    elif name.startswith("config."):
      overrides.append(name[len("config."):])
    elif name not in defined and not (name.startswith("no") and name[2:] in defined):
      errors.append(f"{tool} defines no flag --{name}")
  if "config" not in defined:
    if config_value is not None or overrides:
      errors.append(f"{tool} takes no --config")
    return errors
  if config_value is None:
    file, arg, err = os.path.join(ROOT, "configs", "default.py"), "", None
  else:
    file, arg, err = _config_file(config_value, tool, files or {})
  if err:
    return errors + [err]
  if overrides or config_value in (files or {}):
    try:
      config = build_config(file, arg)
    except Exception as e:  # noqa: BLE001 - a recipe that does not build is the finding
      return errors + [f"{config_value}: get_config() failed: {e!r}"]
    errors += [f"--config.{k}: no such key in {config_value}" for k in overrides
               if not _has_key(config, k)]
  return errors


def check_command(cmd: Command) -> list[str]:
  """What is wrong with one command (empty: nothing)."""
  argv = cmd.argv
  tool, args = argv[0], argv[1:]
  if tool in ABSL_ALIASES:
    return _check_absl(tool, os.path.join(ROOT, ABSL_ALIASES[tool]), args, cmd.files)
  if tool == "bash" and args and not args[0].startswith("-"):
    return [] if os.path.isfile(os.path.join(ROOT, args[0])) else [f"no file {args[0]}"]
  if tool not in {"python", "python3"} or not args:
    return []
  if args[0] == "-m":
    module, rest = args[1], args[2:]
    if not module.startswith("jaxpose"):
      return []
    spec = importlib.util.find_spec(module)
    if spec is None:
      return [f"no module {module}"]
    path = spec.origin
    if spec.submodule_search_locations:  # a package: python -m runs its __main__
      path = os.path.join(os.path.dirname(spec.origin), "__main__.py")
    if not os.path.isfile(path):
      return [f"{module} is a package without __main__: python -m cannot run it"]
    tool = own_flags_tool(module)
    if tool is not None:
      return _check_own_flags(module, tool, rest)
    return _check_absl(module, path, rest)
  if args[0].endswith(".py"):
    script = os.path.join(ROOT, args[0])
    if not os.path.isfile(script):
      return [f"no script {args[0]}"]
    name = os.path.basename(args[0]) if os.path.dirname(args[0]) == "" else args[0]
    return _check_absl(name, script, args[1:], cmd.files)
  return []


def all_commands() -> list[Command]:
  out = []
  for path in doc_files():
    with open(path) as f:
      out += commands_of(f.read(), rel(path))
  return out


# ---- links -------------------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def slug(heading: str) -> str:
  """GitHub's anchor of a heading."""
  s = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
  return s.replace(" ", "-")


def anchors(path: str) -> set[str]:
  text = FENCE.sub("", open(path).read())
  return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.*?)\s*#*$", text, re.M)}


def broken_links(path: str) -> list[str]:
  text = FENCE.sub("", open(path).read())
  text = re.sub(r"`[^`\n]*`", "", text)  # inline code is not a link
  out = []
  for m in LINK.finditer(text):
    target = m.group(1)
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
      continue
    file, _, anchor = target.partition("#")
    dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
    if not os.path.exists(dest):
      out.append(f"{rel(path)}: {target}: no such file")
    elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
      out.append(f"{rel(path)}: {target}: no heading #{anchor} in {rel(dest)}")
  return out


# ---- the tests ---------------------------------------------------------------------------------

def test_the_readme_is_a_landing_page():
  size = os.path.getsize(README)
  assert size <= README_MAX_BYTES, f"README.md is {size} bytes; keep it ≤ {README_MAX_BYTES}"


def test_the_readme_starts_with_the_two_commands():
  text = open(README).read()
  first_block = code_blocks(text)[0][1]
  lines = [ln.strip() for ln in first_block.splitlines()
           if ln.strip() and not ln.strip().startswith("#")]
  assert lines[:2] == FIRST_COMMANDS, lines[:2]


def test_the_docs_have_commands_to_check():
  cmds = all_commands()
  files = {c.where.split(":")[0] for c in cmds}
  assert "README.md" in files and len(cmds) > 50, (len(cmds), sorted(files))


@pytest.mark.slow
def test_every_command_names_what_exists():
  problems = [f"{c.where}: {' '.join(c.argv)}\n    {e}" for c in all_commands()
              for e in check_command(c)]
  assert not problems, "\n".join(problems)


def test_every_relative_link_resolves():
  problems = [p for path in doc_files() for p in broken_links(path)]
  assert not problems, "\n".join(problems)


def test_the_checks_can_fail(tmp_path):
  """Wrong scripts, modules, flags, config keys, subcommands and links are all caught."""
  text = "\n".join([
      "```bash",
      "python no_such_script.py",
      "python train.py --no_such_flag=1 --workdir=runs/x",
      'M="--config=configs/lsp_cpu.py"',
      "python train.py $M --config.train.no_such_key=3",
      "for S in 1 9; do python train.py --config=configs/no_such_recipe_$S.py; done",
      "python evaluate.py --workdir=runs/x --flip --nofip",
      "python -m jaxpose.no_such_module",
      "python -m jaxpose.predict photo.jpg --workdir=runs/x --no_such_option",
      "python -m jaxpose.visualize no_such_command --workdir=runs/x",
      "python -m jaxpose.grouping --k=5 --no_such_option=1",
      "python benchmarks/train_step.py --steps=2 --no_such_flag",
      "jaxpose-train --config=mine.py --config.train.no_such_key=1 --config.train.num_steps=1",
      "jaxpose-train --config=not_on_this_page.py",
      "```",
      "```python",
      "# mine.py",
      "from jaxpose.configs import default",
      "def get_config():",
      "  return default.get_config()",
      "```",
  ])
  found = [e for c in commands_of(text, "t.md") for e in check_command(c)]
  expected = ["no script no_such_script.py", "no flag --no_such_flag",
              "--config.train.no_such_key", "no_such_recipe_1.py", "no_such_recipe_9.py",
              "no flag --nofip", "no module jaxpose.no_such_module",
              "no option --no_such_option", "no subcommand", "grouping has no option",
              "train_step.py defines no flag --no_such_flag",
              "--config.train.no_such_key: no such key in mine.py", "not_on_this_page.py"]
  for e in expected:
    assert any(e in f for f in found), (e, found)
  assert len(found) == len(expected), found
  good = "```bash\npython train.py --config=lsp_cpu --config.train.num_steps=5 --noeval\n```"
  assert [e for c in commands_of(good, "t.md") for e in check_command(c)] == []
  doc = tmp_path / "d.md"
  doc.write_text("# Top\n[a](missing.md) [b](d.md#top) [c](d.md#nowhere) [d](https://x.org/y)\n")
  assert len(broken_links(str(doc))) == 2, broken_links(str(doc))
