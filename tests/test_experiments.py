"""experiments/runs.py, sweep.py and reproduce_table.py: real training subprocesses on a tiny grid, and the
summaries and tables on metrics whose numbers are known."""

import importlib.util
import json
import math
import pathlib
import subprocess
import sys

import pytest

from addjax import host
from addjax import workdir as workdir_lib

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXPERIMENTS = ROOT / 'experiments'
TINY = ('--set', 'training_size=600', '--set', 'num_epochs=2', '--set', 'eval_batch_size=256',
        '--set', 'num_samples_to_print=0', '--set', 'hidden_size=16')


def load_script(name: str):
  sys.path.insert(0, str(EXPERIMENTS))
  spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f'{name}.py')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


runs = load_script('runs')


def script(name: str, *args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, str(EXPERIMENTS / f'{name}.py'), *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=600)


def write_metrics(path: pathlib.Path, val_seq: list[float], val_char: list[float] | None = None) -> None:
  """A metrics.jsonl whose epoch e has val_seq[e-1]; the other accuracies derived from it."""
  path.mkdir(parents=True, exist_ok=True)
  with open(path / 'metrics.jsonl', 'w') as f:
    for epoch, seq in enumerate(val_seq, 1):
      char = val_char[epoch - 1] if val_char else min(1.0, seq + 0.05)
      f.write(json.dumps({'epoch': epoch, 'train_loss': 1.0, 'train_char_accuracy': char,
                          'train_seq_accuracy': seq, 'val_loss': 1.0, 'val_char_accuracy': char,
                          'val_seq_accuracy': seq, 'examples_per_sec': 1000.0 * epoch, 'epoch_sec': 1.0,
                          'elapsed_sec': 10.0 * epoch}) + '\n')


@pytest.fixture(scope='module')
def sweep(tmp_path_factory):
  """A 2-point sweep trained for real: two subprocesses at once, one seed each."""
  tmp = tmp_path_factory.mktemp('sweep')
  args = ('--name', 'tiny', '--config', 'two_digits', '--grid', 'num_layers=1,2', '--grid', 'digits=2', *TINY,
          '--root', str(tmp / 'runs'), '--results', str(tmp / 'results'), '--parallel', '2')
  result = script('sweep', *args)
  assert result.returncode == 0, result.stderr
  return tmp, args, result


def test_sweep_trains_every_point_and_summarises_its_metrics(sweep):
  tmp, _, result = sweep
  out = json.loads((tmp / 'results' / 'sweep_tiny.json').read_text())
  assert out['grid'] == {'num_layers': [1, 2], 'digits': [2]}
  assert [r['point'] for r in out['rows']] == [{'num_layers': 1, 'digits': 2}, {'num_layers': 2, 'digits': 2}]
  for row in out['rows']:
    workdir = tmp / 'runs' / 'tiny' / f'num_layers-{row["point"]["num_layers"]}__digits-2' / 'seed0'
    config = json.loads((workdir / 'config.json').read_text())
    assert (config['num_layers'], config['training_size'], config['hidden_size']) == (
        row['point']['num_layers'], 600, 16)
    last = workdir_lib.read_metrics(str(workdir))[-1]
    assert last['epoch'] == 2 and row['seeds'] == [0]
    assert row['val_seq_accuracy_mean'] == last['val_seq_accuracy']
    assert row['val_char_accuracy_mean'] == last['val_char_accuracy']
    assert row['wall_sec'] == last['elapsed_sec']
  assert 'started' in result.stdout and 'num_layers (rows) x digits (columns)' in result.stdout
  # Progress as the runs start and end: both at once (two slots), then one done, then both.
  progress = [line for line in result.stdout.splitlines() if line.startswith('progress: ')]
  assert progress[0] == 'progress: 0 of 2 done, 2 running, 0 waiting'
  assert progress[-1] == 'progress: 2 of 2 done, 0 running, 0 waiting'
  assert any(line.startswith('progress: 1 of 2 done, 1 running, 0 waiting; about ') for line in progress)


def test_progress_line_estimates_the_time_left_from_the_runs_timed():
  assert runs.progress_line(0, 2, 4, [], 2) == 'progress: 0 of 6 done, 2 running, 4 waiting'
  # 5 runs left, 2 at a time: 3 rounds of the mean run's 600 s, 30 minutes.
  assert runs.progress_line(2, 2, 3, [500.0, 700.0], 2) == (
      'progress: 2 of 7 done, 2 running, 3 waiting; about 30 min left (from 2 run(s) timed)')
  assert runs.progress_line(5, 0, 0, [60.0], 2) == 'progress: 5 of 5 done, 0 running, 0 waiting'


def test_rerunning_a_sweep_skips_finished_runs(sweep):
  tmp, args, _ = sweep
  metrics = tmp / 'runs' / 'tiny' / 'num_layers-1__digits-2' / 'seed0' / 'metrics.jsonl'
  before = metrics.read_text()
  result = script('sweep', *args)
  assert result.returncode == 0, result.stderr
  assert result.stdout.count('finished, skipped') == 2 and 'started' not in result.stdout
  assert metrics.read_text() == before


def test_a_longer_setting_resumes_a_finished_shorter_run(sweep):
  """How a reduced row is extended: the same workdir, more epochs, the first epochs' records kept."""
  tmp, _, _ = sweep
  root = str(tmp / 'runs' / 'tiny')
  before = workdir_lib.read_metrics(runs.workdir(root, 'num_layers-1__digits-2', 0))
  fields = (('num_layers', 1), ('digits', 2), ('training_size', 600), ('num_epochs', 3),
            ('eval_batch_size', 256), ('num_samples_to_print', 0), ('hidden_size', 16))
  longer = runs.Setting('num_layers-1__digits-2', 'two_digits', fields)
  assert runs.run_all(root, [(longer, 0)], parallel=1) == []
  after = workdir_lib.read_metrics(runs.workdir(root, longer.name, 0))
  assert [r['epoch'] for r in after] == [1, 2, 3] and after[:2] == before


def test_summarize_means_stds_and_epochs_to_target(tmp_path):
  setting = runs.Setting('row', 'two_digits', (('num_epochs', 3),))
  write_metrics(tmp_path / 'row' / 'seed0', [0.5, 0.991, 0.995])
  write_metrics(tmp_path / 'row' / 'seed1', [0.5, 0.9, 0.985])
  write_metrics(tmp_path / 'row' / 'seed2', [0.2])  # interrupted after one epoch
  row = runs.summarize(setting, str(tmp_path), [0, 1, 2, 3])
  assert row['seeds'] == [0, 1] and row['seeds_unfinished'] == [{'seed': 2, 'epochs_done': 1}]
  assert row['val_seq_accuracy_mean'] == pytest.approx(0.99)
  assert row['val_seq_accuracy_std'] == pytest.approx(math.sqrt(2) * 0.005)  # sample std of 0.995, 0.985
  assert row['val_seq_accuracy_min'] == 0.985
  assert row['epochs_to_99_seq_per_seed'] == [2, None] and row['epochs_to_99_seq_reached'] == 1
  assert row['epochs_to_99_seq'] == 2
  assert row['epochs_to_99_char_per_seed'] == [2, 3] and row['epochs_to_99_char'] == 2.5
  assert row['examples_per_sec'] == 2000.0  # median epoch of each seed
  assert row['wall_sec'] == 30.0


def test_reproduce_table_reports_claims_per_row(tmp_path):
  # two_digits: 55 epochs; seed 0 ends above 0.99 everywhere, seed 1 below it on seq only.
  write_metrics(tmp_path / 'two_digits' / 'seed0', [0.995] * 55, [0.999] * 55)
  write_metrics(tmp_path / 'two_digits' / 'seed1', [0.95] * 55, [0.992] * 55)
  write_metrics(tmp_path / 'fourteen_digits' / 'seed0', [0.1], [0.5])
  out = tmp_path / 'table'
  result = script('reproduce_table', '--summarize_only', '--rows', 'two_digits', 'fourteen_digits', 'five_digits',
                  '--root', str(tmp_path), '--out', str(out), '--device', 'a test machine')
  assert result.returncode == 0, result.stderr
  rows = {r['name']: r for r in json.loads(out.with_suffix('.json').read_text())}
  assert rows['two_digits']['seeds'] == [0, 1]
  assert (rows['two_digits']['claim_held_char'], rows['two_digits']['claim_held_seq']) == ('yes', 'no')
  assert rows['two_digits']['val_seq_accuracy_mean'] == pytest.approx(0.9725)
  # A long row still training: its seed is shown at its epoch, never as finished, and no claim is judged.
  assert rows['fourteen_digits']['num_epochs'] == 25 and rows['fourteen_digits']['claim_held_char'] == '-'
  assert rows['fourteen_digits']['seeds'] == []
  assert rows['fourteen_digits']['seeds_unfinished'] == [{'seed': 0, 'epochs_done': 1}]
  assert rows['five_digits']['seeds'] == [] and rows['five_digits']['val_char_accuracy_mean'] is None
  table = out.with_suffix('.md').read_text()
  assert 'a test machine' in table and '| two_digits | seed settings |' in table
  assert '| 0, seed 0 running: epoch 1 of 25 |' in table
  assert '0.9725 ± 0.0318' in table  # val seq: mean ± sample std of 0.995 and 0.95


def test_reproduce_table_keeps_the_rows_it_does_not_rewrite(tmp_path):
  out = tmp_path / 'table'
  write_metrics(tmp_path / 'five_digits' / 'seed0', [0.995] * 30)
  write_metrics(tmp_path / 'two_digits' / 'seed0', [0.9] * 55)
  first = script('reproduce_table', '--summarize_only', '--rows', 'five_digits', '--root', str(tmp_path),
                 '--out', str(out), '--device', 'machine A')
  assert first.returncode == 0, first.stderr
  # A row of a setting that is no longer in the table is dropped when the table is next written.
  rows = json.loads(out.with_suffix('.json').read_text())
  out.with_suffix('.json').write_text(json.dumps(rows + [dict(rows[0], name='twentyone_digits_100k')]))
  second = script('reproduce_table', '--summarize_only', '--rows', 'two_digits', '--root', str(tmp_path),
                  '--out', str(out), '--device', 'machine B')
  assert second.returncode == 0, second.stderr
  rows = json.loads(out.with_suffix('.json').read_text())
  assert [(r['name'], r['device']) for r in rows] == [('two_digits', 'machine B'), ('five_digits', 'machine A')]
  assert rows[1]['val_seq_accuracy_mean'] == pytest.approx(0.995)
  assert 'Measured on machine A and on machine B.' in out.with_suffix('.md').read_text()


def test_reproduce_table_stops_before_training_when_its_table_cannot_be_kept(tmp_path):
  out = tmp_path / 'table'
  out.with_suffix('.json').write_text('{"not": "a table"}')
  result = script('reproduce_table', '--rows', 'two_digits', '--seeds', '1', '--root', str(tmp_path / 'runs'),
                  '--out', str(out))
  assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
  assert 'is not a table' in result.stderr and 'Traceback' not in result.stderr
  assert not (tmp_path / 'runs').exists() and out.with_suffix('.json').read_text() == '{"not": "a table"}'


@pytest.mark.parametrize('name, args, says', [
    ('sweep', ('--name', 'x', '--config', 'two_digits', '--grid', 'digits=0'), 'config.digits=0'),
    ('sweep', ('--name', 'x', '--config', 'no_such', '--grid', 'digits=2'), 'no config file'),
    ('sweep', ('--name', 'x', '--config', 'two_digits', '--grid', 'colour=2'), "'colour' is not a config field"),
    ('sweep', ('--name', 'x', '--config', 'two_digits', '--grid', 'num_layers=1,many'), 'num_layers'),
    ('sweep', ('--name', 'x', '--config', 'two_digits', '--grid', 'digits'), 'FIELD=VALUE'),
    ('sweep', ('--name', '../x', '--config', 'two_digits', '--grid', 'digits=2'), '--name'),
    ('reproduce_table', ('--rows', 'six_digits'), 'six_digits'),
    ('reproduce_table', ('--seeds', '0'), '--seeds'),
])
def test_bad_command_lines_end_in_one_line_and_train_nothing(tmp_path, name, args, says):
  result = script(name, *args, '--root', str(tmp_path / 'runs'))
  assert result.returncode == 2
  assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr
  assert 'Traceback' not in result.stderr and not (tmp_path / 'runs').exists()


def test_a_locked_workdir_is_running_elsewhere_not_failed(tmp_path, monkeypatch, capsys):
  root = str(tmp_path)
  setting = runs.Setting('row', 'two_digits', (('num_epochs', 1), ('training_size', 600), ('hidden_size', 16)))
  path = runs.workdir(root, 'row', 0)
  pathlib.Path(path).mkdir(parents=True)
  with workdir_lib.lock(path):  # As a run started by hand holds it.
    assert runs.run_all(root, [(setting, 0)], parallel=1) == []
    assert 'running elsewhere (process' in capsys.readouterr().out
    assert not (tmp_path / 'row' / 'seed0' / 'train.log').exists()  # Nothing was started.

    # Locked between the check and the start: the run itself finds the lock taken and exits 2 at once.
    real_owner, checks = runs.workdir_lib.lock_owner, []

    def owner_after_the_first_check(path):
      checks.append(path)
      return None if len(checks) == 1 else real_owner(path)

    monkeypatch.setattr(runs.workdir_lib, 'lock_owner', owner_after_the_first_check)
    assert runs.run_all(root, [(setting, 0)], parallel=1) == []
    out = capsys.readouterr().out
    assert 'started' in out and 'running elsewhere (process' in out and 'FAILED' not in out
    assert 'is in use by process' in (tmp_path / 'row' / 'seed0' / 'train.log').read_text()
  assert not (tmp_path / 'row' / 'seed0' / 'metrics.jsonl').exists()


def test_core_slots_share_the_cores_out_evenly_and_leave_too_many_runs_unpinned():
  assert runs.core_slots(1, [0, 1]) == [{0, 1}]
  assert runs.core_slots(2, [0, 1]) == [{0}, {1}]
  assert runs.core_slots(2, [0, 1, 2, 3, 4]) == [{0, 1}, {2, 3}]
  assert runs.core_slots(3, [0, 1]) == [None, None, None]


@pytest.mark.skipif(len(runs.os.sched_getaffinity(0)) < 2, reason='pinning two runs needs two cores')
def test_runs_side_by_side_each_train_on_cores_of_their_own(tmp_path):
  fields = (('training_size', 600), ('num_epochs', 1), ('eval_batch_size', 256), ('num_samples_to_print', 0),
            ('hidden_size', 16))
  setting = runs.Setting('tiny', 'two_digits', fields)
  cores = sorted(runs.os.sched_getaffinity(0))
  assert runs.run_all(str(tmp_path), [(setting, 0), (setting, 1)], parallel=2) == []
  # addjax.host splits the cores a run may use into devices: one run's share of the machine, not all of it.
  devices = host.devices_for(32, len(cores) // 2)
  for seed in (0, 1):
    log = (tmp_path / 'tiny' / f'seed{seed}' / 'train.log').read_text()
    assert f'on {devices} cpu device(s)' in log, log


def test_reproduce_table_keeps_a_copy_of_each_finished_seeds_metrics(tmp_path):
  out = tmp_path / 'results' / 'table'
  write_metrics(tmp_path / 'five_digits' / 'seed0', [0.995] * 30)
  write_metrics(tmp_path / 'five_digits' / 'seed1', [0.5] * 3)  # Unfinished: no copy.
  result = script('reproduce_table', '--summarize_only', '--rows', 'five_digits', '--seeds', '2',
                  '--root', str(tmp_path), '--out', str(out))
  assert result.returncode == 0, result.stderr
  row, = json.loads(out.with_suffix('.json').read_text())
  copy = tmp_path / 'results' / 'table_metrics' / 'five_digits' / 'seed0'
  assert [(ROOT / d).resolve() for d in row['metrics_dirs']] == [copy.resolve()]
  assert workdir_lib.read_metrics(str(copy)) == workdir_lib.read_metrics(str(tmp_path / 'five_digits' / 'seed0'))
  assert not (copy.parent / 'seed1').exists()
