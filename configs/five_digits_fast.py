"""Five digits on the seed's data (550,000 examples, reversed, 10% held out), to 0.99 val seq accuracy fast.

What changes from the seed's settings, and why: a 5x learning rate (5e-3) with a 300-step warm-up, a cosine
decay to 0 over 5 epochs instead of 30 constant ones, and gradient clipping at norm 1. The seed's batch of 32
is kept: a 5-digit step is short, so on a CPU a larger batch trains barely more examples/s, while the model
learns per step (batch 128 at the same rate over 10 epochs ended at 0.968 val seq on seed 1). Measured runs
(README.md's table): 0.99 val seq accuracy in epoch 3-4, and every seed 0-2 ends its 5 epochs above it.
"""

from addjax.config import base_config


def get_config():
  config = base_config()
  config.digits = 5
  config.training_size = 550_000
  config.num_epochs = 5
  config.learning_rate = 5e-3
  config.lr_schedule = 'cosine'
  config.warmup_steps = 300
  config.grad_clip_norm = 1.0
  return config
