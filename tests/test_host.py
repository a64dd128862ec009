import os
import subprocess
import sys

from addjax import host


def test_devices_split_the_batch_evenly_at_most_one_per_core():
  assert host.devices_for(32, cores=2) == 2
  assert host.devices_for(33, cores=2) == 1  # An odd batch cannot be halved: one device.
  assert host.devices_for(30, cores=4) == 3
  assert host.devices_for(256, cores=1) == 1


def _devices_seen(env: dict[str, str]) -> int:
  code = ('from addjax import host; host.use_one_device_per_core(64); import jax; '
          'print(jax.device_count())')
  result = subprocess.run(['taskset', '-c', '0,1', sys.executable, '-c', code], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, check=True)
  return int(result.stdout.strip())


def test_one_device_per_core_unless_the_user_set_a_count():
  assert _devices_seen({'JAX_PLATFORMS': 'cpu'}) == 2
  assert _devices_seen({'JAX_PLATFORMS': 'cpu', 'XLA_FLAGS': '--xla_force_host_platform_device_count=3'}) == 3
