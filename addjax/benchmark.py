"""Training throughput against the machine's ceiling, measured in one process.

python -m addjax.benchmark --config configs/five_digits.py [--program addjax|reference] [--json]

Times a training program in its steady state, counts the model's FLOPs per example analytically (addjax.cost), and
measures a large fp32 matmul on the same device in the same process: the gap between achieved and ceiling
GFLOP/s is how far from the hardware we are. The programs:
- addjax: the real training program (train.make_train_chunk: a chunk of steps per compiled call), with the
  host's CPU split into one device per core as addjax.main splits it (addjax.host);
- reference: the straightforward Flax version (addjax.reference: nn.RNN over OptimizedLSTMCell, one jitted
  call per batch) on JAX's default single CPU device, the setting it is fastest in.
Each program runs in a process of its own (experiments/benchmark_table.py interleaves them).
"""

import json
import statistics
import time

from absl import app
from absl import flags
from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from addjax import cli
from addjax import config as config_lib
from addjax import cost
from addjax import data
from addjax import host
from addjax import main as main_lib
from addjax import models
from addjax import reference
from addjax import train

FLAGS = flags.FLAGS
flags.DEFINE_integer('steps', 200, 'Training steps per timed call.')
flags.DEFINE_integer('repeats', 5, 'Timed calls (after one untimed warm-up) per program.')
flags.DEFINE_enum('program', 'addjax', ['addjax', 'reference'], 'Which training program to time.')
flags.DEFINE_bool('json', False, 'End with one line of JSON holding every number.')
flags.DEFINE_integer('matmul_size', 2048, 'Side of the square fp32 matmul that measures the ceiling.')


def matmul_ceiling_gflops(size: int, dtype=jnp.float32, repeats: int = 5) -> float:
  """Best GFLOP/s of a size x size matmul through XLA on the default device."""
  a = jax.random.normal(jax.random.key(0), (size, size), dtype)
  b = jax.random.normal(jax.random.key(1), (size, size), dtype)
  matmul = jax.jit(lambda a, b: a @ b)
  matmul(a, b).block_until_ready()
  best = min(_timed(lambda: matmul(a, b).block_until_ready()) for _ in range(repeats))
  return 2 * size**3 / best / 1e9


def _timed(fn) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


class OurProgram:
  """The real training program, one call = `steps` training steps."""

  def __init__(self, config: ml_collections.ConfigDict, splits: dict[str, np.ndarray], steps: int):
    self.examples_per_call = steps * config.batch_size
    model, tx = models.from_config(config), train.create_optimizer(config)
    self.state = train.init_state(config, model, tx)
    num_train = len(splits['train_queries'])
    self.queries, self.answers = jax.device_put((splits['train_queries'], splits['train_answers']))
    num_chunks = num_train // self.examples_per_call
    if num_chunks < 1:
      raise config_lib.ConfigError(f'--steps={steps} x batch {config.batch_size} exceeds the {num_train:,} '
                                   'training examples; lower --steps')
    epoch_batches = train.make_epoch_batches(num_chunks * self.examples_per_call, config.batch_size,
                                             num_chunks, steps)
    self.indices, self.weights = epoch_batches(train.epoch_key(config.seed, 1))
    start = time.perf_counter()
    self.chunk = train.make_train_chunk(model, tx, microbatch_size=config.microbatch_size).lower(
        self.state, self.queries, self.answers, self.indices, self.weights, 0).compile()
    self.compile_sec = time.perf_counter() - start

  def run(self) -> None:
    self.state, sums = self.chunk(self.state, self.queries, self.answers, self.indices, self.weights, 0)
    jax.block_until_ready(sums)


class ReferenceProgram:
  """The straightforward version, one call = `steps` jitted per-batch steps fed from the host."""

  def __init__(self, config: ml_collections.ConfigDict, splits: dict[str, np.ndarray], steps: int):
    self.steps, self.batch_size = steps, config.batch_size
    self.examples_per_call = steps * config.batch_size
    self.model = reference.ReferenceAdditionLSTM(config.digits, config.hidden_size, config.num_layers)
    self.queries, self.answers = splits['train_queries'], splits['train_answers']
    self.params = self.model.init(jax.random.key(config.seed), self.queries[:1])['params']
    tx = optax.adam(config.learning_rate, eps=config.adam_eps)
    self.opt_state = tx.init(self.params)
    self.train_step = reference.make_train_step(self.model, tx)
    self.rng = np.random.default_rng(config.seed)
    start = time.perf_counter()
    self.run(steps=1)
    self.compile_sec = time.perf_counter() - start

  def run(self, steps: int | None = None) -> None:
    loss = None
    for step, (queries, answers) in enumerate(reference.batches(self.queries, self.answers, self.batch_size,
                                                                 self.rng)):
      if step == (steps or self.steps):
        break
      self.params, self.opt_state, loss = self.train_step(self.params, self.opt_state, queries, answers)
    jax.block_until_ready(loss)


PROGRAMS = {'addjax': OurProgram, 'reference': ReferenceProgram}
NAMES = {'addjax': 'addjax', 'reference': 'reference (nn.RNN, a call per batch)'}


def benchmark(config: ml_collections.ConfigDict, program: str, steps: int, repeats: int,
              matmul_size: int) -> dict:
  """Times PROGRAMS[program] on config: one untimed warm-up call, then `repeats` timed calls.

  Returns:
    The machine (platform, device, devices, cores), the setting, examples_per_sec (median and best),
    compile_sec, model_gflops (per example), achieved_gflops and the in-process fp32 matmul ceiling_gflops.
  """
  config_lib.validate(config, num_devices=jax.device_count() if program == 'addjax' else 1)
  runner = PROGRAMS[program](config, data.make_splits(config), steps)
  runner.run()  # Warm-up: first-call allocations, caches.
  per_sec = [runner.examples_per_call / _timed(runner.run) for _ in range(repeats)]
  flops = cost.flops_per_example(config)
  return {'program': program, 'device': jax.devices()[0].device_kind, 'platform': jax.default_backend(),
          'num_devices': jax.device_count() if program == 'addjax' else 1, 'cpu_cores': host.cpu_cores(),
          'digits': config.digits, 'num_layers': config.num_layers, 'hidden_size': config.hidden_size,
          'batch_size': config.batch_size, 'steps': steps, 'repeats': repeats,
          'examples_per_sec': statistics.median(per_sec), 'examples_per_sec_best': max(per_sec),
          'compile_sec': runner.compile_sec, 'model_gflops': flops['train'] / 1e9,
          'achieved_gflops': statistics.median(per_sec) * flops['train'] / 1e9,
          'matmul_size': matmul_size, 'ceiling_gflops': matmul_ceiling_gflops(matmul_size)}


def report_lines(result: dict) -> list[str]:
  return [f'{result["platform"]} ({result["device"]}, {result["num_devices"]} device(s), '
          f'{result["cpu_cores"]} cores); {result["digits"]} digits, {result["num_layers"]} decoder layer(s), '
          f'hidden {result["hidden_size"]}, batch {result["batch_size"]}; '
          f'{result["model_gflops"] * 1e3:.2f} MFLOP per training example',
          f'{NAMES[result["program"]]}: {result["examples_per_sec"]:,.0f} examples/s median '
          f'({result["examples_per_sec_best"]:,.0f} best), {result["achieved_gflops"]:.1f} GFLOP/s, compiled in '
          f'{result["compile_sec"]:.1f} s',
          f'ceiling: {result["ceiling_gflops"]:.1f} GFLOP/s (fp32 matmul, {result["matmul_size"]}^2); reached '
          f'{100 * result["achieved_gflops"] / result["ceiling_gflops"]:.1f}% of it']


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    cli.usage_error(f'unexpected arguments {argv[1:]}')
  config = main_lib.load_config()
  logging.set_verbosity(logging.WARNING)
  if FLAGS.steps < 1 or FLAGS.repeats < 1 or FLAGS.matmul_size < 1:
    cli.usage_error('--steps, --repeats and --matmul_size must be integers >= 1')
  if FLAGS.program == 'addjax':
    host.use_one_device_per_core(config.batch_size)  # As addjax.main does.
  try:
    result = benchmark(config, FLAGS.program, FLAGS.steps, FLAGS.repeats, FLAGS.matmul_size)
  except config_lib.ConfigError as e:
    cli.usage_error(str(e))
  for line in report_lines(result):
    print(line)
  if FLAGS.json:
    print(json.dumps(result))


if __name__ == '__main__':
  app.run(main, flags_parser=main_lib.parse_flags)
