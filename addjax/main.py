"""Trains an experiment: python -m addjax.main --config configs/five_digits.py [--config.FIELD=V] [--workdir DIR].

Running the same command on the same workdir resumes from its newest intact checkpoint. The run uses every device
it sees (the batch is split over them). Several processes, on one host or many, join one run with
--coordinator_address, --num_processes and --process_id (the same command in each, but the process id), or
with --distributed where jax.distributed.initialize finds them in the cluster's environment (Slurm, Open MPI,
Cloud TPU, ...). See docs/scaling.md.
"""

import os
import re
import sys

# Process-wide settings are the command's, made here before the imports below load scipy's OpenBLAS (flax
# and orbax do), which reads its thread count once. On a CPU the QR decompositions of the orthogonal
# initialisers run in that OpenBLAS, whose threads spin while they wait: on a machine whose cores are busy,
# one 512x128 QR then takes seconds instead of a millisecond. One thread is plenty for matrices this small;
# XLA's own matmuls do not use OpenBLAS. A value the user set is kept.
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

from absl import app
from absl import flags
import jax
import ml_collections
from ml_collections import config_flags

from addjax import checkpoint
from addjax import config as config_lib
from addjax import host
from addjax import train
from addjax import workdir as workdir_lib
from addjax.cli import one_line, quiet_logs, usage_error

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Experiment config file, e.g. configs/three_digits.py; '
                                'any field can be overridden, e.g. --config.num_epochs=5.')
flags.DEFINE_string('workdir', None, 'Where config.json, metrics.jsonl and checkpoints/ go '
                    '(default: runs/<config file name>). In a run of several processes, a directory they all '
                    'see.')
flags.DEFINE_string('coordinator_address', None, 'Several processes: host:port of process 0, where it '
                    'listens for the others; the same in every process. Implies --distributed.')
flags.DEFINE_integer('num_processes', None, 'Several processes: how many join the run. Implies --distributed.')
flags.DEFINE_integer('process_id', None, 'Several processes: this one\'s number, 0 .. num_processes - 1; '
                     'process 0 writes the files and the printout. Implies --distributed.')
flags.DEFINE_boolean('distributed', False, 'Join a run of several processes through '
                     'jax.distributed.initialize: what the three flags above leave out, it reads from the '
                     'cluster\'s environment (Slurm, Open MPI, Cloud TPU, JAX_COORDINATOR_ADDRESS, ...).')

flags.DEFINE_string('compilation_cache', os.path.join(
    os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'addjax', 'xla'),
                    'Where compiled XLA programs are kept between runs (JAX\'s persistent compilation cache): '
                    'a rerun, a resume or another seed of the same setting loads its programs instead of '
                    'compiling them. An empty value turns the cache off; JAX_COMPILATION_CACHE_DIR, if set, wins.')

_DISTRIBUTED_FLAGS = ('coordinator_address', 'num_processes', 'process_id')


# A config file that fails to load, or an override that does not fit, surfaces as one of these.
_CONFIG_ERRORS = (flags.Error, ValueError, TypeError, KeyError, AttributeError, OSError, SyntaxError)


def parse_flags(argv: list[str]) -> list[str]:
  """absl's parse of the command line; a bad flag or config override ends in usage_error's one line."""
  try:
    return FLAGS(argv)
  except _CONFIG_ERRORS as e:
    known = config_lib.base_config().keys()
    for arg in argv[1:]:
      field = re.match(r'--config\.(\w+)', arg)
      if field and field.group(1) not in known:
        usage_error(f'unknown config field in {arg}; known fields: {", ".join(sorted(known))}')
    usage_error(one_line(e))


def load_config() -> ml_collections.ConfigDict:
  """The --config with its overrides; config_flags defers a load failure to the first access."""
  if not FLAGS['config'].present:
    usage_error('--config is required, e.g. --config configs/three_digits.py')
  path = config_flags.get_config_filename(FLAGS['config'])
  if not os.path.isfile(path):
    usage_error(f'--config {path}: no such file; accepted: a Python file with get_config(), '
                'e.g. configs/three_digits.py')
  try:
    config = FLAGS.config
    config.to_dict()
  except _CONFIG_ERRORS as e:
    usage_error(f'cannot load --config {path}: {one_line(e)}')
  return config


def join_processes() -> None:
  """jax.distributed.initialize, when the flags ask for several processes; before any other JAX call."""
  given = {name: FLAGS[name].value for name in _DISTRIBUTED_FLAGS if FLAGS[name].value is not None}
  if not (FLAGS.distributed or given):
    return
  num_processes, process_id = given.get('num_processes'), given.get('process_id')
  if num_processes is not None and num_processes < 1:
    usage_error(f'--num_processes={num_processes} is not accepted: expected an integer >= 1')
  if process_id is not None and not 0 <= process_id < (num_processes or process_id + 1):
    accepted = f'0 .. {num_processes - 1}' if num_processes else 'an integer >= 0'
    usage_error(f'--process_id={process_id} is not accepted: expected {accepted}')
  address = given.get('coordinator_address')
  if address is not None and not re.fullmatch(r'\S+:[0-9]+', address):
    usage_error(f'--coordinator_address={address!r} is not accepted: expected host:port, e.g. 10.0.0.1:1234')
  try:
    jax.distributed.initialize(address, num_processes, process_id)
  except (RuntimeError, ValueError, TypeError) as e:
    usage_error(f'cannot join the processes of the run ({one_line(e)}); give --coordinator_address, '
                '--num_processes and --process_id, or run where jax.distributed finds them in the environment')


def use_compilation_cache(directory: str) -> None:
  """Keeps every compiled program of the run in directory, so the next run with the same shapes skips XLA.

  JAX caches only programs that took longer than a threshold to compile (1 s by default); the evaluation and
  initialisation programs take less and are still seconds of a short run's start-up, so every program is kept.
  """
  if not directory or os.environ.get('JAX_COMPILATION_CACHE_DIR'):
    return
  jax.config.update('jax_compilation_cache_dir', directory)
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)


def default_workdir(config_path: str) -> str:
  """runs/<config file name without .py>."""
  return os.path.join('runs', os.path.splitext(os.path.basename(config_path))[0])


def main(argv: list[str]) -> None:
  """Trains the --config into --workdir; every failure a user can act on ends in one line on stderr."""
  if len(argv) > 1:
    usage_error(f'unexpected arguments {argv[1:]}; accepted: --config FILE [--config.FIELD=VALUE ...] '
                '[--workdir DIR] [--coordinator_address HOST:PORT --num_processes N --process_id I]')
  config = load_config()
  try:
    config_lib.validate(config)  # Before joining other processes, so that a bad value fails at once.
  except config_lib.ConfigError as e:
    usage_error(str(e))
  host.use_one_device_per_core(config.batch_size)
  use_compilation_cache(FLAGS.compilation_cache)
  join_processes()
  quiet_logs()
  workdir = FLAGS.workdir or default_workdir(config_flags.get_config_filename(FLAGS['config']))
  try:
    train.train_and_evaluate(config, workdir)
  except (config_lib.ConfigError, workdir_lib.WorkdirBusyError) as e:
    usage_error(str(e))
  except checkpoint.NoIntactCheckpointError as e:
    usage_error(f'{workdir}: {e}; nothing was changed: restore the checkpoints or choose a new --workdir')
  except (train.NonFiniteLossError, train.StorageError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
