"""Training: state, optimizers and schedules, the jitted/pmapped step, checkpoints, the loop."""
