"""A run's TensorBoard event files, read back with TensorBoard's own reader: they equal its metrics.jsonl."""

import errno
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from addjax import summaries
from addjax import train
from addjax import workdir as workdir_lib
from conftest import kill_after_lines, tiny_run_config

pytest.importorskip('tensorboardX', reason="the TensorBoard writer is an optional extra: pip install -e '.[test]'")
event_accumulator = pytest.importorskip(
    'tensorboard.backend.event_processing.event_accumulator',
    reason="TensorBoard's reader comes with the tensorboard package: pip install -e '.[test]'")
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The tag of each metrics.jsonl key that TensorBoard shows.
TAGS = {'train_loss': 'train/loss', 'train_char_accuracy': 'train/char_accuracy',
        'train_seq_accuracy': 'train/seq_accuracy', 'val_loss': 'val/loss', 'val_char_accuracy': 'val/char_accuracy',
        'val_seq_accuracy': 'val/seq_accuracy', 'learning_rate': 'learning_rate',
        'examples_per_sec': 'examples_per_sec', 'epoch_sec': 'epoch_sec'}


def read_events(run_dir: pathlib.Path) -> event_accumulator.EventAccumulator:
  """Every event of the run in run_dir, as TensorBoard loads it, but keeping any orphaned (repeated) steps.

  TensorBoard hides a step written again after a restart; the test reads what the files themselves hold.
  """
  accumulator = event_accumulator.EventAccumulator(str(run_dir), size_guidance={'scalars': 0},
                                                   purge_orphaned_data=False)
  accumulator.Reload()
  return accumulator


def assert_events_equal_metrics(run_dir: pathlib.Path, records: list[dict], seed_index: int | None = None) -> None:
  """Each tag's (step, value) pairs are the records' epochs and values, once each, to float32 precision."""
  events = read_events(run_dir)
  assert sorted(events.Tags()['scalars']) == sorted(TAGS.values())
  for key, name in TAGS.items():
    want = [(r['epoch'], np.float32(r[key] if seed_index is None or key in train.RUN_KEYS else r[key][seed_index]))
            for r in records]
    assert [(e.step, np.float32(e.value)) for e in events.Scalars(name)] == want, name


def hparams_of(run_dir: pathlib.Path) -> dict:
  """The hparams plugin's session start info of the run: {name: value}."""
  content = read_events(run_dir).PluginTagToContent('hparams')['_hparams_/session_start_info']
  values = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
  return {name: getattr(value, value.WhichOneof('kind')) for name, value in values.items()}


def event_files(run_dir: pathlib.Path) -> list[pathlib.Path]:
  return sorted(run_dir.glob('events.out.tfevents.*'))


def test_a_runs_event_files_hold_its_metrics_and_its_config_as_hparams(trained_workdir):
  records = workdir_lib.read_metrics(str(trained_workdir))
  assert [r['epoch'] for r in records] == list(range(1, 13))
  assert len(event_files(trained_workdir)) == 1
  assert_events_equal_metrics(trained_workdir, records)
  assert all(r['learning_rate'] == 0.01 for r in records)  # The tiny run's constant schedule.

  with open(trained_workdir / 'config.json') as f:
    config = json.load(f)
  hparams = hparams_of(trained_workdir)
  assert set(hparams) == set(config)
  assert (hparams['digits'], hparams['hidden_size'], hparams['learning_rate']) == (2, 64, 0.01)
  assert (hparams['lstm_impl'], hparams['reverse']) == (config['lstm_impl'], True)


def test_each_seed_of_a_num_seeds_run_is_a_run_of_its_own(two_seed_workdir):
  records = workdir_lib.read_metrics(str(two_seed_workdir))
  assert not event_files(two_seed_workdir)
  for index, seed in enumerate((0, 1)):
    run_dir = two_seed_workdir / f'seed{seed}'
    assert len(event_files(run_dir)) == 1
    assert_events_equal_metrics(run_dir, records, seed_index=index)
    assert (hparams_of(run_dir)['seed'], hparams_of(run_dir)['num_seeds']) == (seed, 2)
  values = [read_events(two_seed_workdir / f'seed{seed}').Scalars('train/loss')[-1].value for seed in (0, 1)]
  assert values[0] != values[1]


def test_a_resume_drops_the_steps_that_metrics_jsonl_dropped(trained_workdir, tmp_path):
  # As if killed after epoch 12's line and events were written but before its checkpoint committed: the
  # resume cuts metrics.jsonl back to epoch 11 and trains epoch 12 again.
  workdir = tmp_path / 'run'
  shutil.copytree(trained_workdir, workdir)
  shutil.rmtree(workdir / 'checkpoints' / '12')
  train.train_and_evaluate(tiny_run_config(), str(workdir))
  records = workdir_lib.read_metrics(str(workdir))
  assert [r['epoch'] for r in records] == list(range(1, 13))
  assert len(event_files(workdir)) == 1
  assert_events_equal_metrics(workdir, records)


# The command, shrunk: the real two-digit data set and training program, ten short epochs.
COMMAND = [sys.executable, '-m', 'addjax.main', '--config', str(ROOT / 'configs' / 'two_digits.py'),
           '--config.hidden_size=64', '--config.batch_size=64', '--config.learning_rate=0.01',
           '--config.eval_batch_size=128', '--config.num_samples_to_print=0', '--config.num_epochs=10',
           '--config.steps_per_call=10']


def test_sigkill_mid_run_then_resume_leaves_events_equal_to_metrics(tmp_path):
  workdir = tmp_path / 'run'
  # Killed as soon as an epoch's line is written (its events follow it; its checkpoint often has not
  # committed), and later mid-epoch.
  for min_lines, delay in ((2, 0.0), (5, 0.15)):
    kill_after_lines([*COMMAND, f'--workdir={workdir}'], workdir, min_lines, delay)
    # Whatever the kill left, the next start makes the events match metrics.jsonl as it resumes from them.
  result = subprocess.run([*COMMAND, f'--workdir={workdir}'], cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  assert 'resuming after epoch' in result.stdout
  records = workdir_lib.read_metrics(str(workdir))
  assert [r['epoch'] for r in records] == list(range(1, 11))
  assert len(event_files(workdir)) == 1
  assert_events_equal_metrics(workdir, records)


def test_without_tensorboardx_a_run_says_so_once_and_writes_no_events(tmp_path, monkeypatch, capsys):
  monkeypatch.setitem(sys.modules, 'tensorboardX', None)  # What an environment without the extra imports.
  writer = summaries.open_writer(str(tmp_path), tiny_run_config(), [])
  writer.write({'epoch': 1, 'train_loss': 1.0})
  writer.close()
  assert capsys.readouterr().err.splitlines() == [
      "note: tensorboardX is not installed, so this run writes no TensorBoard event files (pip install -e "
      "'.[tensorboard]' adds them)"]
  assert not event_files(tmp_path)


def test_a_failed_event_write_is_said_once_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
  from tensorboardX import record_writer

  writer = summaries.open_writer(str(tmp_path), tiny_run_config(), [])

  def no_space(self):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

  monkeypatch.setattr(record_writer.RecordWriter, 'flush', no_space)
  writer.write({'epoch': 1, 'train_loss': 1.0})
  writer.write({'epoch': 2, 'train_loss': 0.5})
  writer.close()
  assert capsys.readouterr().err.splitlines() == [
      f'note: cannot write TensorBoard event files in {tmp_path}: No space left on device; training goes on '
      'without them, and its next start writes them again']
