"""Train a jaxpose model (``python train.py`` in a checkout, ``jaxpose-train`` when installed).

  python train.py                                     # configs/default.py into runs/default
  python train.py --config=configs/hourglass.py --workdir=runs/hg8 --config.model.num_stacks=8
  jaxpose-train --config=lsp_cpu                      # a packaged recipe by name
  jaxpose-train --config=my_config.py                 # your own; it may build on jaxpose.configs

Any config value can be overridden with --config.KEY=VALUE. Re-running with the same
workdir resumes from its latest checkpoint. After training, the final checkpoint is
evaluated on data.eval_split (the checkpoint eval.checkpoint names: latest or best) and
its tables are printed. A config value out of range, bad data or an unusable checkpoint
ends in one line ``error: …`` (exit status 2).

Several hosts: start one process per host with --coordinator=HOST:PORT
--num_processes=N --process_id=I (or --distributed=auto where JAX can detect the
cluster, e.g. on Cloud TPU or SLURM).
"""
import os
import sys

from absl import flags

from jaxpose import configs, runtime
from jaxpose.errors import exit_on_user_error

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The command's flags, on absl's global ``FLAGS`` (``app.run``, ``config_flags``), defined
  when the command runs (``run``) rather than on import: importing this module beside
  ``jaxpose.evaluate`` (a test, a notebook) defines nothing, so their shared names
  (``--workdir``) do not clash."""
  from ml_collections import config_flags
  try:
    config_flags.DEFINE_config_file("config", configs.path("default"),
                                    "Training config: a file with get_config() (ml_collections), "
                                    "or the name of a packaged recipe (lsp_cpu, pbn_lsp:…).",
                                    lock_config=True)
  except configs.OVERRIDE_ERRORS as e:  # an unknown --config.KEY of the default config
    configs.exit_on_flag_error(sys.argv, e)
  flags.DEFINE_string("workdir", None, "Run directory (default: runs/<config.name>).")
  flags.DEFINE_boolean("eval", True, "Evaluate the final checkpoint after training.")
  flags.DEFINE_string("distributed", "", "'auto' to call jax.distributed.initialize() with "
                      "cluster auto-detection.")
  flags.DEFINE_string("coordinator", "", "host:port of process 0 for multi-host training.")
  flags.DEFINE_integer("num_processes", 1, "Number of processes (hosts).")
  flags.DEFINE_integer("process_id", 0, "This process's index.")


def init_distributed() -> None:
  import jax
  if FLAGS.coordinator and FLAGS.num_processes > 1:
    # Collectives between CPU processes need gloo. Set unconditionally: asking for the
    # backend here (jax.default_backend()) would initialise it before jax.distributed can,
    # and the setting does not touch GPU/TPU clients.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(FLAGS.coordinator, FLAGS.num_processes, FLAGS.process_id)
  elif FLAGS.distributed == "auto":
    jax.distributed.initialize()


@exit_on_user_error
def main(argv):
  del argv
  init_distributed()
  import jax
  from jaxpose.training import loop
  from jaxpose.evaluation import report
  from jaxpose import inference

  config = FLAGS.config
  workdir = FLAGS.workdir or os.path.join("runs", config.get("name", "default"))
  if jax.process_index() == 0:
    print(f"JAX {jax.__version__} on {jax.default_backend()}: {jax.process_count()} processes, "
          f"{jax.device_count()} devices; workdir {workdir}", flush=True)
    print(runtime.precision_note(str(config.model.get("dtype", "float32")), jax.default_backend()),
          flush=True)
  loop.train(config, workdir)
  if FLAGS.eval:
    # Every process evaluates (opening the checkpoints is a collective step in orbax under
    # jax.distributed); process 0 prints and writes the results.
    which = config.eval.checkpoint
    predictor = inference.load(workdir, which, flip=bool(config.eval.flip))
    results = inference.evaluate(predictor, config.data.eval_split,
                                 progress=jax.process_index() == 0)
    if jax.process_index() == 0:
      path = report.write_json(results, workdir, {"flip": bool(config.eval.flip),
                                                  "checkpoint": which})
      print(report.format_results(results))
      print(f"wrote {path}")


def run() -> None:
  """The command line: ``python train.py`` in a checkout, ``jaxpose-train`` when installed.
  The process is set up first (``runtime.configure``: re-executed once with the allocator
  setting, before jax is imported), then the flags are defined and parsed."""
  runtime.configure(reexec=True)
  define_flags()
  runtime.run_absl(main, __name__, __doc__, exit_on_user_error(configs.resolve_argv)(sys.argv),
                   flags_parser=configs.parse_flags)


if __name__ == "__main__":
  run()
