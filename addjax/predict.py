"""Answers addition problems with a trained run.

  python -m addjax.predict --workdir W [--step N] [--model_seed S] [--json] [a+b ...]

Each argument, or each non-blank line of stdin when there are none, is one problem "a+b"; the answers come
from one compiled call over the whole batch, printed as "535+61=596". Every input is checked before any
compute: a bad problem, workdir, step or model seed ends in one line on stderr and exit status 2. The model
and its flags are addjax.inference's.
"""

import json
import sys

from absl import app
from absl import flags

from addjax import cli
from addjax import inference

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The flags of this command; called only when it runs, so importing the module defines none."""
  inference.define_run_flags()
  flags.DEFINE_boolean('json', False, 'Print one JSON object instead of "a+b=answer" lines.')


def read_stdin() -> tuple[list[str], list[str]]:
  """The non-blank lines of stdin and their names ('stdin line N')."""
  try:
    text = sys.stdin.buffer.read().decode('utf-8')
  except UnicodeDecodeError as e:
    raise inference.InputError(f'stdin is not UTF-8 text ({e.reason} at byte {e.start}); '
                               'accepted: one "a+b" per line') from None
  lines = [(f'stdin line {i}', line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
  return [line for _, line in lines], [name for name, _ in lines]


def main(argv: list[str]) -> None:
  cli.quiet_logs()
  try:
    config = inference.read_config(FLAGS.workdir)
    texts, sources = (argv[1:], None) if len(argv) > 1 else read_stdin()
    problems = inference.parse_problems(texts, config.digits, sources)
    run = inference.load(FLAGS.workdir, FLAGS.step, config, FLAGS.model_seed)
  except inference.InputError as e:
    cli.usage_error(str(e))
  inference.say_note(run)
  predictions = run.answers(problems)
  if FLAGS.json:
    print(json.dumps({'workdir': run.workdir, 'step': run.step, 'model_seed': run.model_seed,
                      'digits': config.digits,
                      'predictions': [inference.record(p, answer) for p, answer in zip(problems, predictions)]}))
  else:
    for (a, b), answer in zip(problems, predictions):
      print(f'{a}+{b}={answer}')


if __name__ == '__main__':
  define_flags()
  app.run(main, flags_parser=inference.parse_flags)
