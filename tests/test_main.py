"""The command line end to end: python -m addjax.main in a subprocess, as a user runs it."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

from conftest import kill_after_lines, tree

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


# Ten epochs of ten-step calls: long enough to be caught mid-run, the same in every test below.
LONG = ['--config.num_epochs=10', '--config.steps_per_call=10']


@pytest.fixture(scope='module')
def straight(tmp_path_factory):
  """An uninterrupted run of LONG: the metrics every interrupted one must end with."""
  workdir = tmp_path_factory.mktemp('straight') / 'run'
  result = run(*LONG, f'--workdir={workdir}')
  assert result.returncode == 0, result.stderr
  return workdir


# XLA's alarm when a compile takes minutes, as it does when a busy machine pauses the process: not the run's.
SLOW_COMPILE_ALARM = ('slow_operation_alarm', '*****', 'Very slow compile')


def stderr_lines(result):
  """The lines a command wrote on stderr, less XLA's slow-compile alarm (asserting there is no traceback)."""
  assert 'Traceback' not in result.stderr, result.stderr
  return [line for line in result.stderr.splitlines()
          if line.strip() and not any(mark in line for mark in SLOW_COMPILE_ALARM)]


def one_error_line(result):
  """The one line a failed command printed on stderr (asserting that it printed no more)."""
  lines = stderr_lines(result)
  assert len(lines) == 1, result.stderr
  return lines[0]


def lock_taken(workdir):
  """Whether a run has taken workdir's lock (and written its name in the lock file)."""
  path = workdir / 'lock'
  return path.exists() and bool(path.read_text().strip())


def damage(checkpoint_dir):
  """Cuts every file of the checkpoint's state to half its size, as a copy cut short would."""
  files = [p for p in (checkpoint_dir / 'state').rglob('*') if p.is_file() and p.stat().st_size > 1]
  assert files
  for path in files:
    with open(path, 'r+b') as f:
      f.truncate(path.stat().st_size // 2)


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


def test_a_rerun_loads_every_program_from_the_compilation_cache_and_trains_the_same(tmp_path):
  cache = tmp_path / 'cache'
  first = run('--config.num_epochs=2', f'--workdir={tmp_path / "first"}', f'--compilation_cache={cache}')
  assert first.returncode == 0, first.stderr
  entries = sorted(os.listdir(cache))
  assert entries, 'nothing was cached'
  second = run('--config.num_epochs=2', f'--workdir={tmp_path / "second"}', f'--compilation_cache={cache}')
  assert second.returncode == 0, second.stderr
  # Every program was found: a compile would have added an entry.
  assert sorted(os.listdir(cache)) == entries
  assert without_timing(metrics(tmp_path / 'second')) == without_timing(metrics(tmp_path / 'first'))
  off = run('--config.num_epochs=1', f'--workdir={tmp_path / "off"}', '--compilation_cache=',
            '--config.hidden_size=48')
  assert off.returncode == 0, off.stderr
  assert sorted(os.listdir(cache)) == entries


def test_sigkill_at_any_moment_then_rerun_gives_the_uninterrupted_metrics(tmp_path, straight):
  killed = tmp_path / 'killed'
  # Kill at different points of the run: as soon as epoch 1's line is written (often before its checkpoint
  # commits), and a little later, mid-epoch or mid-save.
  for min_lines, delay in ((1, 0.0), (4, 0.15)):
    kill_after_lines(command(*LONG, f'--workdir={killed}'), killed, min_lines, delay, timeout=120)
  assert (killed / 'lock').exists()  # The killed run's lock file stays; its lock went with the process.
  result = run(*LONG, f'--workdir={killed}')
  assert result.returncode == 0, result.stderr
  assert 'resuming after epoch' in result.stdout
  assert without_timing(metrics(killed)) == without_timing(metrics(straight))


def test_a_second_run_on_a_busy_workdir_exits_2_and_the_first_finishes_alone(tmp_path, straight):
  workdir = tmp_path / 'run'
  first = subprocess.Popen(command(*LONG, f'--workdir={workdir}'), cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 120
  while time.time() < deadline and not lock_taken(workdir):
    time.sleep(0.01)
  second = run(*LONG, f'--workdir={workdir}')
  assert first.poll() is None, 'the first run ended before the second one started: the test proves nothing'
  assert second.returncode == 2
  line = one_error_line(second)
  assert line.startswith(f'error: workdir {workdir} is in use by process {first.pid} on host ')
  assert first.wait(timeout=300) == 0, first.stderr.read()
  assert [r['epoch'] for r in metrics(workdir)] == list(range(1, 11))
  assert without_timing(metrics(workdir)) == without_timing(metrics(straight))


def test_a_damaged_latest_checkpoint_falls_back_to_the_newest_intact_one(tmp_path, straight):
  workdir = tmp_path / 'run'
  shutil.copytree(straight, workdir)
  damage(workdir / 'checkpoints' / '10')
  # And what two writers or a kill could have left: a repeated line, a torn one, an unfinished save.
  lines = (workdir / 'metrics.jsonl').read_text().splitlines(keepends=True)
  with open(workdir / 'metrics.jsonl', 'a') as f:
    f.write(lines[2] + lines[3][:20])
  (workdir / 'checkpoints' / '11.orbax-checkpoint-tmp-1234').mkdir()

  result = run(*LONG, f'--workdir={workdir}')
  assert result.returncode == 0, result.stderr
  notes = stderr_lines(result)
  assert len(notes) == 3, result.stderr
  assert notes[0].startswith(f'note: {workdir}: checkpoint 10 cannot be read (') and notes[0].endswith(
      '; using checkpoint 9, the newest intact one; moved to damaged_checkpoints/')
  assert notes[1] == f'note: {workdir}: removed the checkpoint(s) a save left unfinished: 11.orbax-checkpoint-tmp-1234'
  assert notes[2] == (f'note: {workdir / "metrics.jsonl"}: kept epochs 1..9, dropped 3 line(s): epoch 10 (past the '
                      'checkpoint), epoch 3 again, a torn line')
  assert 'resuming after epoch 9' in result.stdout
  assert without_timing(metrics(workdir)) == without_timing(metrics(straight))
  assert sorted(os.listdir(workdir / 'checkpoints')) == ['10', '8', '9']
  assert os.listdir(workdir / 'damaged_checkpoints') == ['10']

  # No checkpoint intact: one line, exit 2, every file still there.
  for step in (8, 9, 10):
    damage(workdir / 'checkpoints' / str(step))
  def sizes():  # The lock file names the last owner: its size follows the pid.
    return {name: size for name, (size, _) in tree(workdir).items() if name != 'lock'}

  before = sizes()
  result = run(*LONG, f'--workdir={workdir}')
  assert result.returncode == 2
  line = one_error_line(result)
  assert line.startswith(f'error: {workdir}: no checkpoint can be read (tried 10, 9, 8; the newest: ')
  assert line.endswith('nothing was changed: restore the checkpoints or choose a new --workdir')
  assert sizes() == before


@pytest.fixture
def small_disk(tmp_path):
  """A real 16 MB tmpfs, mounted for the test: a file system that fills up."""
  if os.geteuid() != 0 or not shutil.which('mount'):
    pytest.skip('mounting a tmpfs needs root')
  disk = tmp_path / 'disk'
  disk.mkdir()
  mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', str(disk)], capture_output=True)
  if mounted.returncode:
    pytest.skip(f'cannot mount a tmpfs here: {mounted.stderr.decode().strip()}')
  yield disk
  subprocess.run(['umount', str(disk)], check=True)


def test_a_full_disk_stops_in_one_line_and_the_rerun_resumes_once_space_is_freed(small_disk, straight):
  checkpoint_bytes = sum(p.stat().st_size for p in (straight / 'checkpoints' / '10').rglob('*') if p.is_file())
  # Leave room for two checkpoints and a half: the save of epoch 3 runs out of space.
  free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
  with open(small_disk / 'filler', 'wb') as f:
    f.write(b'\0' * (free - int(2.5 * checkpoint_bytes)))
  workdir = small_disk / 'run'
  result = run(*LONG, f'--workdir={workdir}')
  assert result.returncode == 1
  line = one_error_line(result)
  assert line.startswith(f'error: cannot save epoch 3 in {workdir}: No space left on device; stopped: '
                         'checkpoint 2 and the metrics up to it are kept'), line
  assert sorted(os.listdir(workdir / 'checkpoints')) == ['1', '2']  # No partial checkpoint left.
  assert [r['epoch'] for r in metrics(workdir)] == [1, 2]

  (small_disk / 'filler').unlink()
  result = run(*LONG, f'--workdir={workdir}')
  assert result.returncode == 0, result.stderr
  assert 'resuming after epoch 2' in result.stdout
  assert without_timing(metrics(workdir)) == without_timing(metrics(straight))


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
