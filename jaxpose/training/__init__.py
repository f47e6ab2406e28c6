"""Training: state, optimizers and schedules, the jitted/pmapped step, the loop (``loop.py``),
and DeepPose's refining stages (``cascade.py``: the hooks the loop calls for every config)."""
