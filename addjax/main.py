"""Trains an experiment: python -m addjax.main --config configs/five_digits.py [--config.batch_size=128] [--workdir DIR].

Running the same command on the same workdir resumes from its latest checkpoint.
"""

import os
import re
import sys

from absl import app
from absl import flags
from absl import logging
import ml_collections
from ml_collections import config_flags

from addjax import config as config_lib
from addjax import train

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Experiment config file, e.g. configs/three_digits.py; '
                                'any field can be overridden, e.g. --config.num_epochs=5.')
flags.DEFINE_string('workdir', None, 'Where config.json, metrics.jsonl and checkpoints/ go '
                    '(default: runs/<config file name>).')


def usage_error(message: str) -> None:
  """A mistake the user can fix: one line on stderr, exit status 2, no traceback."""
  print(f'error: {message}', file=sys.stderr)
  sys.exit(2)


def one_line(error: Exception) -> str:
  """An error's message on one line: its first line and, for a wrapped traceback, the last (the cause)."""
  text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
  lines = [line.strip() for line in str(text).splitlines() if line.strip()]
  if not lines:
    return type(error).__name__
  return lines[0] if len(lines) == 1 else f'{lines[0]} {lines[-1]}'


# A config file that fails to load, or an override that does not fit, surfaces as one of these.
_CONFIG_ERRORS = (flags.Error, ValueError, TypeError, KeyError, AttributeError, OSError, SyntaxError)


def parse_flags(argv: list[str]) -> list[str]:
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


def default_workdir(config_path: str) -> str:
  return os.path.join('runs', os.path.splitext(os.path.basename(config_path))[0])


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    usage_error(f'unexpected arguments {argv[1:]}; accepted: --config FILE [--config.FIELD=VALUE ...] '
                '[--workdir DIR]')
  config = load_config()
  logging.set_verbosity(logging.WARNING)  # Orbax logs every file it writes at INFO.
  workdir = FLAGS.workdir or default_workdir(config_flags.get_config_filename(FLAGS['config']))
  try:
    train.train_and_evaluate(config, workdir)
  except config_lib.ConfigError as e:
    usage_error(str(e))
  except train.NonFiniteLossError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
