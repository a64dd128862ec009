"""Two digits on exactly the seed's 5,000 examples, to 0.99 val char and seq accuracy within 55 epochs.

The seed's settings stall near 0.98 char / 0.95 seq: every remaining error has a one-digit operand, in the
order the pair was not drawn in (trained on "29+2", asked "2+29"). What changes, and why:
- swap_augment: each training pair shown in either order at random (the same pairs, never a validation pair);
- a warmed-up, cosine-decayed 3x learning rate and clipping;
- reverse_answer: the answer written least significant digit first ("695" for 596; the problems, splits and
  exact match are the seed's, and predict reads answers in natural order), so that each answer position always
  holds the same power of ten. Without it seeds 0, 1 and 2 pass 0.99 val seq accuracy in epochs 33, 33 and 40
  and end at 0.998, 0.994 and 0.990; with it in epochs 24, 26 and 29, and all three end at 1.0.
"""

from addjax.config import base_config


def get_config():
  config = base_config()
  config.digits = 2
  config.training_size = 5_000
  config.num_epochs = 55
  config.swap_augment = True
  config.reverse_answer = True
  config.learning_rate = 3e-3
  config.lr_schedule = 'cosine'
  config.warmup_steps = 500
  config.grad_clip_norm = 1.0
  return config
