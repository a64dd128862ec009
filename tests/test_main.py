"""The command line end to end: python -m addjax.main in a subprocess, as a user runs it."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TWO_DIGITS = str(ROOT / 'configs' / 'two_digits.py')
# Small and fast, yet the real two-digit data set and training program.
TINY = ['--config.hidden_size=64', '--config.batch_size=64', '--config.learning_rate=0.01',
        '--config.eval_batch_size=128', '--config.num_samples_to_print=3']
TIMING_KEYS = ('examples_per_sec', 'epoch_sec', 'elapsed_sec')
REQUIRED_KEYS = {'epoch', 'train_loss', 'train_char_accuracy', 'val_loss', 'val_char_accuracy',
                 'val_seq_accuracy', 'examples_per_sec', 'elapsed_sec'}


def command(*args):
  return [sys.executable, '-m', 'addjax.main', '--config', TWO_DIGITS, *TINY, *args]


def run(*args, cwd=ROOT):
  return subprocess.run(command(*args), cwd=cwd, capture_output=True, text=True, timeout=300)


def metrics(workdir):
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [json.loads(line) for line in f]


def without_timing(records):
  return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in records]


def test_train_from_the_command_line_into_the_default_workdir(tmp_path):
  result = run('--config.num_epochs=2', cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  workdir = tmp_path / 'runs' / 'two_digits'
  records = metrics(workdir)
  assert [r['epoch'] for r in records] == [1, 2]
  assert REQUIRED_KEYS <= set(records[0])
  assert records[1]['elapsed_sec'] > records[0]['elapsed_sec'] > 0
  with open(workdir / 'config.json') as f:
    stored = json.load(f)
  assert (stored['digits'], stored['training_size'], stored['hidden_size'], stored['num_epochs']) == (2, 5000, 64, 2)
  assert sorted(os.listdir(workdir / 'checkpoints')) == ['1', '2']
  # The seed's sample printout: 3 per epoch, operands in natural order, the true sum after T.
  samples = [line for line in result.stdout.splitlines() if line.startswith('Q ')]
  assert len(samples) == 6
  for line in samples:
    query, rest = line[2:].split(' T ')
    a, b = query.split('+')
    assert rest.split()[0] == str(int(a) + int(b)) and rest.split()[1] in '☑☒'
  assert 'epoch 2/2' in result.stdout and 'val seq accuracy' in result.stdout


def test_sigkill_at_any_moment_then_rerun_gives_the_uninterrupted_metrics(tmp_path):
  args = ['--config.num_epochs=10', '--config.steps_per_call=10']
  straight = tmp_path / 'straight'
  assert run(*args, f'--workdir={straight}').returncode == 0

  killed = tmp_path / 'killed'
  # Kill at different points of the run: as soon as epoch 1's line is written (often before its checkpoint
  # commits), and a little later, mid-epoch or mid-save.
  for min_lines, delay in ((1, 0.0), (4, 0.15)):
    process = subprocess.Popen(command(*args, f'--workdir={killed}'), cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
      path = killed / 'metrics.jsonl'
      if path.exists() and len(path.read_text().splitlines()) >= min_lines:
        break
      time.sleep(0.01)
    time.sleep(delay)
    assert process.poll() is None, 'the run ended before it could be killed'
    process.send_signal(signal.SIGKILL)
    process.wait()
  result = run(*args, f'--workdir={killed}')
  assert result.returncode == 0, result.stderr
  assert 'resuming after epoch' in result.stdout
  assert without_timing(metrics(killed)) == without_timing(metrics(straight))


@pytest.mark.parametrize('args, fragment', [
    (['--config.digits=0'], 'config.digits=0'),
    (['--config.training_size=5051'], '5,050'),
    (['--config.batch_size=4501'], 'config.batch_size'),
    (['--config.digits=two'], 'digits'),
    (['--config.digitz=3'], 'unknown config field'),
    (['surplus'], 'unexpected arguments'),
])
def test_bad_input_ends_in_one_line_and_exit_status_2(tmp_path, args, fragment):
  workdir = tmp_path / 'w'
  result = run(*args, f'--workdir={workdir}')
  assert result.returncode == 2
  assert result.stderr.startswith('error: ') and fragment in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1 and 'Traceback' not in result.stderr
  assert not workdir.exists()


def test_missing_config_file_is_a_usage_error(tmp_path):
  result = subprocess.run([sys.executable, '-m', 'addjax.main', '--config', str(tmp_path / 'nope.py')],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert result.returncode == 2 and 'no such file' in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1
