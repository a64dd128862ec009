"""A config's model counted analytically (JAX-free, for light tools): its parameters and training FLOPs.

addjax.benchmark multiplies measured examples/s by the FLOPs of an example to give GFLOP/s; experiments/runs.py
reports the parameters of each row and uses the FLOPs of an epoch as the unit of work that makes runs of
different digits and depths comparable when it estimates the time a sweep has left.
"""

import ml_collections

from addjax import data


def _encoder_directions(config: ml_collections.ConfigDict) -> int:
  """How many encoder LSTMs read the query: two with encoder_bidirectional, else one."""
  return 2 if config.encoder_bidirectional else 1


def parameter_count(config: ml_collections.ConfigDict) -> int:
  """The model's trainable parameters, counted from the config without building it (addjax.models' layers).

  Each LSTM has an input kernel [inputs, 4h], a recurrent kernel [h, 4h] and a bias [4h]; the encoder (one
  LSTM per direction) reads encoder_chars_per_step one-hot tokens a step, the first decoder layer the
  encoder's h features per direction, every other decoder layer the h features below it; the output Dense
  maps h to the vocabulary. The count does not depend on digits: the sequences get longer, the weights do not.

  Args:
    config: a run's config (hidden_size, num_layers, encoder_bidirectional and encoder_chars_per_step are
      read).

  Returns:
    The number of parameters of models.from_config(config).
  """
  h, vocab = config.hidden_size, data.VOCAB_SIZE
  directions = _encoder_directions(config)
  encoder = directions * 4 * h * (config.encoder_chars_per_step * vocab + h + 1)
  decoder = config.num_layers * 4 * h * (h + h + 1) + (directions - 1) * h * 4 * h
  return encoder + decoder + h * vocab + vocab


def flops_per_example(config: ml_collections.ConfigDict) -> dict[str, float]:
  """Matmul FLOPs of one example (a multiply-add is 2), forward and forward + backward.

  The encoder's one-hot projection is a gather, not a matmul (with several characters a step, a matmul of
  the one-hot rows side by side, counted); the first decoder layer's input is the same vector at every step,
  so it is projected once. Gate arithmetic is left out: XLA's own count of the forward pass is 8% higher at
  hidden 128, 4% at 256. Backward is twice forward: each matmul has two cotangents.

  Args:
    config: a run's config (hidden_size, digits, encoder_lead_in, encoder_bidirectional,
      encoder_chars_per_step, num_layers are read).

  Returns:
    {'forward': FLOPs of the forward pass, 'train': of a training step's forward and backward}.
  """
  h, v = config.hidden_size, data.VOCAB_SIZE
  directions = _encoder_directions(config)
  k = config.encoder_chars_per_step
  encoder_steps = -(-(data.query_length(config.digits) + config.encoder_lead_in) // k)
  decoder_steps = data.answer_length(config.digits)
  recurrent = 2 * h * 4 * h
  projection = 2 * k * v * 4 * h if k > 1 else 0
  forward = (directions * encoder_steps * (recurrent + projection)            # encoder
             + directions * recurrent + decoder_steps * recurrent             # decoder 0
             + (config.num_layers - 1) * decoder_steps * 2 * recurrent        # deeper decoder layers
             + decoder_steps * 2 * h * v)                                     # output layer
  return {'forward': float(forward), 'train': 3.0 * forward}


def training_flops_per_epoch(config: ml_collections.ConfigDict) -> float:
  """FLOPs of one training epoch: flops_per_example's 'train' over the config's training examples."""
  return data.num_training_examples(config.training_size) * flops_per_example(config)['train']
