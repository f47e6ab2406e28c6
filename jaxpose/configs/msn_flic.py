"""Multi-scale supervised network on FLIC as Ke et al. 2018 §3.1, Table 2: configs/msn_mpii.py
(4 stacks of 64 channels, supervision at GT … GT/8, global keypoint regression; Adam 5e-4 with
step decay, 100 epochs) on FLIC's 3,987 training / 1,016 test people (11 upper-body joints),
evaluated with PCK@0.2 (torso normaliser); Table 2 reports its Elbow and Wrist columns
(99.2 / 97.3). FLIC images are not shipped here: point `data.root` at a folder holding
`examples.mat` and `images/`.

  python train.py --config=configs/msn_flic.py --config.data.root=/path/to/FLIC
  python evaluate.py --workdir=runs/msn_flic --metrics=pck@0.2,flic@20
"""
from jaxpose.configs import msn_mpii


def get_config():
  c = msn_mpii.get_config()
  c.name = "msn_flic"
  c.model.num_joints = 11
  c.data.name = "flic"
  c.data.train_split = "train"
  c.data.eval_split = "test"
  c.eval.checkpoint = "latest"  # FLIC has no validation split: never pick by the test set
  c.eval.metrics = ("pck@0.2", "flic@20")
  return c
