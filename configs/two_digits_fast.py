"""Two digits on exactly the seed's 5,000 examples, to 0.99 val char and seq accuracy within 55 epochs.

The seed's settings stall near 0.98 char / 0.95 seq: every remaining error has a one-digit operand, in the
order the pair was not drawn in (trained on "29+2", asked "2+29"). Showing each training pair in either
order at random (swap_augment: the same pairs, never a validation pair), with a warmed-up, cosine-decayed
3x learning rate and clipping, reaches 0.99 val seq accuracy by epoch 35-36 for seeds 0, 1 and 2.
"""

from addjax.config import base_config


def get_config():
  config = base_config()
  config.digits = 2
  config.training_size = 5_000
  config.num_epochs = 55
  config.swap_augment = True
  config.learning_rate = 3e-3
  config.lr_schedule = 'cosine'
  config.warmup_steps = 500
  config.grad_clip_norm = 1.0
  return config
