"""addjax.workdir: the lock, atomic writes and the repair of metrics.jsonl, on real files and processes."""

import json
import os
import signal
import subprocess
import sys

import pytest

from addjax import config as config_lib
from addjax import workdir as workdir_lib
from conftest import ROOT

HOLD_LOCK = '''from addjax import workdir
import time
with workdir.lock({path!r}):
  print('held', flush=True)
  time.sleep(600)
'''


def record(epoch, loss=1.0):
  return {'epoch': epoch, 'train_loss': loss}


def write_lines(path, lines):
  (path / workdir_lib.METRICS_FILE).write_bytes(''.join(lines).encode())


def test_a_second_owner_is_refused_with_the_first_ones_pid(tmp_path):
  with workdir_lib.lock(str(tmp_path)):
    assert workdir_lib.lock_owner(str(tmp_path)) == f'process {os.getpid()} on host {os.uname().nodename}'
    with pytest.raises(workdir_lib.WorkdirBusyError, match=rf'workdir {tmp_path} is in use by process {os.getpid()}'):
      with workdir_lib.lock(str(tmp_path)):
        pass
  assert workdir_lib.lock_owner(str(tmp_path)) is None
  with workdir_lib.lock(str(tmp_path)):  # Released: the next owner gets it.
    pass


def test_a_killed_owner_leaves_no_stale_lock(tmp_path):
  process = subprocess.Popen([sys.executable, '-c', HOLD_LOCK.format(path=str(tmp_path))], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
  try:
    assert process.stdout.readline().strip() == 'held'
    assert workdir_lib.lock_owner(str(tmp_path)) == f'process {process.pid} on host {os.uname().nodename}'
    with pytest.raises(workdir_lib.WorkdirBusyError, match=f'process {process.pid}'):
      with workdir_lib.lock(str(tmp_path)):
        pass
  finally:
    process.send_signal(signal.SIGKILL)
    process.wait()
  assert workdir_lib.lock_owner(str(tmp_path)) is None
  with workdir_lib.lock(str(tmp_path)):
    pass


def test_write_atomic_writes_text_and_bytes_whole_and_leaves_no_temporary_file(tmp_path):
  path = tmp_path / 'sub' / 'out.txt'
  workdir_lib.write_atomic(str(path), 'one\n')
  workdir_lib.write_atomic(str(path), b'\x89PNG')
  assert path.read_bytes() == b'\x89PNG'
  assert os.listdir(path.parent) == ['out.txt']
  with pytest.raises(IsADirectoryError):
    workdir_lib.write_atomic(str(tmp_path / 'sub'), 'x')  # The rename fails: the temporary file goes too.
  assert os.listdir(tmp_path) == ['sub'] and os.listdir(path.parent) == ['out.txt']


def test_a_file_that_is_already_right_is_left_alone(tmp_path):
  write_lines(tmp_path, [json.dumps(record(e)) + '\n' for e in (1, 2, 3)])
  before = (tmp_path / workdir_lib.METRICS_FILE).stat().st_mtime_ns
  records, note = workdir_lib.repair_metrics(str(tmp_path), 3)
  assert [r['epoch'] for r in records] == [1, 2, 3] and note is None
  assert (tmp_path / workdir_lib.METRICS_FILE).stat().st_mtime_ns == before


def test_lines_past_the_checkpoint_and_a_torn_line_are_cut_in_place(tmp_path):
  lines = [json.dumps(record(e)) + '\n' for e in (1, 2, 3, 4)] + ['{"epoch": 5, "train_lo']
  write_lines(tmp_path, lines)
  inode = (tmp_path / workdir_lib.METRICS_FILE).stat().st_ino
  records, note = workdir_lib.repair_metrics(str(tmp_path), 2)
  assert [r['epoch'] for r in records] == [1, 2]
  assert (tmp_path / workdir_lib.METRICS_FILE).read_text() == ''.join(lines[:2])
  assert (tmp_path / workdir_lib.METRICS_FILE).stat().st_ino == inode  # Truncated: no new file, no space.
  assert note.endswith('kept epochs 1..2, dropped 3 line(s): epoch 3 (past the checkpoint), epoch 4 (past the '
                       'checkpoint), a torn line')


def test_repeats_and_lines_out_of_order_are_dropped_and_the_rest_kept_in_order(tmp_path):
  # Two writers on one workdir: 1..4, then the second one's epoch 1, then 5.
  write_lines(tmp_path, [json.dumps(record(e, loss=e)) + '\n' for e in (1, 2, 3, 4)]
              + [json.dumps(record(1, loss=9.0)) + '\n', 'not json\n', json.dumps(record(5)) + '\n',
                 json.dumps(record(7)) + '\n'])
  records, note = workdir_lib.repair_metrics(str(tmp_path), 6)
  assert [(r['epoch'], r['train_loss']) for r in records] == [(1, 1), (2, 2), (3, 3), (4, 4), (5, 1.0)]
  assert workdir_lib.read_metrics(str(tmp_path)) == records
  assert 'dropped 3 line(s): epoch 1 again, a torn line, epoch 7 (past the checkpoint)' in note
  assert note.endswith('epochs 6..6 have no line')


def test_readers_only_read(tmp_path):
  write_lines(tmp_path, [json.dumps(record(1)) + '\n', json.dumps(record(1)) + '\n'])
  before = (tmp_path / workdir_lib.METRICS_FILE).read_bytes()
  records, note = workdir_lib.repair_metrics(str(tmp_path), 1, write=False)
  assert [r['epoch'] for r in records] == [1] and 'epoch 1 again' in note
  assert (tmp_path / workdir_lib.METRICS_FILE).read_bytes() == before
  assert [r['epoch'] for r in workdir_lib.read_metrics(str(tmp_path))] == [1, 1]


def test_lock_owner_of_a_workdir_never_locked_is_none(tmp_path):
  assert workdir_lib.lock_owner(str(tmp_path)) is None
  assert workdir_lib.lock_owner(str(tmp_path / 'missing')) is None
  assert os.listdir(tmp_path) == []  # Nothing was created by asking.


def test_num_epochs_may_change_on_resume_only_under_a_constant_learning_rate(tmp_path):
  constant = config_lib.base_config()
  workdir_lib.prepare(str(tmp_path / 'constant'), constant)
  longer = config_lib.base_config()
  longer.num_epochs = constant.num_epochs + 10
  workdir_lib.prepare(str(tmp_path / 'constant'), longer)  # The same run, trained for longer.

  cosine = config_lib.base_config()
  cosine.lr_schedule = 'cosine'
  workdir_lib.prepare(str(tmp_path / 'cosine'), cosine)
  cosine.num_epochs += 10
  with pytest.raises(config_lib.ConfigError, match='num_epochs sets the length of its cosine schedule'):
    workdir_lib.prepare(str(tmp_path / 'cosine'), cosine)
  cosine.steps_per_call = 7  # How fast, not what: still free.
  cosine.num_epochs -= 10
  workdir_lib.prepare(str(tmp_path / 'cosine'), cosine)
