import subprocess
import sys

import jax
import pytest

from addjax import config as config_lib
from addjax import cost
from addjax import data
from addjax import models
from addjax import train


@pytest.mark.parametrize('num_layers, hidden_size, digits, bidirectional, chars_per_step', [
    (1, 128, 3, False, 1), (2, 16, 5, False, 1), (4, 32, 9, False, 1), (3, 8, 2, False, 1), (1, 128, 3, True, 1),
    (3, 8, 2, True, 1), (3, 16, 14, False, 2), (2, 8, 5, True, 3)])
def test_parameter_count_equals_the_real_models(num_layers, hidden_size, digits, bidirectional, chars_per_step):
  config = config_lib.base_config()
  config.num_layers, config.hidden_size, config.digits = num_layers, hidden_size, digits
  config.encoder_bidirectional, config.encoder_chars_per_step = bidirectional, chars_per_step
  queries = jax.numpy.zeros((2, data.query_length(digits)), jax.numpy.uint8)
  params = jax.eval_shape(models.from_config(config).init, jax.random.key(0), queries)['params']
  assert cost.parameter_count(config) == sum(x.size for x in jax.tree.leaves(params))


def test_flops_count_the_seeds_three_digit_model_by_hand():
  config = config_lib.base_config()  # 3 digits, one decoder layer, hidden 128.
  recurrent = 2 * 128 * 512
  # Encoder 7 steps; decoder input projected once, then 4 steps; output 4 x 128 x 12.
  forward = 7 * recurrent + recurrent + 4 * recurrent + 4 * 2 * 128 * 12
  assert cost.flops_per_example(config) == {'forward': forward, 'train': 3 * forward}
  config.num_layers = 3  # Two more decoder layers, each an input and a recurrent matmul per step.
  assert cost.flops_per_example(config)['forward'] == forward + 2 * 4 * 2 * recurrent
  config.encoder_lead_in = 2  # Two more encoder steps, a recurrent matmul each.
  assert cost.flops_per_example(config)['forward'] == forward + 2 * 4 * 2 * recurrent + 2 * recurrent
  config.encoder_bidirectional = True  # A second encoder, and a decoder input of twice the width.
  assert cost.flops_per_example(config)['forward'] == forward + 2 * 4 * 2 * recurrent + 2 * recurrent + (
      9 * recurrent + recurrent)
  config.encoder_bidirectional, config.encoder_chars_per_step = False, 2
  # 9 characters in 5 steps of two (the last one's second is padding), each step a recurrent matmul and a
  # projection of 2 x 12 one-hot features.
  assert cost.flops_per_example(config)['forward'] == forward + 2 * 4 * 2 * recurrent - 7 * recurrent + (
      5 * (recurrent + 2 * 24 * 512))


def test_flops_match_xla_cost_analysis_of_the_forward_pass():
  config = config_lib.base_config()
  config.digits, config.hidden_size = 5, 256
  model = models.from_config(config)
  state = train.init_state(config, model, train.create_optimizer(config))
  queries = jax.numpy.zeros((32, 11), jax.numpy.uint8)
  # lstm_impl='scan' unrolled in full, so that XLA's count sees every step rather than one loop body.
  config.lstm_impl, config.scan_unroll = 'scan', 11
  unrolled = models.from_config(config)
  xla = jax.jit(unrolled.apply).lower({'params': state['params']}, queries).compile().cost_analysis()
  xla = xla[0] if isinstance(xla, list) else xla
  counted = 32 * cost.flops_per_example(config)['forward']
  # XLA also counts the gate arithmetic, which the analytic count leaves out: O(hidden) against the
  # matmuls' O(hidden^2), 4% at hidden 256 (8% at 128).
  assert counted <= xla['flops'] <= 1.06 * counted


def test_an_epoch_is_its_training_examples_times_a_training_example():
  config = config_lib.base_config()
  config.training_size = 1_000  # 900 of them train (the rest is the validation split).
  assert cost.training_flops_per_epoch(config) == 900 * cost.flops_per_example(config)['train']
  deeper = config_lib.base_config()
  deeper.training_size, deeper.num_layers = 1_000, 2
  assert cost.training_flops_per_epoch(deeper) > cost.training_flops_per_epoch(config)


def test_the_cost_module_imports_no_jax():
  # Light tools (the sweep runner, its progress line) import it without paying for JAX.
  code = 'import sys, addjax.cost; sys.exit("jax" in sys.modules)'
  assert subprocess.run([sys.executable, '-c', code]).returncode == 0
