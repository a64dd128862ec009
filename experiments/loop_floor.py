"""What bounds an LSTM time step on this CPU: the loop's pieces timed alone, and how a process uses its cores.

python experiments/loop_floor.py steps [--batch_sizes 16 128 256]
python experiments/loop_floor.py devices --mode one|two_programs|psum [--digits 21 --num_layers 5 --batch_size 16]

steps: a 22-step lax.scan of the forward LSTM step at each batch size, [batch, 128] hidden, in variants that add
one piece at a time: the recurrent matmul alone ('matmul'), with the gates and the cell update ('no residuals'),
and with what models.lstm_layer's forward loop writes per step for its backward pass ('residuals'); then the
cost of writing one [batch, 512] sequence per step ('write') against keeping the value in the loop's carry
('carry'). Milliseconds per time step, medians of interleaved repeats.

devices: addjax's training program (programs.make_train_chunk: 20 steps of gradients and Adam in one compiled
call) at --batch_size per device, either on one device ('one'), or as two devices in one process running two
independent programs at once ('two_programs') or one data-parallel program that sums gradients every step
('psum'). Comparing 'one' run in two processes at once (each pinned to a core with taskset) with
'two_programs' tells what sharing one process costs.
"""

import argparse
import time

import jax
import jax.numpy as jnp

from addjax import config as config_lib
from addjax import data
from addjax import models
from addjax import sharding
from addjax import train


def _median_ms(fns: dict, args: tuple, repeats: int, per: int) -> dict[str, float]:
  """Interleaved repeats of each fn(*args); median milliseconds per call divided by `per`."""
  for fn in fns.values():
    jax.block_until_ready(fn(*args))
  times = {name: [] for name in fns}
  for _ in range(repeats):
    for name, fn in fns.items():
      start = time.perf_counter()
      for _ in range(10):
        jax.block_until_ready(fn(*args))
      times[name].append((time.perf_counter() - start) / 10 / per * 1e3)
  return {name: sorted(values)[len(values) // 2] for name, values in times.items()}


def steps(batch_sizes: list[int], repeats: int) -> None:
  hidden, length = 128, 22
  scale, shift = models._gate_constants(hidden)  # pylint: disable=protected-access
  u = jax.random.normal(jax.random.PRNGKey(0), (hidden, 4 * hidden)) * 0.05

  def lstm(kind):
    def step(carry, x):
      h, c_prev = carry
      z = x + h @ u
      if kind == 'matmul':
        return (z[:, :hidden], c_prev), z[:, :hidden]
      a = jnp.tanh(z * scale) * scale + shift
      i, f, g, o = jnp.split(a, 4, axis=-1)
      c = f * c_prev + i * g
      tanh_c = jnp.tanh(c)
      h = o * tanh_c
      if kind == 'no residuals':
        return (h, c), h
      dz_factor = jnp.concatenate([g, c_prev, i, tanh_c], axis=-1) * (scale * scale - (a - shift) ** 2)
      return (h, c), (h, o * (1 - tanh_c * tanh_c), dz_factor, f)
    return jax.jit(lambda xs, zeros: jax.lax.scan(step, (zeros, zeros), xs)[1])

  def write(kind):
    def step(c, x):
      y = c * 1.0001 + x
      return y, (y if kind == 'write' else None)
    return jax.jit(lambda xs, zeros: jax.lax.scan(step, jnp.concatenate([zeros] * 4, -1), xs))

  for batch in batch_sizes:
    xs = jax.random.normal(jax.random.PRNGKey(1), (length, batch, 4 * hidden))
    zeros = jnp.zeros((batch, hidden))
    fns = {kind: lstm(kind) for kind in ('matmul', 'no residuals', 'residuals')}
    fns.update({kind: write(kind) for kind in ('carry', 'write')})
    ms = _median_ms(fns, (xs, zeros), repeats, length)
    gflops = 2 * batch * hidden * 4 * hidden / ms['matmul'] / 1e6
    print(f'batch {batch}: ' + ', '.join(f'{name} {value:.4f}' for name, value in ms.items())
          + f' ms per time step; the matmul at {gflops:.0f} GFLOP/s')


def devices(mode: str, digits: int, num_layers: int, batch_size: int, repeats: int) -> None:
  jax.config.update('jax_num_cpu_devices', 1 if mode == 'one' else 2)  # Before JAX starts its CPU backend.
  config = config_lib.base_config()
  config.digits, config.num_layers, config.batch_size = digits, num_layers, batch_size
  model, tx = models.from_config(config), train.create_optimizer(config)
  queries, answers = (jnp.asarray(x) for x in data.generate(2 * batch_size, digits, seed=0))
  loop_steps = 20

  def runner(mesh, batch):
    """One device's or one mesh's training program: loop_steps steps of addjax's own chunk, in one call."""
    state = jax.device_put(train.init_state(config, model, tx), sharding.replicated(mesh))
    chunk = train.make_train_chunk(model, tx, mesh, microbatch_size=config.microbatch_size)
    indices = jnp.broadcast_to(jnp.arange(batch, dtype=jnp.int32), (1, loop_steps, batch))
    args = jax.device_put((queries, answers, indices, jnp.ones((1, loop_steps, batch))), sharding.replicated(mesh))
    holder = [state]

    def call():
      holder[0], sums = chunk(holder[0], *args, 0)  # The chunk donates the state: keep the one it returns.
      return sums
    return call

  if mode == 'psum':
    calls = [runner(sharding.data_mesh(), 2 * batch_size)]
  else:
    calls = [runner(sharding.data_mesh([device]), batch_size) for device in jax.devices()]
  ms = _median_ms({mode: lambda: [call() for call in calls]}, (), repeats, loop_steps)[mode]
  examples = batch_size * (1 if mode == 'one' else 2)
  print(f'{mode}: digits {digits}, {num_layers} layer(s), batch {batch_size} per device, {jax.device_count()} '
        f'device(s): {ms:.2f} ms per step, {examples / ms * 1e3:,.0f} examples/s in all')


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('what', choices=('steps', 'devices'))
  parser.add_argument('--batch_sizes', type=int, nargs='+', default=[16, 128, 256])
  parser.add_argument('--mode', choices=('one', 'two_programs', 'psum'), default='one')
  parser.add_argument('--digits', type=int, default=21)
  parser.add_argument('--num_layers', type=int, default=5)
  parser.add_argument('--batch_size', type=int, default=16)
  parser.add_argument('--repeats', type=int, default=5)
  args = parser.parse_args()
  if args.what == 'steps':
    steps(args.batch_sizes, args.repeats)
  else:
    devices(args.mode, args.digits, args.num_layers, args.batch_size, args.repeats)


if __name__ == '__main__':
  main()
