"""Train a jaxpose model: the checkout's entry point (installed, the same is ``jaxpose-train``).

  python train.py                                     # configs/default.py into runs/default
  python train.py --config=configs/hourglass.py --workdir=runs/hg8 --config.model.num_stacks=8
  python train.py --config=lsp_cpu                    # a packaged recipe by name

Flags: ``python train.py --help``; the code: jaxpose/train.py.
"""
from jaxpose.train import run

if __name__ == "__main__":
  run()
