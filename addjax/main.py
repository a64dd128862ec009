"""Trains an experiment: python -m addjax.main --config configs/five_digits.py [--config.batch_size=128] [--workdir DIR].

Running the same command on the same workdir resumes from its latest checkpoint.
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging
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


def parse_flags(argv: list[str]) -> list[str]:
  try:
    return FLAGS(argv)
  except flags.Error as e:
    usage_error(str(e).splitlines()[0] if str(e) else type(e).__name__)
  except (ValueError, TypeError, AttributeError, OSError, SyntaxError) as e:
    # A config file that fails to load, or an override of the wrong type, surfaces as a plain exception.
    usage_error(f'cannot load --config: {e}')


def default_workdir(config_path: str) -> str:
  return os.path.join('runs', os.path.splitext(os.path.basename(config_path))[0])


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    usage_error(f'unexpected arguments {argv[1:]}; accepted: --config FILE [--config.FIELD=VALUE ...] '
                '[--workdir DIR]')
  if FLAGS.config is None:
    usage_error('--config is required, e.g. --config configs/three_digits.py')
  logging.set_verbosity(logging.WARNING)  # Orbax logs every file it writes at INFO.
  workdir = FLAGS.workdir or default_workdir(config_flags.get_config_filename(FLAGS['config']))
  try:
    train.train_and_evaluate(FLAGS.config, workdir)
  except config_lib.ConfigError as e:
    usage_error(str(e))
  except train.NonFiniteLossError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
