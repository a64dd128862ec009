"""experiments/plot.py on synthetic metrics.jsonl, table, sweep and evaluation files, and on the evaluation of
a real trained run: its helpers, and its command line as a user runs it (a subprocess). Only the lengths tests
train (the session's tiny run) and run JAX (python -m addjax.evaluate); the script itself imports none."""

import importlib.util
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import run_module

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / 'experiments' / 'plot.py'
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def load_plot():
  spec = importlib.util.spec_from_file_location('plot', SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


plot = load_plot()


def run(*args, env=None):
  return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True,
                        timeout=60, env=env)


def write_metrics(workdir: pathlib.Path, seq: list[float]) -> None:
  """One line per epoch; char accuracy is seq accuracy's square root, so the two curves differ."""
  workdir.mkdir(parents=True)
  with open(workdir / 'metrics.jsonl', 'w') as f:
    for epoch, value in enumerate(seq, start=1):
      record = {'epoch': epoch, 'train_loss': 1 - value, 'train_char_accuracy': value ** 0.5,
                'train_seq_accuracy': value, 'val_loss': 1 - value, 'val_char_accuracy': value ** 0.5,
                'val_seq_accuracy': value, 'examples_per_sec': 1000.0, 'epoch_sec': 1.0,
                'elapsed_sec': float(epoch)}
      f.write(json.dumps(record) + '\n')


def table_row(name: str, seeds: list[int], kind: str = 'seed settings') -> dict:
  return {'name': name, 'kind': kind, 'digits': 2, 'num_layers': 1, 'num_epochs': 4, 'training_size': 5000,
          'batch_size': 32, 'seeds': seeds, 'workdirs': [f'runs/table/{name}/seed{s}' for s in seeds]}


@pytest.fixture
def table(tmp_path) -> pathlib.Path:
  """Two rows on disk (3 seeds of 4 epochs, 2 seeds of 3 and 2 epochs) and one whose runs are not."""
  for seed, seq in enumerate([[0.1, 0.5, 0.9, 0.99], [0.2, 0.6, 0.95, 1.0], [0.0, 0.4, 0.85, 0.98]]):
    write_metrics(tmp_path / 'runs' / 'table' / 'two_digits' / f'seed{seed}', seq)
  for seed, seq in enumerate([[0.3, 0.7, 0.9], [0.5, 0.9]]):
    write_metrics(tmp_path / 'runs' / 'table' / 'two_digits_fast' / f'seed{seed}', seq)
  rows = [table_row('two_digits', [0, 1, 2]), table_row('five_digits', [0, 1]),
          table_row('two_digits_fast', [0, 1], kind='our recipe')]
  path = tmp_path / 'results' / 'table.json'
  path.parent.mkdir()
  path.write_text(json.dumps(rows))
  return path


def sweep_file(tmp_path, grid: dict, rows: list[dict]) -> pathlib.Path:
  path = tmp_path / 'sweep_test.json'
  path.write_text(json.dumps({'name': 'test', 'config': 'three_digits_fast', 'grid': grid,
                              'fixed': {'training_size': 3000, 'num_epochs': 2}, 'seeds': [0],
                              'device': 'a test', 'rows': rows}))
  return path


def sweep_row(point: dict, seq: float | None) -> dict:
  return {'name': '__'.join(f'{k}-{v}' for k, v in point.items()), 'val_seq_accuracy_mean': seq,
          'val_char_accuracy_mean': None if seq is None else seq ** 0.5, 'wall_sec': 12.5, 'seeds': [0],
          'point': point}


@pytest.fixture
def sweep(tmp_path) -> pathlib.Path:
  """num_layers (rows) x digits (columns), listed out of grid order, one point missing and one null."""
  values = {(1, 2): 0.9, (1, 3): 0.5, (1, 4): 0.1, (2, 2): 0.95, (2, 3): None, (3, 2): 0.99, (3, 4): 0.3}
  rows = [sweep_row({'num_layers': a, 'digits': b}, seq) for (a, b), seq in reversed(values.items())]
  return sweep_file(tmp_path, {'num_layers': [1, 2, 3], 'digits': [2, 3, 4]}, rows)


def assert_png(path: pathlib.Path, size: tuple[float, float] | None = None) -> None:
  import matplotlib.image
  assert path.read_bytes()[:8] == PNG_MAGIC
  pixels = matplotlib.image.imread(path)
  if size is None:
    assert pixels.shape[0] > 200 and pixels.shape[1] > 300
  else:
    assert pixels.shape[:2] == (round(size[1] * plot.DPI), round(size[0] * plot.DPI))
  assert pixels.std() > 0.01  # something drawn, not a blank canvas
  assert not list(path.parent.glob('*.tmp'))


def assert_bad_input(result: subprocess.CompletedProcess, out: pathlib.Path, *words: str) -> None:
  assert result.returncode == 2, result.stderr
  lines = result.stderr.splitlines()
  assert len(lines) == 1, result.stderr
  assert 'Traceback' not in result.stderr
  for word in words:
    assert word in lines[0]
  assert not out.exists()


def test_mean_curve_is_over_the_epochs_every_seed_has():
  curves = [{1: 0.1, 2: 0.5, 3: 0.9}, {1: 0.3, 2: 0.7}, {1: 0.2, 2: 0.3, 3: 1.0, 4: 1.0}]
  epochs, means = plot.mean_curve(curves)
  assert epochs == [1, 2]
  assert means == pytest.approx([0.2, 0.5])
  assert plot.mean_curve([]) == ([], [])


def test_seed_curves_reads_one_curve_per_seed_also_from_a_multi_seed_run():
  records = [{'epoch': 1, 'val_seq_accuracy': 0.2}, {'epoch': 2, 'val_seq_accuracy': 0.4}]
  assert plot.seed_curves(records, 'val_seq_accuracy') == [{1: 0.2, 2: 0.4}]
  vmapped = [{'epoch': 1, 'val_seq_accuracy': [0.1, 0.3]}, {'epoch': 2, 'val_seq_accuracy': [0.5, 0.7]}]
  assert plot.seed_curves(vmapped, 'val_seq_accuracy') == [{1: 0.1, 2: 0.5}, {1: 0.3, 2: 0.7}]


def test_read_metrics_skips_a_line_cut_short(tmp_path):
  write_metrics(tmp_path / 'run', [0.1, 0.2])
  with open(tmp_path / 'run' / 'metrics.jsonl', 'a') as f:
    f.write('{"epoch": 3, "val_seq')
  assert [r['epoch'] for r in plot.workdir_lib.read_metrics(str(tmp_path / 'run'))] == [1, 2]


def test_heatmap_matrix_follows_the_grid_order(sweep):
  rows, columns, matrix = plot.heatmap_matrix(json.loads(sweep.read_text()), 'val_seq_accuracy_mean')
  assert (rows, columns) == ([1, 2, 3], [2, 3, 4])
  expected = [[0.9, 0.5, 0.1], [0.95, math.nan, math.nan], [0.99, math.nan, 0.3]]
  for got, want in zip(matrix, expected):
    assert got == pytest.approx(want, nan_ok=True)


def test_heatmap_matrix_with_one_grid_field_is_one_row(tmp_path):
  rows = [sweep_row({'digits': 3}, 0.5), sweep_row({'digits': 2}, 0.9)]
  sweep = json.loads(sweep_file(tmp_path, {'digits': [2, 3, 4]}, rows).read_text())
  rows, columns, matrix = plot.heatmap_matrix(sweep, 'val_seq_accuracy_mean')
  assert (rows, columns) == ([None], [2, 3, 4])
  assert len(matrix) == 1 and matrix[0] == pytest.approx([0.9, 0.5, math.nan], nan_ok=True)


def test_curves_draws_the_rows_on_disk_and_reports_the_others(table, tmp_path):
  out = tmp_path / 'figures' / 'curves.png'
  result = run('curves', '--table', str(table), '--base', str(tmp_path), '--out', str(out))
  assert result.returncode == 0, result.stderr
  assert 'five_digits: seed 0: no metrics.jsonl' in result.stdout
  assert 'five_digits: no workdir on disk, row skipped' in result.stdout
  assert f'wrote {out}' in result.stdout
  assert_png(out, (plot.PANEL_SIZE[0] * 2, plot.PANEL_SIZE[1]))  # two panels side by side


def test_curves_picks_rows_by_name_and_takes_absolute_workdirs(table, tmp_path):
  rows = json.loads(table.read_text())
  rows[0]['workdirs'] = [str(tmp_path / w) for w in rows[0]['workdirs']]
  table.write_text(json.dumps(rows))
  out = tmp_path / 'one.png'
  result = run('curves', '--table', str(table), '--rows', 'two_digits', '--base', '/nonexistent',
               '--out', str(out))
  assert result.returncode == 0, result.stderr
  assert_png(out, plot.PANEL_SIZE)


def test_curves_read_the_tables_own_copies_of_the_metrics_before_the_workdirs(table, tmp_path):
  rows = json.loads(table.read_text())
  # The workdirs are gone; the copies reproduce_table keeps (metrics_dirs) are all that is left.
  rows[0]['metrics_dirs'] = [str(tmp_path / w) for w in rows[0]['workdirs']]
  rows[0]['workdirs'] = [f'gone/seed{s}' for s in rows[0]['seeds']]
  table.write_text(json.dumps(rows))
  out = tmp_path / 'copies.png'
  result = run('curves', '--table', str(table), '--rows', 'two_digits', '--base', '/nonexistent',
               '--out', str(out))
  assert result.returncode == 0, result.stderr
  assert 'skipped' not in result.stdout
  assert_png(out, plot.PANEL_SIZE)


def test_heatmap_writes_a_png_beside_the_sweep_by_default(sweep):
  result = run('heatmap', '--sweep', str(sweep))
  assert result.returncode == 0, result.stderr
  assert_png(sweep.parent / 'sweep_test_val_seq_accuracy_mean.png')


def test_heatmap_of_one_grid_field_and_another_metric(tmp_path):
  rows = [sweep_row({'digits': 2}, 0.9), sweep_row({'digits': 3}, None)]
  sweep = sweep_file(tmp_path, {'digits': [2, 3]}, rows)
  out = tmp_path / 'wall.png'
  result = run('heatmap', '--sweep', str(sweep), '--metric', 'wall_sec', '--out', str(out))
  assert result.returncode == 0, result.stderr
  assert_png(out)


def test_bad_table_inputs(table, tmp_path):
  out = tmp_path / 'out.png'

  def curves(*args):
    return run('curves', *args, '--out', str(out))

  assert_bad_input(curves('--table', str(tmp_path / 'nope.json')), out, 'nope.json')
  (tmp_path / 'broken.json').write_text('[{"name": ')
  assert_bad_input(curves('--table', str(tmp_path / 'broken.json')), out, 'not JSON')
  (tmp_path / 'dict.json').write_text('{"name": "x"}')
  assert_bad_input(curves('--table', str(tmp_path / 'dict.json')), out, 'expected a list of row objects')
  assert_bad_input(curves('--table', str(table), '--base', str(tmp_path), '--rows', 'six_digits'), out,
                   'six_digits', 'two_digits_fast')
  # The table as it is in the repo today: no runs/ on disk.
  assert_bad_input(curves('--table', str(table), '--base', str(tmp_path / 'empty')), out, 'no row')
  assert_bad_input(curves('--table', str(table), '--ymin', '1'), out, '--ymin 1.0', '< 1')


def test_bad_sweep_inputs(sweep, table, tmp_path):
  out = tmp_path / 'out.png'

  def heatmap(*args):
    return run('heatmap', *args, '--out', str(out))

  assert_bad_input(heatmap('--sweep', str(tmp_path / 'nope.json')), out, 'nope.json')
  assert_bad_input(heatmap('--sweep', str(table)), out, 'expected an object')
  assert_bad_input(heatmap('--sweep', str(sweep), '--metric', 'val_seq_acc'), out,
                   'val_seq_acc', 'val_char_accuracy_mean', 'wall_sec')
  three = sweep_file(tmp_path, {'a': [1], 'b': [2], 'c': [3]}, [sweep_row({'a': 1, 'b': 2, 'c': 3}, 0.5)])
  assert_bad_input(heatmap('--sweep', str(three)), out, 'one or two grid fields')
  assert_bad_input(heatmap(), out, '--sweep')  # argparse's own error, in one line too


def test_without_matplotlib_says_how_to_install_it(sweep, tmp_path):
  # A package named matplotlib ahead of the real one on the path, which fails to import as a missing one does.
  fake = tmp_path / 'fake' / 'matplotlib'
  fake.mkdir(parents=True)
  (fake / '__init__.py').write_text("raise ImportError('no matplotlib here')\n")
  out = tmp_path / 'out.png'
  env = {**os.environ, 'PYTHONPATH': str(fake.parent)}
  result = run('heatmap', '--sweep', str(sweep), '--out', str(out), env=env)
  assert_bad_input(result, out, "pip install -e '.[plots]'")


# ----------------------------------------------------------------------------------------------------------
# lengths: accuracy by operand lengths, from python -m addjax.evaluate's files.
# ----------------------------------------------------------------------------------------------------------
def evaluation_file(path: pathlib.Path, digits: int, seq: dict[tuple[int, int], float | None],
                    model_seed: int = 0) -> pathlib.Path:
  """An evaluation file as addjax.evaluate writes it, with these seq accuracies by (a_length, b_length).

  char accuracy is seq accuracy's square root, so the two metrics differ.
  """
  rows = [{'a_length': a, 'b_length': b, 'num_problems': 0 if value is None else 10,
           'char_accuracy': None if value is None else value ** 0.5, 'seq_accuracy': value}
          for (a, b), value in seq.items()]
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps({
      'workdir': str(path.parent), 'step': 40, 'model_seed': model_seed, 'digits': digits, 'seed': 1,
      'num_requested': 10 * len(rows), 'num_training_pairs': 100, 'num_in_val_split': 0, 'exhausted': False,
      'num_problems': 10 * len(rows), 'char_accuracy': 0.9, 'seq_accuracy': 0.6, 'by_longer_operand': [],
      'by_operand_lengths': rows}))
  return path


@pytest.fixture(scope='module')
def evaluated_run(trained_workdir, tmp_path_factory) -> pathlib.Path:
  """A copy of the session's tiny trained run, evaluated by python -m addjax.evaluate on 300 fresh problems."""
  workdir = tmp_path_factory.mktemp('evaluated') / 'tiny_run'
  shutil.copytree(trained_workdir, workdir)  # evaluate writes into the workdir; the shared run stays as it was.
  result = run_module('evaluate', f'--workdir={workdir}', '--num=300', '--seed=4')
  assert result.returncode == 0, result.stderr
  return workdir


def drawn_cells(ax) -> tuple[list[list[float]], dict[tuple[int, int], str]]:
  """A drawn panel's image as a matrix (NaN where masked) and its cell annotations by (row, column)."""
  import numpy as np
  image = ax.images[0].get_array()
  matrix = np.ma.filled(image.astype(float), np.nan).tolist()
  texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
  return matrix, texts


def test_lengths_matrix_holds_the_real_evaluation_numbers(evaluated_run):
  evaluation = json.loads((evaluated_run / 'evaluation.json').read_text())
  assert plot.check_evaluation(evaluation, 'evaluation.json') is evaluation
  rows = evaluation['by_operand_lengths']
  assert sum(r['num_problems'] for r in rows) == 300
  for metric in plot.LENGTH_METRICS:
    lengths, matrix = plot.lengths_matrix(evaluation, metric)
    assert lengths == [1, 2]
    expected = {(r['a_length'], r['b_length']): r[metric] for r in rows}
    for a in lengths:
      for b in lengths:
        assert matrix[a - 1][b - 1] == pytest.approx(expected.get((a, b), math.nan), nan_ok=True)

  # A length pair with no problems is a blank (NaN) cell; the others keep their numbers.
  dropped = rows.pop(0)
  _, matrix = plot.lengths_matrix(evaluation, 'seq_accuracy')
  assert math.isnan(matrix[dropped['a_length'] - 1][dropped['b_length'] - 1])
  for r in rows:
    assert matrix[r['a_length'] - 1][r['b_length'] - 1] == pytest.approx(r['seq_accuracy'])


def test_lengths_matrix_rows_are_the_first_operand_and_blank_where_no_problems(tmp_path):
  seq = {(1, 1): 0.9, (1, 3): 0.2, (2, 1): 0.7, (3, 3): 0.0, (3, 2): None}
  evaluation = json.loads(evaluation_file(tmp_path / 'evaluation.json', 3, seq).read_text())
  lengths, matrix = plot.lengths_matrix(plot.check_evaluation(evaluation, 'x'), 'seq_accuracy')
  assert lengths == [1, 2, 3]
  expected = [[0.9, math.nan, 0.2], [0.7, math.nan, math.nan], [math.nan, math.nan, 0.0]]
  for got, want in zip(matrix, expected):
    assert got == pytest.approx(want, nan_ok=True)
  _, matrix = plot.lengths_matrix(evaluation, 'char_accuracy')
  assert matrix[0][2] == pytest.approx(0.2 ** 0.5) and math.isnan(matrix[2][1])


def test_lengths_command_plots_the_real_evaluation(evaluated_run, tmp_path):
  path = evaluated_run / 'evaluation.json'
  evaluation = json.loads(path.read_text())
  out = tmp_path / 'figures' / 'lengths.png'
  result = run('lengths', '--evaluation', str(path), '--metric', 'char_accuracy', '--out', str(out))
  assert result.returncode == 0, result.stderr
  assert f'wrote {out}' in result.stdout

  # What the command draws, drawn here by the same functions: the file's numbers, cell for cell.
  panels = plot.lengths_panels([str(path)], 'char_accuracy')
  fig = plot.lengths_figure(panels, 'char_accuracy')
  assert_png(out, tuple(fig.get_size_inches()))
  ax = fig.axes[0]
  matrix, texts = drawn_cells(ax)
  expected = {(r['a_length'], r['b_length']): r['char_accuracy'] for r in evaluation['by_operand_lengths']}
  for a in (1, 2):
    for b in (1, 2):
      value = expected.get((a, b))
      assert matrix[a - 1][b - 1] == pytest.approx(math.nan if value is None else value, nan_ok=True)
      assert texts.get((a - 1, b - 1)) == (None if value is None else plot.cell_text(value))
  assert ax.images[0].get_clim() == (0.0, 1.0)
  title = ax.get_title()
  assert 'tiny_run: 2 digits, 1 layer, seed 0' in title
  assert f'after epoch 12, 300 problems: char_accuracy {plot.cell_text(evaluation["char_accuracy"])}' in title
  assert fig.axes[-1].get_ylabel() == 'char_accuracy'  # the colour bar
  plot.pyplot().close(fig)


def test_lengths_one_panel_per_file_on_one_scale(evaluated_run, tmp_path):
  # A model of a num_seeds run (seed 1 of a two-layer run) with blank cells, and a file with no config.json.
  other = evaluation_file(tmp_path / 'sweep' / 'seed1' / 'evaluation_seed1.json', 3,
                          {(1, 1): 1.0, (1, 2): 0.25, (3, 1): 0.5}, model_seed=1)
  (other.parent / 'config.json').write_text(json.dumps({'digits': 3, 'num_layers': 2, 'seed': 0, 'num_seeds': 2}))
  alone = tmp_path / 'loose' / 'evaluation.json'
  alone.parent.mkdir()
  shutil.copy(evaluated_run / 'evaluation.json', alone)
  out = tmp_path / 'three.png'
  files = [str(evaluated_run / 'evaluation.json'), str(other), str(alone)]
  result = run('lengths', '--evaluation', files[0], '--evaluation', *files[1:], '--out', str(out))
  assert result.returncode == 0, result.stderr

  fig = plot.lengths_figure(plot.lengths_panels(files, 'seq_accuracy'), 'seq_accuracy')
  assert_png(out, tuple(fig.get_size_inches()))
  panels = [ax for ax in fig.axes if ax.images]
  assert len(panels) == 3
  assert {ax.images[0].get_clim() for ax in panels} == {(0.0, 1.0)}
  assert len(fig.axes) == 4 and fig.axes[-1].get_ylabel() == 'seq_accuracy'  # one colour bar for all
  assert 'seed1: 3 digits, 2 layers, seed 1' in panels[1].get_title()
  assert 'loose: 2 digits, layers unknown (no config.json), seed 0' in panels[2].get_title()
  matrix, texts = drawn_cells(panels[1])
  expected = [[1.0, 0.25, math.nan], [math.nan] * 3, [0.5, math.nan, math.nan]]
  for got, want in zip(matrix, expected):
    assert got == pytest.approx(want, nan_ok=True)
  assert texts == {(0, 0): '1.000', (0, 1): '0.250', (2, 0): '0.500'}  # blank cells carry no text
  plot.pyplot().close(fig)


def test_bad_lengths_inputs(sweep, tmp_path):
  good = evaluation_file(tmp_path / 'run' / 'evaluation.json', 2, {(1, 1): 0.5})
  out = tmp_path / 'out.png'

  def lengths(*args):
    return run('lengths', *args, '--out', str(out))

  assert_bad_input(lengths('--evaluation', str(tmp_path / 'nope.json')), out, 'nope.json', 'addjax.evaluate')
  (tmp_path / 'broken.json').write_text('{"digits": ')
  assert_bad_input(lengths('--evaluation', str(good), str(tmp_path / 'broken.json')), out, 'not JSON',
                   'evaluation.json')
  assert_bad_input(lengths('--evaluation', str(sweep)), out, 'expected an object with digits', 'addjax.evaluate')
  text = json.loads(good.read_text()) | {'seq_accuracy': '0.5'}
  (tmp_path / 'text.json').write_text(json.dumps(text))
  assert_bad_input(lengths('--evaluation', str(tmp_path / 'text.json')), out, 'expected an object with digits')
  longer = evaluation_file(tmp_path / 'longer.json', 2, {(1, 3): 0.5})  # a length past digits
  assert_bad_input(lengths('--evaluation', str(longer)), out, 'lengths from 1 to digits')
  assert_bad_input(lengths('--evaluation', str(good), '--metric', 'accuracy'), out,
                   '--metric accuracy', 'seq_accuracy', 'char_accuracy')
  assert_bad_input(lengths(), out, '--evaluation')  # argparse's own error, in one line too
  result = run('lengths', '--evaluation', str(good))
  assert result.returncode == 2 and '--out' in result.stderr and len(result.stderr.splitlines()) == 1


def depth_row(layers: int, digits: int, accuracies: list[float], minutes: list[float | None]) -> dict:
  """A sweep.py row for the depth figure: the last epoch's exact match and minutes to 0.99 of each seed."""
  return {'point': {'num_layers': layers, 'digits': digits}, 'seeds': list(range(len(accuracies))),
          'val_seq_accuracy_mean': sum(accuracies) / len(accuracies) if accuracies else None,
          'val_seq_accuracy_min': min(accuracies, default=None), 'val_seq_accuracy_max': max(accuracies, default=None),
          'minutes_to_99_seq_per_seed': minutes}


@pytest.fixture
def depth_sweep(tmp_path) -> pathlib.Path:
  """2 layer counts x 3 digit counts, rows out of order: every seed at 0.99, some, none, and a point not run."""
  rows = [depth_row(2, 7, [0.5, 0.7], [None, None]),
          depth_row(1, 3, [0.995, 0.999, 0.997], [1.0, 2.0, 3.0]),
          depth_row(2, 3, [0.998, 0.999], [0.5, 1.5]),
          depth_row(1, 5, [0.98, 0.995], [None, 10.0]),
          depth_row(1, 7, [], []),
          depth_row(2, 5, [0.999], [4.0])]
  return sweep_file(tmp_path, {'num_layers': [1, 2], 'digits': [3, 5, 7]}, rows)


def test_depth_series_holds_each_layer_counts_numbers_in_grid_order(depth_sweep):
  sweep = plot.check_depth_sweep(json.loads(depth_sweep.read_text()), str(depth_sweep), 'digits', 'num_layers')
  one, two = plot.depth_series(sweep, 'digits', 'num_layers')
  assert one == {'line': 1, 'x': [3, 5], 'seq_mean': [pytest.approx(0.997), pytest.approx(0.9875)],
                 'seq_min': [0.995, 0.98], 'seq_max': [0.999, 0.995], 'minutes_mean': [2.0, 10.0],
                 'minutes_min': [1.0, 10.0], 'minutes_max': [3.0, 10.0], 'reached': [3, 1], 'seeds': [3, 2]}
  assert two['line'] == 2 and two['x'] == [3, 5, 7]
  assert two['minutes_mean'] == [1.0, 4.0, None] and two['minutes_min'] == [0.5, 4.0, None]
  assert two['reached'] == [2, 1, 0] and two['seeds'] == [2, 1, 2] and two['seq_max'] == [0.999, 0.999, 0.7]
  # Swapped: a line per digit count along the layers.
  three = plot.depth_series(sweep, 'num_layers', 'digits')[0]
  assert three['line'] == 3 and three['x'] == [1, 2] and three['minutes_mean'] == [2.0, 1.0]


def test_depth_title_counts_the_points_with_fewer_seeds_finished_than_asked(depth_sweep):
  sweep = json.loads(depth_sweep.read_text())
  sweep['seeds'] = [0, 1, 2]  # Three asked: only the (1, 3) point has all three finished.
  assert plot.depth_title(sweep, 'digits', 'num_layers') == (
      'sweep test: num_layers x digits, 3 seeds per point (5 points with fewer finished)')
  sweep['rows'] = sweep['rows'][1:2]
  assert plot.depth_title(sweep, 'digits', 'num_layers') == 'sweep test: num_layers x digits, 3 seeds per point'


def test_depth_writes_a_png_beside_the_sweep_by_default(depth_sweep):
  result = run('depth', '--sweep', str(depth_sweep))
  assert result.returncode == 0, result.stderr
  assert_png(depth_sweep.parent / 'sweep_test_depth.png', (11.0, 4.4))


def test_depth_with_no_seed_at_the_target_anywhere(tmp_path):
  rows = [depth_row(1, 3, [0.5], [None]), depth_row(2, 3, [0.6], [None])]
  sweep = sweep_file(tmp_path, {'digits': [3], 'num_layers': [1, 2]}, rows)
  out = tmp_path / 'none.png'
  result = run('depth', '--sweep', str(sweep), '--out', str(out))
  assert result.returncode == 0, result.stderr
  assert_png(out)


def test_bad_depth_inputs(depth_sweep, sweep, tmp_path):
  out = tmp_path / 'out.png'

  def depth(*args):
    return run('depth', *args, '--out', str(out))

  assert_bad_input(depth('--sweep', str(tmp_path / 'nope.json')), out, 'nope.json')
  # A sweep written before the depth summaries (no max, no minutes): say how to rewrite it.
  assert_bad_input(depth('--sweep', str(sweep)), out, 'val_seq_accuracy_max', '--summarize_only')
  assert_bad_input(depth('--sweep', str(depth_sweep), '--x', 'hidden_size'), out, '--x hidden_size',
                   'num_layers, digits')
  assert_bad_input(depth('--sweep', str(depth_sweep), '--lines', 'digits'), out, 'two grid fields')
  one = sweep_file(tmp_path, {'digits': [3]}, [depth_row(1, 3, [0.5], [None])])
  assert_bad_input(depth('--sweep', str(one)), out, 'two grid fields')
  three = sweep_file(tmp_path, {'a': [1], 'b': [2], 'c': [3]}, [sweep_row({'a': 1, 'b': 2, 'c': 3}, 0.5)])
  assert_bad_input(depth('--sweep', str(three)), out, 'a depth figure needs one or two grid fields')
  unrun = sweep_file(tmp_path, {'num_layers': [1], 'digits': [3]}, [depth_row(1, 3, [], [])])
  assert_bad_input(depth('--sweep', str(unrun)), out, 'no point has a finished seed')
  wrong = depth_row(1, 3, [0.5, 0.6], [None])  # one minutes entry for two seeds
  bad = sweep_file(tmp_path, {'num_layers': [1], 'digits': [3]}, [wrong])
  assert_bad_input(depth('--sweep', str(bad)), out, 'minutes_to_99_seq_per_seed')
