"""Where a training step's time goes: its pieces timed alone, and XLA's own operations from a profiler trace.

python experiments/profile_step.py --digits 5 --num_layers 1 --batch_size 256 [--matmul_dtype bfloat16] [--trace]
    [--top 25]

Times, each as a lax.scan of --steps repetitions in one compiled call (so that dispatch does not count): the
forward pass (loss), forward and backward (gradients), the whole training step (gradients and Adam) and
Adam alone. With --trace it also records one call of the training step with jax.profiler (a Perfetto trace,
plain JSON) and lists XLA's operations by their total time per training step: the names are those of the
compiled program (XLA_FLAGS=--xla_dump_to=DIR --xla_dump_hlo_as_text shows what each one computes).
"""

import argparse
import collections
import glob
import gzip
import json
import os
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from addjax import config as config_lib
from addjax import data
from addjax import models
from addjax import train


def repeated(fn, steps: int):
  """x -> fn applied `steps` times in one compiled loop."""
  return jax.jit(lambda x: jax.lax.scan(lambda x, _: (fn(x), None), x, None, length=steps)[0])


def best_ms(fn, x, repeats: int, steps: int) -> float:
  jax.block_until_ready(fn(x))
  best = float('inf')
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(x))
    best = min(best, time.perf_counter() - start)
  return 1e3 * best / steps


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--digits', type=int, default=5)
  parser.add_argument('--num_layers', type=int, default=1)
  parser.add_argument('--batch_size', type=int, default=256)
  parser.add_argument('--steps', type=int, default=20)
  parser.add_argument('--repeats', type=int, default=5)
  parser.add_argument('--matmul_dtype', default='float32', choices=config_lib.MATMUL_DTYPES)
  parser.add_argument('--trace', action='store_true')
  parser.add_argument('--top', type=int, default=25)
  args = parser.parse_args()

  config = config_lib.base_config()
  config.digits, config.num_layers, config.batch_size = args.digits, args.num_layers, args.batch_size
  config.matmul_dtype = args.matmul_dtype
  model, tx = models.from_config(config), train.create_optimizer(config)
  state = train.init_state(config, model, tx)
  queries, answers = data.generate(args.batch_size, args.digits, seed=0)
  queries, answers = jnp.asarray(queries), jnp.asarray(answers)
  weights = jnp.ones((args.batch_size,))

  def loss(params):
    logits = model.apply({'params': params}, queries)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, answers.astype(jnp.int32)).mean(-1)
    return jnp.sum(weights * loss) / args.batch_size

  def forward(params):
    return jax.tree.map(lambda p: p + 1e-9 * loss(params), params)

  def gradients(params):
    return jax.tree.map(lambda p, g: p - 1e-9 * g, params, jax.grad(loss)(params))

  def step(state):
    updates, opt_state = tx.update(jax.grad(loss)(state['params']), state['opt_state'], state['params'])
    return {**state, 'params': optax.apply_updates(state['params'], updates), 'opt_state': opt_state}

  def adam(state):
    updates, opt_state = tx.update(state['params'], state['opt_state'], state['params'])
    return {**state, 'params': optax.apply_updates(state['params'], updates), 'opt_state': opt_state}

  times = {name: best_ms(repeated(fn, args.steps), x, args.repeats, args.steps)
           for name, fn, x in (('forward', forward, state['params']),
                               ('forward+backward', gradients, state['params']),
                               ('step', step, state), ('adam', adam, state))}
  print(f'{jax.devices()[0].platform}, {jax.device_count()} device(s); digits {args.digits}, '
        f'{args.num_layers} decoder layer(s), batch {args.batch_size}: '
        + ', '.join(f'{name} {ms:.2f} ms' for name, ms in times.items())
        + f'; {args.batch_size / times["step"] * 1e3:,.0f} examples/s')
  if not args.trace:
    return

  program = repeated(step, args.steps)
  jax.block_until_ready(program(state))
  with tempfile.TemporaryDirectory() as trace_dir:
    jax.profiler.start_trace(trace_dir, create_perfetto_trace=True)
    jax.block_until_ready(program(state))
    jax.profiler.stop_trace()
    path = glob.glob(os.path.join(trace_dir, '**', '*.trace.json.gz'), recursive=True)[0]
    with gzip.open(path) as f:
      events = json.load(f)['traceEvents']
  total, count = collections.Counter(), collections.Counter()
  for event in events:
    # Loops and conditionals are left out: their events contain the operations they run.
    if event.get('ph') == 'X' and not event['name'].startswith(('ThunkExecutor', '$', 'while', 'conditional')):
      total[event['name']] += event.get('dur', 0)
      count[event['name']] += 1
  print('XLA operations by time per training step (traced; the tracer adds its own overhead):')
  for name, microseconds in total.most_common(args.top):
    print(f'{microseconds / 1e3 / args.steps:8.3f} ms {count[name] / args.steps:6.1f} calls  {name}')
  kinds = collections.Counter()
  for name, microseconds in total.items():
    kinds[kind_of(name)] += microseconds
  print('by kind: ' + ', '.join(f'{kind} {microseconds / 1e3 / args.steps:.1f} ms'
                                for kind, microseconds in kinds.most_common()))
  print(f'all traced operations: {sum(total.values()) / 1e3 / args.steps:.1f} ms per step; '
        f'{np.round(times["step"], 2)} ms untraced')


def kind_of(name: str) -> str:
  """A coarse kind of an XLA:CPU operation, from its name."""
  if name.startswith(('ynn_fusion', 'dot', 'wrapped_dot')):
    return 'YNNPACK fusions (matmuls, some reductions)'
  if 'dynamic-update-slice' in name:
    return 'per-step writes into sequences'
  if name.startswith('SlinkyThreadPool'):
    return 'waiting on the thread pool'
  return 'elementwise, copies, gathers'



if __name__ == '__main__':
  main()
