"""The arithmetic of training a config's model, counted analytically (JAX-free, for light tools).

addjax.benchmark divides measured examples/s by it to give GFLOP/s; experiments/runs.py uses it as the unit of
work that makes runs of different digits and depths comparable when it estimates the time a sweep has left.
"""

import ml_collections

from addjax import data


def flops_per_example(config: ml_collections.ConfigDict) -> dict[str, float]:
  """Matmul FLOPs of one example (a multiply-add is 2), forward and forward + backward.

  The encoder's one-hot projection is a gather, not a matmul; the first decoder layer's input is the same
  vector at every step, so it is projected once. Gate arithmetic is left out: XLA's own count of the forward
  pass is 8% higher at hidden 128, 4% at 256. Backward is twice forward: each matmul has two cotangents.

  Args:
    config: a run's config (hidden_size, digits, encoder_lead_in, encoder_bidirectional, num_layers are
      read).

  Returns:
    {'forward': FLOPs of the forward pass, 'train': of a training step's forward and backward}.
  """
  h, v = config.hidden_size, data.VOCAB_SIZE
  directions = 2 if config.encoder_bidirectional else 1
  encoder_steps = data.query_length(config.digits) + config.encoder_lead_in
  decoder_steps = data.answer_length(config.digits)
  recurrent = 2 * h * 4 * h
  forward = (directions * encoder_steps * recurrent                           # encoder
             + directions * recurrent + decoder_steps * recurrent             # decoder 0
             + (config.num_layers - 1) * decoder_steps * 2 * recurrent        # deeper decoder layers
             + decoder_steps * 2 * h * v)                                     # output layer
  return {'forward': float(forward), 'train': 3.0 * forward}


def training_flops_per_epoch(config: ml_collections.ConfigDict) -> float:
  """FLOPs of one training epoch: flops_per_example's 'train' over the config's training examples."""
  return data.num_training_examples(config.training_size) * flops_per_example(config)['train']
