"""Five digits on the seed's data (550,000 examples, reversed, 10% held out), to 0.99 val seq accuracy fast.

Batch 128 (more examples/s than 32, still enough steps per epoch), a 5x learning rate with warm-up, cosine
decay over 10 epochs and clipping: 0.99 val seq accuracy in epoch 7 for seed 0, but seed 1 ends at 0.968
(README.md's table): not robust yet.
"""

from addjax.config import base_config


def get_config():
  config = base_config()
  config.digits = 5
  config.training_size = 550_000
  config.num_epochs = 10
  config.batch_size = 128
  config.learning_rate = 5e-3
  config.lr_schedule = 'cosine'
  config.warmup_steps = 300
  config.grad_clip_norm = 1.0
  return config
