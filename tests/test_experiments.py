"""experiments/runs.py, sweep.py and reproduce_table.py: real training subprocesses on a tiny grid, and the
summaries and tables on metrics whose numbers are known."""

import importlib.util
import json
import math
import pathlib
import shutil
import subprocess
import sys

import pytest

from addjax import cost
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
  assert progress[:2] == ['progress: 0 of 2 done, 0 running, 2 waiting', 'progress: 0 of 2 done, 2 running, 0 waiting']
  assert progress[-1] == 'progress: 2 of 2 done, 0 running, 0 waiting'
  assert any(line.startswith('progress: 1 of 2 done, 1 running, 0 waiting; about ')
             and line.endswith(' min left') for line in progress)


def test_a_sweep_rerun_on_another_machine_skips_the_runs_its_results_kept(sweep, tmp_path):
  """The record of finished runs travels with the results: no workdir is needed to skip or summarise them."""
  tmp, args, _ = sweep
  for point in ('num_layers-1__digits-2', 'num_layers-2__digits-2'):
    kept = tmp / 'results' / 'sweep_tiny_metrics' / point / 'seed0'
    workdir = tmp / 'runs' / 'tiny' / point / 'seed0'
    assert (kept / 'config.json').read_text() == (workdir / 'config.json').read_text()
    assert workdir_lib.read_metrics(str(kept)) == workdir_lib.read_metrics(str(workdir))
  shutil.copytree(tmp / 'results', tmp_path / 'results')
  elsewhere = [*args[:args.index('--root')], '--root', str(tmp_path / 'runs'), '--results', str(tmp_path / 'results'),
               '--parallel', '2']
  result = script('sweep', *elsewhere)
  assert result.returncode == 0, result.stderr
  assert result.stdout.count('finished (kept in ') == 2 and 'started' not in result.stdout
  assert 'progress: 2 of 2 done, 0 running, 0 waiting' in result.stdout.splitlines()
  assert not (tmp_path / 'runs' / 'tiny').exists()  # Nothing trained.
  before = json.loads((tmp / 'results' / 'sweep_tiny.json').read_text())['rows']
  after = json.loads((tmp_path / 'results' / 'sweep_tiny.json').read_text())['rows']
  for old, new in zip(before, after):
    assert new['seeds'] == [0] and new['val_seq_accuracy_mean'] == old['val_seq_accuracy_mean']
    assert new['wall_sec'] == old['wall_sec'] and new['workdirs'][0].endswith('seed0')
    assert 'sweep_tiny_metrics' in new['workdirs'][0]


def test_a_kept_run_counts_only_for_the_config_it_was_trained_with(tmp_path):
  setting = runs.Setting('row', 'two_digits', (('num_epochs', 3),))
  kept = tmp_path / 'kept'
  for seed in (0, 1, 2):
    write_metrics(tmp_path / 'runs' / 'row' / f'seed{seed}', [0.5, 0.9, 0.995])
    config = runs.seed_config(setting, seed)
    if seed == 1:
      config.learning_rate = 0.5  # Trained with another config than the setting's.
    (tmp_path / 'runs' / 'row' / f'seed{seed}' / 'config.json').write_text(json.dumps(config.to_dict()))
  (tmp_path / 'runs' / 'row' / 'seed2' / 'config.json').unlink()  # No config to compare: not counted.
  runs.keep_finished(setting, str(tmp_path / 'runs'), [0, 1, 2], str(kept))
  assert sorted(p.name for p in (kept / 'row' / 'seed0').iterdir()) == ['config.json', 'metrics.jsonl']
  shutil.rmtree(tmp_path / 'runs')  # The machine is gone; the record is all there is.
  row = runs.summarize(setting, str(tmp_path / 'runs'), [0, 1, 2], str(kept))
  assert row['seeds'] == [0] and row['val_seq_accuracy_mean'] == 0.995
  assert [(u['seed'], u['started']) for u in row['seeds_unfinished']] == [(1, False), (2, False)]
  assert row['workdirs'] == [str(kept / 'row' / 'seed0')]  # Outside the repository: absolute.
  assert runs.summarize(setting, str(tmp_path / 'runs'), [0, 1, 2])['seeds'] == []  # Without the record.
  # A longer setting is another run: the copy has not finished it.
  longer = runs.Setting('row', 'two_digits', (('num_epochs', 4),))
  assert runs.summarize(longer, str(tmp_path / 'runs'), [0], str(kept))['seeds'] == []


def test_a_workdir_trained_with_another_config_is_neither_counted_nor_resumed(tmp_path, capsys):
  """A config file edited after its runs trained: their workdirs are another run, said so, and left alone."""
  setting = runs.Setting('row', 'two_digits', (('num_epochs', 3),))
  root, kept = tmp_path / 'runs', tmp_path / 'kept'
  for seed in (0, 1):
    write_metrics(root / 'row' / f'seed{seed}', [0.5, 0.9, 0.995])
    config = runs.seed_config(setting, seed)
    if seed == 1:
      config.learning_rate = 0.5  # What the file said when seed 1 trained.
    (root / 'row' / f'seed{seed}' / 'config.json').write_text(json.dumps(config.to_dict()))
  write_metrics(root / 'row' / 'seed2', [0.5, 0.9, 0.995])  # No config.json: nothing tells it apart.
  assert runs.other_run(runs.seed_config(setting, 0), str(root / 'row' / 'seed0')) is None
  assert 'learning_rate 0.5 -> 0.001' in runs.other_run(runs.seed_config(setting, 1), str(root / 'row' / 'seed1'))
  before = (root / 'row' / 'seed1' / 'metrics.jsonl').read_text()

  row = runs.summarize(setting, str(root), [0, 1, 2])
  assert row['seeds'] == [0, 2]
  assert [(u['seed'], u['other_config'], u['epochs_done']) for u in row['seeds_unfinished']] == [(1, True, 3)]
  assert runs.seeds_text(row) == '2, unfinished: seed 1 not trained with this config (its workdir holds another run)'
  runs.keep_finished(setting, str(root), [0, 1, 2], str(kept))
  assert sorted(p.name for p in (kept / 'row').iterdir()) == ['seed0', 'seed2']

  failed = runs.run_all(str(root), [(setting, 0), (setting, 1)], parallel=1)
  out = capsys.readouterr().out
  assert failed == [str(root / 'row' / 'seed1')]
  assert f'{root}/row/seed0: finished, skipped' in out
  assert f'{root}/row/seed1: FAILED, not started: workdir' in out and 'learning_rate 0.5 -> 0.001' in out
  assert out.splitlines()[-1] == 'progress: 1 of 2 done, 0 running, 0 waiting, 1 failed'
  assert (root / 'row' / 'seed1' / 'metrics.jsonl').read_text() == before  # Neither trained nor resumed.
  assert not (root / 'row' / 'seed1' / 'train.log').exists()


def test_progress_line_says_the_time_left_in_minutes_or_hours():
  assert runs.progress_line(0, 2, 4, None) == 'progress: 0 of 6 done, 2 running, 4 waiting'
  assert runs.progress_line(2, 2, 3, 1800.0) == 'progress: 2 of 7 done, 2 running, 3 waiting; about 30 min left'
  assert runs.progress_line(2, 2, 3, 9000.0) == 'progress: 2 of 7 done, 2 running, 3 waiting; about 2.5 h left'
  assert runs.progress_line(5, 0, 0, 60.0) == 'progress: 5 of 5 done, 0 running, 0 waiting'
  # Runs another process holds, and runs that failed, are neither done nor left to this process.
  assert runs.progress_line(3, 2, 1, 600.0, elsewhere=1, failed=2) == (
      'progress: 3 of 9 done, 2 running, 1 waiting, 1 running elsewhere, 2 failed; about 10 min left')


def test_seconds_left_measures_the_speed_and_shares_the_work_out(tmp_path):
  def job(name, digits, layers, size, epochs, speeds):
    config = runs.Setting(name, 'two_digits', (('digits', digits), ('num_layers', layers),
                                               ('training_size', size), ('num_epochs', epochs))).load()
    path = tmp_path / name
    path.mkdir()
    for epoch, speed in enumerate(speeds, 1):
      workdir_lib.append_metrics(str(path), {'epoch': epoch, 'examples_per_sec': speed})
    return config, str(path)

  small = job('small', 3, 1, 1_000, 4, [900.0, 450.0])  # Two epochs trained, in 1 s and 2 s.
  big = job('big', 5, 2, 2_000, 2, [])  # None trained yet.
  small_epoch, big_epoch = cost.training_flops_per_epoch(small[0]), cost.training_flops_per_epoch(big[0])
  assert big_epoch > 4 * small_epoch  # Twice the examples, a longer query and answer, and a second layer.
  jobs, todo = [small, big], {small[1], big[1]}
  speed = 2 * small_epoch / 3.0
  # Two slots: the big job alone outlasts half the work.
  assert runs.seconds_left(jobs, todo, 2) == pytest.approx(2 * big_epoch / speed)
  assert runs.seconds_left(jobs, todo, 1) == pytest.approx((2 * small_epoch + 2 * big_epoch) / speed)
  # A job not to be trained here (running elsewhere) measures the speed but adds no work.
  assert runs.seconds_left(jobs, {small[1]}, 2) == pytest.approx(2 * small_epoch / speed)
  assert runs.seconds_left([big], {big[1]}, 2) is None  # nothing measured yet
  assert runs.seconds_left(jobs, set(), 2) == 0.0  # nothing left


def test_rerunning_a_sweep_skips_finished_runs(sweep):
  tmp, args, _ = sweep
  metrics = tmp / 'runs' / 'tiny' / 'num_layers-1__digits-2' / 'seed0' / 'metrics.jsonl'
  before = metrics.read_text()
  result = script('sweep', *args)
  assert result.returncode == 0, result.stderr
  assert result.stdout.count('finished, skipped') == 2 and 'started' not in result.stdout
  assert 'progress: 2 of 2 done, 0 running, 0 waiting' in result.stdout.splitlines()
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
  (tmp_path / 'row' / 'seed3').mkdir()
  (tmp_path / 'row' / 'seed3' / workdir_lib.CONFIG_FILE).write_text(  # started, in its first epoch
      json.dumps(runs.seed_config(setting, 3).to_dict()))
  row = runs.summarize(setting, str(tmp_path), [0, 1, 2, 3, 4])
  assert row['seeds'] == [0, 1]
  # Each unfinished seed with its latest epoch's numbers, kept out of the means.
  assert row['seeds_unfinished'] == [
      {'seed': 2, 'started': True, 'running': False, 'other_config': False, 'epochs_done': 1,
       'val_char_accuracy': 0.25, 'val_seq_accuracy': 0.2},
      {'seed': 3, 'started': True, 'running': False, 'other_config': False, 'epochs_done': 0,
       'val_char_accuracy': None, 'val_seq_accuracy': None},
      # Asked for, never started: listed, so that no table hides it.
      {'seed': 4, 'started': False, 'running': False, 'other_config': False, 'epochs_done': 0,
       'val_char_accuracy': None, 'val_seq_accuracy': None}]
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
  write_metrics(tmp_path / 'twentyone_digits' / 'seed0', [0.1] * 20, [0.75] * 20)
  out = tmp_path / 'table'
  summarize = ['--summarize_only', '--root', str(tmp_path), '--out', str(out), '--device', 'a test machine']
  # A seed whose workdir no process holds has stopped; one whose lock is held is training.
  result = script('reproduce_table', '--rows', 'fourteen_digits', *summarize)
  assert result.returncode == 0, result.stderr
  assert ('| 0, unfinished: seed 0 stopped at epoch 1 of 25 (val 0.5000 char, 0.1000 seq), seed 1 not started, '
          'seed 2 not started |') in out.with_suffix('.md').read_text()
  with workdir_lib.lock(str(tmp_path / 'fourteen_digits' / 'seed0')):
    result = script('reproduce_table', '--rows', 'two_digits', 'fourteen_digits', 'five_digits', 'twentyone_digits',
                    *summarize)
  assert result.returncode == 0, result.stderr
  rows = {r['name']: r for r in json.loads(out.with_suffix('.json').read_text())}
  assert rows['two_digits']['seeds'] == [0, 1]
  assert (rows['two_digits']['claim_held_char'], rows['two_digits']['claim_held_seq']) == ('yes', 'no')
  assert rows['two_digits']['val_seq_accuracy_mean'] == pytest.approx(0.9725)
  # The notebook's 21-digit run claims ~0.77, not 99%: nothing to hold, though its seed finished.
  assert rows['twentyone_digits']['seeds'] == [0]
  assert (rows['twentyone_digits']['claim_held_char'], rows['twentyone_digits']['claim_held_seq']) == ('-', '-')
  # A long row still training: its seed is shown at its epoch, never as finished, and no claim is judged.
  assert rows['fourteen_digits']['num_epochs'] == 25 and rows['fourteen_digits']['claim_held_char'] == '-'
  assert rows['fourteen_digits']['seeds'] == []
  first, *others = rows['fourteen_digits']['seeds_unfinished']
  assert first == {'seed': 0, 'started': True, 'running': True, 'other_config': False, 'epochs_done': 1,
                   'val_char_accuracy': 0.5, 'val_seq_accuracy': 0.1}
  assert [(u['seed'], u['started']) for u in others] == [(1, False), (2, False)]
  assert rows['five_digits']['seeds'] == [] and rows['five_digits']['val_char_accuracy_mean'] is None
  table = out.with_suffix('.md').read_text()
  assert 'a test machine' in table and '| two_digits | seed settings |' in table
  assert ('| 0, unfinished: seed 0 running at epoch 1 of 25 (val 0.5000 char, 0.1000 seq), seed 1 not started, '
          'seed 2 not started |') in table
  # Three seeds asked for: a third never started is named; a row none of whose seeds started says so.
  assert '| 2, unfinished: seed 2 not started |' in table and '| five_digits | seed settings | 5 |' in table
  assert '| 5 | 1 | 550,000 | 30 | 32 | not started | - |' in table
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
    out = capsys.readouterr().out
    assert 'running elsewhere (process' in out
    assert out.splitlines()[-1] == 'progress: 0 of 1 done, 0 running, 0 waiting, 1 running elsewhere'
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
    assert out.splitlines()[-1] == 'progress: 0 of 1 done, 0 running, 0 waiting, 1 running elsewhere'
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
  write_metrics(tmp_path / 'runs' / 'five_digits' / 'seed0', [0.995] * 30)
  config = runs.seed_config(runs.Setting('five_digits', 'five_digits'), 0).to_dict()
  (tmp_path / 'runs' / 'five_digits' / 'seed0' / 'config.json').write_text(json.dumps(config))
  write_metrics(tmp_path / 'runs' / 'five_digits' / 'seed1', [0.5] * 3)  # Unfinished: no copy.
  summarize = ('--summarize_only', '--rows', 'five_digits', '--seeds', '2', '--root', str(tmp_path / 'runs'),
               '--out', str(out))
  result = script('reproduce_table', *summarize)
  assert result.returncode == 0, result.stderr
  row, = json.loads(out.with_suffix('.json').read_text())
  copy = tmp_path / 'results' / 'table_metrics' / 'five_digits' / 'seed0'
  assert [(ROOT / d).resolve() for d in row['metrics_dirs']] == [copy.resolve()]
  workdir = tmp_path / 'runs' / 'five_digits' / 'seed0'
  assert workdir_lib.read_metrics(str(copy)) == workdir_lib.read_metrics(str(workdir))
  assert json.loads((copy / 'config.json').read_text()) == config
  assert not (copy.parent / 'seed1').exists()
  # The workdir gone (another machine), the row is summarised from the copy, as before.
  shutil.rmtree(workdir)
  result = script('reproduce_table', *summarize)
  assert result.returncode == 0, result.stderr
  again, = json.loads(out.with_suffix('.json').read_text())
  assert again['seeds'] == [0] and again['val_seq_accuracy_mean'] == row['val_seq_accuracy_mean']
  assert again['metrics_dirs'] == row['metrics_dirs']


sweep_script = load_script('sweep')
TINY_RECIPES = {2: {'training_size': 600, 'num_epochs': 2}, 3: {'training_size': 3000, 'learning_rate': 1e-2}}


def test_a_point_gets_its_recipe_then_set_then_its_own_fields():
  point = {'num_layers': 2, 'digits': 3}
  overrides = sweep_script.point_overrides(point, {'learning_rate': 5e-3}, 'digits', TINY_RECIPES)
  assert overrides == {'training_size': 3000, 'learning_rate': 5e-3, 'num_layers': 2, 'digits': 3}
  assert sweep_script.point_overrides({'num_layers': 1, 'digits': 2}, {}, 'digits', TINY_RECIPES) == {
      'training_size': 600, 'num_epochs': 2, 'num_layers': 1, 'digits': 2}
  # The recipe's key from --set, else from the config file, where the grid does not vary it.
  assert sweep_script.point_overrides({'num_layers': 1}, {'digits': 2}, 'digits', TINY_RECIPES)['num_epochs'] == 2
  assert sweep_script.point_overrides({'num_layers': 1}, {}, 'digits', TINY_RECIPES, default=3)[
      'training_size'] == 3000
  assert sweep_script.point_overrides({'digits': 4}, {'num_epochs': 1}, None, {}) == {'num_epochs': 1, 'digits': 4}
  with pytest.raises(ValueError, match='no recipe for digits=4; the recipes: digits=2,3'):
    sweep_script.point_overrides({'digits': 4}, {}, 'digits', TINY_RECIPES)
  with pytest.raises(ValueError, match='sets training_size, a grid field'):
    sweep_script.point_overrides({'digits': 2, 'training_size': 900}, {}, 'digits', TINY_RECIPES)


def test_layers_digits_recipes_hold_the_measured_fast_recipes_and_validate():
  field, recipes = sweep_script.load_recipes('layers_digits')
  assert field == 'digits' and sorted(recipes) == [3, 5, 7, 9]
  for name, digits in (('three_digits_fast', 3), ('five_digits_fast', 5)):
    fast = runs.Setting(name, name).load()
    assert {key: fast[key] for key in recipes[digits]} == recipes[digits]
  for digits, recipe in recipes.items():
    for layers in (1, 4):
      config = runs.Setting('x', 'layers_digits', (*recipe.items(), ('digits', digits), ('num_layers', layers))).load()
      assert (config.batch_size, config.lr_schedule, config.grad_clip_norm, config.swap_augment,
              config.reverse_answer, config.encoder_lead_in, config.decoder_residual
              ) == (32, 'cosine', 1.0, False, True, 3, False)
  plain = runs.Setting('x', 'layers_digits').load()
  assert plain.digits == 5 and {key: plain[key] for key in recipes[5]} == recipes[5]
  assert sweep_script.load_recipes('five_digits_fast') == (None, {})


def test_a_sweep_with_recipes_trains_each_point_with_its_recipe_and_set_winning(tmp_path):
  args = ('--name', 'recipe', '--config', 'layers_digits', '--grid', 'num_layers=2', '--grid', 'digits=3',
          '--set', 'training_size=600', '--set', 'num_epochs=1', '--set', 'eval_batch_size=256',
          '--set', 'num_samples_to_print=0', '--set', 'hidden_size=16',
          '--root', str(tmp_path / 'runs'), '--results', str(tmp_path / 'results'), '--parallel', '1')
  result = script('sweep', *args)
  assert result.returncode == 0, result.stderr
  config = json.loads((tmp_path / 'runs' / 'recipe' / 'num_layers-2__digits-3' / 'seed0' / 'config.json').read_text())
  # From the 3-digit recipe (the config file alone is the 5-digit one: 5e-3, 300), except what --set shrank.
  assert (config['learning_rate'], config['warmup_steps'], config['lr_schedule']) == (1e-2, 100, 'cosine')
  assert (config['training_size'], config['num_epochs'], config['num_layers'], config['hidden_size']) == (
      600, 1, 2, 16)
  out = json.loads((tmp_path / 'results' / 'sweep_recipe.json').read_text())
  assert out['recipe_field'] == 'digits'
  assert out['recipes'] == {'3': {'training_size': 50_000, 'num_epochs': 5, 'learning_rate': 1e-2,
                                  'warmup_steps': 100}}
  row, = out['rows']
  assert row['seeds'] == [0] and row['learning_rate'] == 1e-2 and row['training_size'] == 600
  assert row['parameters'] == cost.parameter_count(runs.Setting('x', 'two_digits', (
      ('hidden_size', 16), ('num_layers', 2))).load())
  assert '| 3 | 50000 | 5 | 0.01 | 100 |' in (tmp_path / 'results' / 'sweep_recipe.md').read_text()


def test_a_point_without_a_recipe_ends_in_one_line_and_trains_nothing(tmp_path):
  result = script('sweep', '--name', 'x', '--config', 'layers_digits', '--grid', 'num_layers=1,2',
                  '--grid', 'digits=3,4', '--root', str(tmp_path / 'runs'), '--results', str(tmp_path / 'results'))
  assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
  assert 'no recipe for digits=4; the recipes: digits=3,5,7,9' in result.stderr
  assert not (tmp_path / 'runs').exists() and not (tmp_path / 'results').exists()


def test_summarize_minutes_to_target_max_and_parameters(tmp_path):
  setting = runs.Setting('row', 'two_digits', (('num_epochs', 3), ('num_layers', 3)))
  write_metrics(tmp_path / 'row' / 'seed0', [0.5, 0.991, 0.995])  # elapsed_sec: 10 s per epoch
  write_metrics(tmp_path / 'row' / 'seed1', [0.5, 0.9, 0.985])
  write_metrics(tmp_path / 'row' / 'seed2', [0.2, 0.999, 0.999, 0.999])  # a 4th epoch beyond num_epochs: cut
  row = runs.summarize(setting, str(tmp_path), [0, 1, 2])
  assert row['minutes_to_99_seq_per_seed'] == [pytest.approx(20 / 60), None, pytest.approx(20 / 60)]
  assert row['minutes_to_99_seq'] == pytest.approx(20 / 60)
  assert row['minutes_to_99_char_per_seed'] == [pytest.approx(20 / 60), pytest.approx(30 / 60),
                                                pytest.approx(20 / 60)]
  assert row['minutes_to_99_char'] == pytest.approx(70 / 180)
  assert (row['val_seq_accuracy_min'], row['val_seq_accuracy_max']) == (0.985, 0.999)
  assert row['val_seq_accuracy_std'] == pytest.approx(math.sqrt(52e-6))  # deviations 0.002, -0.008, 0.006
  assert row['parameters'] == 4 * 128 * (12 + 128 + 1) + 3 * 4 * 128 * (2 * 128 + 1) + 128 * 12 + 12
  assert row['wall_sec'] == 30.0
  # The whole recipe: the config file's fields and the overrides that differ from base_config, nothing else.
  assert row['recipe'] == {'digits': 2, 'training_size': 5_000, 'num_epochs': 3, 'num_layers': 3}
  shifted = runs.Setting('row', 'two_digits', (('shift_augment', True), ('seed', 4)))
  assert runs.summarize(shifted, str(tmp_path), [0])['recipe'] == {
      'digits': 2, 'training_size': 5_000, 'num_epochs': 55, 'shift_augment': True}


def test_summarize_with_no_seed_at_the_target_has_no_minutes(tmp_path):
  setting = runs.Setting('row', 'two_digits', (('num_epochs', 2),))
  write_metrics(tmp_path / 'row' / 'seed0', [0.5, 0.6])
  row = runs.summarize(setting, str(tmp_path), [0, 1])
  assert row['minutes_to_99_seq_per_seed'] == [None] and row['minutes_to_99_seq'] is None
  assert runs.summarize(setting, str(tmp_path / 'none'), [0])['minutes_to_99_seq_per_seed'] == []


def test_sweep_table_shows_the_spread_minutes_recipes_and_unfinished_seeds(tmp_path):
  root = tmp_path / 'runs' / 'table'
  write_metrics(root / 'num_layers-1__digits-3' / 'seed0', [0.5, 0.9, 0.991, 0.995, 0.996])
  write_metrics(root / 'num_layers-1__digits-3' / 'seed1', [0.5, 0.9, 0.95, 0.98, 0.986])
  write_metrics(root / 'num_layers-2__digits-3' / 'seed0', [0.5, 0.995, 0.997, 0.998, 0.999])
  write_metrics(root / 'num_layers-2__digits-3' / 'seed1', [0.5, 0.6])  # interrupted
  result = script('sweep', '--name', 'table', '--config', 'layers_digits', '--grid', 'num_layers=1,2',
                  '--grid', 'digits=3', '--seeds', '2', '--summarize_only', '--root', str(tmp_path / 'runs'),
                  '--results', str(tmp_path / 'results'), '--device', 'a test machine')
  assert result.returncode == 0, result.stderr
  out = json.loads((tmp_path / 'results' / 'sweep_table.json').read_text())
  one, two = out['rows']
  assert one['seeds'] == [0, 1] and one['val_seq_accuracy_min'] == 0.986 and one['val_seq_accuracy_max'] == 0.996
  assert one['minutes_to_99_seq_per_seed'] == [0.5, None] and one['epochs_to_99_seq_per_seed'] == [3, None]
  assert two['seeds'] == [0] and two['seeds_unfinished'] == [
      {'seed': 1, 'started': True, 'running': False, 'other_config': False, 'epochs_done': 2,
       'val_char_accuracy': 0.65, 'val_seq_accuracy': 0.6}]
  md = (tmp_path / 'results' / 'sweep_table.md').read_text()
  assert '| 1 | 3 | 2 | ' in md and '0.9910 ± 0.0071 (min 0.9860)' in md and '| 3.0 (1/2) | 0.50 (1/2) |' in md
  assert '| 2 | 3 | 1, unfinished: seed 1 stopped at epoch 2 of 5 (val 0.6500 char, 0.6000 seq) | ' in md
  assert '| 2.0 (1/1) | 0.33 (1/1) |' in md
  assert '| 205,324 |' in md and '| 336,908 |' in md and 'a test machine' in md


def test_benchmark_table_compares_like_with_like(tmp_path):
  """fp32 against fp32 and bf16 against bf16 autocast; medians over the rounds."""
  table = load_script('benchmark_table')
  setting = (5, 1, 256)
  rates = {setting: {'addjax': [100.0, 300.0, 200.0], 'addjax_bf16': [300.0], 'flax_naive': [100.0],
                     'torch_fp32': [400.0], 'torch_bf16': [150.0]}}
  report = {'num_devices': 2, 'model_gflops': 0.01, 'ceiling_gflops': 10.0, 'platform': 'cpu', 'device': 'TFRT_CPU'}
  peers = list(rates[setting])
  table.write_table(str(tmp_path / 'bench'), [setting], peers, rates, {(setting, 'addjax'): report}, {}, 0.1, 3)
  row = json.loads((tmp_path / 'bench.json').read_text())['rows'][0]
  assert row['examples_per_sec']['addjax'] == 200.0
  assert row['ratios'] == {'addjax / flax_naive': 2.0, 'addjax / torch_fp32': 0.5, 'addjax_bf16 / torch_bf16': 2.0,
                           'addjax_bf16 / addjax': 1.5}
  markdown = (tmp_path / 'bench.md').read_text()
  assert '| addjax / torch_fp32 | addjax_bf16 / torch_bf16 |' in markdown
  assert '| 5, 1, 256 | 200 | 300 | 100 | 400 | 150 | 2.00x | 0.50x | 2.00x | 1.50x | 2.0 | 20% of 10 |' in markdown
  assert 'addjax trains' not in markdown


def test_benchmark_table_times_addjax_on_the_config_given(tmp_path):
  """--config reaches the addjax peers only; the table names it; the naive Flax version keeps the seed's model."""
  table = load_script('benchmark_table')
  config = str(ROOT / 'configs' / 'layers_digits.py')
  ours = table.peer_command('addjax_bf16', (9, 4, 32), 'python', False, config)
  assert ours[ours.index('--config') + 1] == config and '--config.num_layers=4' in ours
  assert '--config.matmul_dtype=bfloat16' in ours and '--steps=128' in ours
  naive = table.peer_command('flax_naive', (9, 4, 32), 'python', False, config)
  assert naive[naive.index('--config') + 1] == str(ROOT / 'configs' / 'five_digits.py')
  setting = (9, 4, 32)
  report = {'num_devices': 1, 'model_gflops': 0.01, 'ceiling_gflops': 10.0, 'platform': 'cpu', 'device': 'cpu'}
  table.write_table(str(tmp_path / 'bench'), [setting], ['addjax'], {setting: {'addjax': [50.0]}},
                    {(setting, 'addjax'): report}, {}, 0.1, 1, config)
  assert json.loads((tmp_path / 'bench.json').read_text())['config'] == 'configs/layers_digits.py'
  markdown = (tmp_path / 'bench.md').read_text()
  assert 'addjax trains configs/layers_digits.py' in markdown and '| 9, 4, 32 | 50 | 0.5 | 5% of 10 |' in markdown


@pytest.mark.parametrize('args, expected', [
    (['--settings', '5,1'], '--settings takes digits,layers,batch triples'),
    (['--settings', '5,0,32'], '--settings takes digits,layers,batch triples'),
    (['--rounds', '0'], '--rounds takes a whole number >= 1'),
    (['--config', 'configs/no_such.py'], 'no_such.py: no such file'),
])
def test_benchmark_table_rejects_bad_flags_before_timing(args, expected, tmp_path):
  result = script('benchmark_table', *args, '--out', str(tmp_path / 'bench'))
  assert result.returncode == 2 and expected in result.stderr.strip().splitlines()[-1]
  assert not list(tmp_path.iterdir())
