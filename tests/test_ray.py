"""--launcher ray: a tiny sweep on a real Ray cluster that the test starts on this machine, against --launcher local.

The cluster (`ray start --head` on 127.0.0.1, 2 CPUs) is started once for the module and its processes are
stopped at the end, each by its pid.
"""

import importlib.util
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from addjax import workdir as workdir_lib

if importlib.util.find_spec('ray') is None:
  pytest.skip("--launcher ray needs Ray, an optional extra: pip install -e '.[ray]' (or '.[test]')",
              allow_module_level=True)

ROOT = pathlib.Path(__file__).resolve().parent.parent
RAY = pathlib.Path(sys.executable).parent / 'ray'
# One point, two seeds: two runs, each long enough (eight epochs of about a second) to be killed mid-run.
SWEEP = ('--name', 'tiny', '--config', 'three_digits', '--grid', 'hidden_size=32', '--seeds', '2',
         '--set', 'training_size=10000', '--set', 'num_epochs=8', '--set', 'batch_size=64',
         '--set', 'learning_rate=0.01', '--set', 'eval_batch_size=256', '--set', 'num_samples_to_print=0')
# What differs between two sweeps of the same runs: the clock, and where the runs are.
NOT_COMPARED = ('wall_sec', 'examples_per_sec', 'workdirs')


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def process_table() -> dict[int, tuple[int, int]]:
  """{pid: (parent pid, session id)} of every process, from /proc."""
  table = {}
  for entry in os.listdir('/proc'):
    if entry.isdigit():
      try:
        with open(f'/proc/{entry}/stat') as f:
          fields = f.read().rsplit(')', 1)[1].split()
        table[int(entry)] = (int(fields[1]), int(fields[3]))
      except (OSError, ValueError, IndexError):
        continue
  return table


def cluster_pids(session: int) -> list[int]:
  """The cluster's processes: the daemons `ray start` left in its session, and all their descendants (the
  workers, which start sessions of their own, and the runs they train)."""
  table = process_table()
  found = {pid for pid, (_, sid) in table.items() if sid == session}
  frontier = set(found)
  while frontier:
    frontier = {pid for pid, (ppid, _) in table.items() if ppid in frontier} - found
    found |= frontier
  return sorted(found)


def parent(pid: int) -> int:
  return process_table()[pid][0]


def alive(pid: int) -> bool:
  try:
    with open(f'/proc/{pid}/stat') as f:
      return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
  except OSError:
    return False


@pytest.fixture(scope='module')
def cluster():
  """The address of a Ray head node started here for the module: 2 CPUs, its files in a temp dir of its own."""
  temp_dir = tempfile.mkdtemp(prefix='ray', dir='/tmp')  # Short: Ray's socket paths must fit in 107 bytes.
  port = free_port()
  start = subprocess.Popen(
      [str(RAY), 'start', '--head', '--node-ip-address', '127.0.0.1', '--port', str(port), '--num-cpus', '2',
       '--num-gpus', '0', '--temp-dir', temp_dir, '--include-dashboard', 'false', '--disable-usage-stats',
       '--ray-client-server-port', str(free_port()), '--dashboard-port', str(free_port())],
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
  try:
    output, _ = start.communicate(timeout=180)
    assert start.returncode == 0, output
    yield f'127.0.0.1:{port}'
  finally:
    start.kill()  # Only if still starting.
    pids = cluster_pids(start.pid)
    for pid in pids:
      try:
        os.kill(pid, signal.SIGTERM)
      except ProcessLookupError:
        pass
    deadline = time.time() + 5
    while time.time() < deadline and any(alive(pid) for pid in pids):
      time.sleep(0.2)
    for pid in pids:
      if alive(pid):
        try:
          os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
          pass
    shutil.rmtree(temp_dir, ignore_errors=True)


def sweep(tmp: pathlib.Path, *launcher: str) -> subprocess.Popen:
  return subprocess.Popen([sys.executable, str(ROOT / 'experiments' / 'sweep.py'), *SWEEP, '--root', str(tmp / 'runs'),
                           '--results', str(tmp / 'results'), *launcher], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> str:
  """Waits for a sweep and returns its printout, asserting that it succeeded."""
  try:
    stdout, stderr = process.communicate(timeout=600)
  finally:
    if process.poll() is None:
      process.kill()
      process.wait()
  assert process.returncode == 0, stdout + stderr
  return stdout


def summary(tmp: pathlib.Path) -> dict:
  """The sweep's summary JSON, less what depends on the clock or on where the runs are."""
  with open(tmp / 'results' / 'sweep_tiny.json') as f:
    result = json.load(f)
  for row in result['rows']:
    for key in NOT_COMPARED:
      row.pop(key)
  return result


@pytest.fixture(scope='module')
def local(tmp_path_factory):
  """The sweep's summary through --launcher local: what every Ray sweep below must give."""
  tmp = tmp_path_factory.mktemp('local')
  finish(sweep(tmp, '--launcher', 'local', '--parallel', '2'))
  return summary(tmp)


def test_a_sweep_on_a_ray_cluster_gives_the_local_launchers_summary(cluster, local, tmp_path):
  stdout = finish(sweep(tmp_path, '--launcher', 'ray', '--ray_address', cluster, '--cpus_per_run', '1'))
  assert stdout.count(': submitted') == 2 and stdout.count(': done in ') == 2, stdout
  assert summary(tmp_path) == local
  assert local['rows'][0]['seeds'] == [0, 1]
  for seed in (0, 1):
    workdir = tmp_path / 'runs' / 'tiny' / 'hidden_size-32' / f'seed{seed}'
    assert [r['epoch'] for r in workdir_lib.read_metrics(str(workdir))] == list(range(1, 9))
    assert 'epoch 8/8' in (workdir / 'train.log').read_text()

  # Rerun: every run is finished, nothing is submitted.
  stdout = finish(sweep(tmp_path, '--launcher', 'ray', '--ray_address', cluster))
  assert stdout.count('finished, skipped') == 2 and ': submitted' not in stdout


def test_killed_runs_are_retried_by_ray_and_resume_to_the_same_summary(cluster, local, tmp_path):
  process = sweep(tmp_path, '--launcher', 'ray', '--ray_address', cluster, '--cpus_per_run', '1')
  runs = tmp_path / 'runs' / 'tiny' / 'hidden_size-32'
  try:
    # Once a run has committed a checkpoint (its second line is written): seed 0's training process is killed
    # (as by the OOM killer); seed 1's Ray worker is killed, as when a node dies, and its run dies with it.
    killed, deadline = {}, time.time() + 400
    while len(killed) < 2:
      assert process.poll() is None and time.time() < deadline, 'the runs did not get to their second epoch'
      for seed, kill_worker in ((0, False), (1, True)):
        workdir = str(runs / f'seed{seed}')
        owner = workdir_lib.lock_owner(workdir)
        if seed in killed or not owner or len(workdir_lib.read_metrics(workdir)) < 2:
          continue
        pid = int(owner.split()[1])  # 'process PID on host H'
        with open(f'/proc/{parent(pid)}/cmdline', 'rb') as f:
          assert f.read().startswith(b'ray::'), 'the training process is not a Ray worker\'s child'
        target = parent(pid) if kill_worker else pid
        os.kill(target, signal.SIGKILL)
        assert len(workdir_lib.read_metrics(workdir)) < 8, 'the run ended before it could be killed'
        killed[seed] = (pid, target)
      time.sleep(0.01)
    stdout = finish(process)
  finally:
    if process.poll() is None:
      process.kill()
      process.wait()

  assert stdout.count(': done in ') == 2, stdout
  assert summary(tmp_path) == local
  for seed, (pid, target) in killed.items():
    assert not alive(pid) and not alive(target)
    log = (runs / f'seed{seed}' / 'train.log').read_text()
    assert 'resuming after epoch' in log and 'epoch 8/8' in log, log
    assert [r['epoch'] for r in workdir_lib.read_metrics(str(runs / f'seed{seed}'))] == list(range(1, 9))


@pytest.mark.parametrize('args, says', [
    (('--launcher', 'slurm'), "invalid choice: 'slurm'"),
    (('--launcher', 'ray', '--gpus_per_run', '-1'), '--gpus_per_run'),
    (('--parallel', '0'), '--parallel'),
])
def test_bad_launcher_settings_end_in_one_line_and_train_nothing(tmp_path, args, says):
  for script in ('sweep', 'reproduce_table'):
    extra = ('--name', 'x', '--config', 'two_digits', '--grid', 'digits=2') if script == 'sweep' else ()
    result = subprocess.run([sys.executable, str(ROOT / 'experiments' / f'{script}.py'), *extra, *args,
                             '--root', str(tmp_path / 'runs')], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr, result.stderr
    assert not (tmp_path / 'runs').exists()
