"""How a process lays out its host's CPU for JAX: one CPU device per core.

XLA:CPU runs an LSTM's time loop one small operation after another, and a [batch, 128] x [128, 512] matmul
or a gate update is too small to keep two threads busy; most of each step is one core waiting on another.
Split into one device per core, the training program runs data parallel (addjax.train): each core runs the
whole loop on its share of every batch, and the cores meet once per step to sum gradients. On the 2-core
machines of this project that is 1.0-1.6x the throughput of one device (docs/performance.md).

This has to happen before JAX initialises its CPU backend, so entry points (addjax.main, addjax.benchmark)
call use_one_device_per_core() first.
"""

import os

import jax


def cpu_cores() -> int:
  """The cores this process may run on."""
  return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)


def devices_for(batch_size: int, cores: int) -> int:
  """The most devices, at most one per core, that split batch_size evenly."""
  return max(d for d in range(1, max(cores, 1) + 1) if batch_size % d == 0)


def use_one_device_per_core(batch_size: int) -> int | None:
  """Splits the host's CPU into devices_for(batch_size, cores) JAX devices, unless the user chose a count.

  A count given in XLA_FLAGS (--xla_force_host_platform_device_count) or JAX_NUM_CPU_DEVICES is kept.
  Accelerators are unaffected: JAX then runs on them and the CPU devices stay idle.

  Args:
    batch_size: the global batch; every device must get the same share of it.
  Returns:
    The number of CPU devices set, or None where the user's choice was kept.
  """
  if ('xla_force_host_platform_device_count' in os.environ.get('XLA_FLAGS', '')
      or 'JAX_NUM_CPU_DEVICES' in os.environ):
    return None
  count = devices_for(batch_size, cpu_cores())
  jax.config.update('jax_num_cpu_devices', count)
  return count
