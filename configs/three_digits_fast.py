"""Three digits on exactly the seed's data (50,000 examples, reversed, 10% held out), fast.

What changes from the seed's settings, and why:
- reverse_answer: the answer is written least significant digit first ("695" for 596), so that each answer
  position always holds the same power of ten and the decoder meets the carries in the order they arise (the
  problems, splits and exact match are the seed's; predict and evaluate read answers in natural order). With
  it every seed 0-2 passes 0.99 val exact match in epoch 3 instead of 4, and ends above 0.999.
- a 10x learning rate (1e-2) with a short warm-up, a cosine decay to 0 over 5 epochs and gradient clipping at
  norm 1. The seed's batch of 32 is kept: at this size the model learns per step, not per example (batch 64
  at 2e-2 or 256 at 1e-2 need more epochs or miss 0.99 on some seeds), and a 3-digit step is too short for a
  larger batch to run many more examples/s on a CPU. Cut to 3 epochs, the schedule leaves seed 1 at 0.988.
Measured runs: README.md.
"""

from addjax.config import base_config


def get_config():
  config = base_config()
  config.digits = 3
  config.training_size = 50_000
  config.reverse_answer = True
  config.num_epochs = 5
  config.learning_rate = 1e-2
  config.lr_schedule = 'cosine'
  config.warmup_steps = 100
  config.grad_clip_norm = 1.0
  return config
