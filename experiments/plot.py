"""Figures from the experiments' JSON: learning curves of the table's runs, a heatmap of a sweep, and a trained
run's accuracy by operand lengths.

python experiments/plot.py curves [--table results/table.json] [--rows NAME ...] [--ymin 0.9] [--out F.png]
python experiments/plot.py heatmap --sweep results/sweep_x.json [--metric val_seq_accuracy_mean] [--out F.png]
python experiments/plot.py depth --sweep results/sweep_x.json [--x digits] [--lines num_layers] [--out F.png]
python experiments/plot.py lengths --evaluation W/evaluation.json [--evaluation W2/evaluation.json ...]
    [--metric seq_accuracy|char_accuracy] --out F.png

curves: one panel per row of the table (reproduce_table.py's JSON) with metrics on disk, validation char and seq
accuracy per epoch: a thin line per seed, their mean in bold. Each seed's metrics.jsonl is read from the table's
own copy (the row's metrics_dirs, results/table_metrics/) or, for a row without copies, from its workdir.
Relative paths are resolved against --base (default: the repo root); absolute ones are used as given. Seeds
whose metrics are not on disk (runs/ is not committed) are skipped with a note.
heatmap: one metric of a sweep (sweep.py's JSON) over its grid, the first grid field as rows and the second as
columns; the default --out is the sweep's path with _<metric>.png for .json.
depth: does depth help? Two panels over a two-field sweep: the final val exact match against --x (default
digits), one line per value of --lines (default num_layers), the mean over seeds with a band from the worst
seed to the best; and the wall-clock minutes to 0.99 exact match on a log axis, the mean over the seeds that got
there with bars from the fastest to the slowest, a hollow marker labelled r/n where only r of n seeds did, and
an x at the top of the panel where none did. Points without a finished seed are left out. The default --out is
the sweep's path with _depth.png for .json.
lengths: one panel per evaluation file (what python -m addjax.evaluate writes), the metric by the digits of the
first operand (rows) and of the second (columns), grey where no problem had those lengths; the panels share one
0..1 colour scale. Each panel is titled with its run, from the config.json beside the file when there is one.

Reads JSON only: no JAX. Needs matplotlib (pip install -e '.[plots]'). A bad input ends in one line on stderr
and exit status 2, with nothing written; a PNG is written whole or not at all.
"""

import argparse
import io
import json
import math
import os
import statistics
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runs  # noqa: E402  (experiments/ is a folder of scripts, not a package; it imports no JAX)
from addjax import report  # noqa: E402  (found through the path runs.py sets)
from addjax import workdir as workdir_lib  # noqa: E402

ROOT = runs.ROOT
TARGET = report.TARGET
CURVES = {'val_char_accuracy': ('val char', 'tab:blue'), 'val_seq_accuracy': ('val seq', 'tab:orange')}
COLUMNS = 3
PANEL_SIZE = (5.0, 3.6)  # inches per subplot
DPI = 120
DEPTH_KEYS = ('val_seq_accuracy_mean', 'val_seq_accuracy_min', 'val_seq_accuracy_max')
DEPTH_SERIES_KEYS = ('x', 'seq_mean', 'seq_min', 'seq_max', 'minutes_mean', 'minutes_min', 'minutes_max', 'reached',
                     'seeds')
TABLE_KEYS = ('name', 'kind', 'digits', 'num_layers', 'seeds', 'workdirs')
LENGTH_METRICS = ('seq_accuracy', 'char_accuracy')
EVALUATION_KEYS = ('digits', 'step', 'model_seed', 'num_problems', *LENGTH_METRICS, 'by_operand_lengths')
LENGTH_ROW_KEYS = ('a_length', 'b_length', 'num_problems', *LENGTH_METRICS)
EVALUATION_FILES = 'the W/evaluation.json or W/evaluation_seed<S>.json that python -m addjax.evaluate writes'


class BadInput(Exception):
  """A mistake the user can fix; main() prints it as one line and exits 2."""


def load_json(path: str) -> Any:
  try:
    with open(path) as f:
      return json.load(f)
  except OSError as e:
    raise BadInput(f'cannot read {path}: {e.strerror}') from None
  except ValueError as e:
    raise BadInput(f'{path} is not JSON: {e}') from None


def check_table(table: Any, path: str) -> list[dict[str, Any]]:
  expected = (f'{path}: expected a list of row objects with {", ".join(TABLE_KEYS)} '
              '(what experiments/reproduce_table.py writes)')
  if not isinstance(table, list):
    raise BadInput(expected)
  for row in table:
    if (not isinstance(row, dict) or any(key not in row for key in TABLE_KEYS)
        or not isinstance(row['workdirs'], list) or not all(isinstance(w, str) for w in row['workdirs'])
        or not isinstance(row['seeds'], list) or len(row['seeds']) != len(row['workdirs'])):
      raise BadInput(expected)
  return table


def check_sweep(sweep: Any, path: str, figure: str = 'a heatmap') -> dict[str, Any]:
  expected = (f'{path}: expected an object with name, grid ({{field: [values]}}) and rows (objects with a '
              'point) (what experiments/sweep.py writes)')
  if (not isinstance(sweep, dict) or not isinstance(sweep.get('name'), str)
      or not isinstance(sweep.get('grid'), dict) or not sweep['grid']
      or not all(isinstance(values, list) and values for values in sweep['grid'].values())
      or not isinstance(sweep.get('rows'), list) or not sweep['rows']
      or not all(isinstance(r, dict) and isinstance(r.get('point'), dict)
                 and all(field in r['point'] for field in sweep['grid']) for r in sweep['rows'])):
    raise BadInput(expected)
  if len(sweep['grid']) > 2:
    raise BadInput(f'{path}: {figure} needs one or two grid fields; this sweep has {len(sweep["grid"])} '
                   f'({", ".join(sweep["grid"])})')
  return sweep


def check_evaluation(evaluation: Any, path: str) -> dict[str, Any]:
  """The evaluation, if it is what python -m addjax.evaluate writes; BadInput saying what is expected if not.

  Args:
    evaluation: the file's parsed JSON.
    path: the file, for the message.

  Returns:
    evaluation, unchanged.

  Raises:
    BadInput: it is not.
  """
  expected = (f'{path}: expected an object with {", ".join(EVALUATION_KEYS)}, by_operand_lengths a list of '
              f'objects with {", ".join(LENGTH_ROW_KEYS)} and lengths from 1 to digits ({EVALUATION_FILES})')

  def integer(value: Any, low: int, high: float = math.inf) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

  def fraction(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1)

  if (not isinstance(evaluation, dict) or any(key not in evaluation for key in EVALUATION_KEYS)
      or not integer(evaluation['digits'], 1) or not integer(evaluation['num_problems'], 0)
      or not all(fraction(evaluation[key]) for key in LENGTH_METRICS)
      or not isinstance(evaluation['by_operand_lengths'], list)):
    raise BadInput(expected)
  digits = evaluation['digits']
  for row in evaluation['by_operand_lengths']:
    if (not isinstance(row, dict) or any(key not in row for key in LENGTH_ROW_KEYS)
        or not integer(row['a_length'], 1, digits) or not integer(row['b_length'], 1, digits)
        or not integer(row['num_problems'], 0) or not all(fraction(row[key]) for key in LENGTH_METRICS)):
      raise BadInput(expected)
  return evaluation


def seed_curves(records: list[dict[str, Any]], key: str) -> list[dict[int, float]]:
  """{epoch: value} per seed. A run with num_seeds > 1 holds a list per metric, one number per seed."""
  curves: dict[int, dict[int, float]] = {}
  for record in records:
    values = record[key] if isinstance(record[key], list) else [record[key]]
    for i, value in enumerate(values):
      curves.setdefault(i, {})[record['epoch']] = value
  return list(curves.values())


def mean_curve(curves: list[dict[int, float]]) -> tuple[list[int], list[float]]:
  """The mean over seeds at the epochs every seed has: a seed still running must not bend the mean."""
  if not curves:
    return [], []
  epochs = sorted(set.intersection(*(set(curve) for curve in curves)))
  return epochs, [statistics.fmean(curve[epoch] for curve in curves) for epoch in epochs]


def table_panels(table: list[dict[str, Any]], base: str) -> list[tuple[dict[str, Any], dict[str, list]]]:
  """(row, {metric: seed curves}) for each row with a workdir on disk; a note for each workdir that is not."""
  panels = []
  for row in table:
    curves: dict[str, list[dict[int, float]]] = {key: [] for key in CURVES}
    # The table's own copies of the metrics when it has them: workdirs outlive neither machines nor sessions.
    for seed, workdir in zip(row['seeds'], row.get('metrics_dirs') or row['workdirs']):
      records = workdir_lib.read_metrics(os.path.join(base, workdir))  # join keeps an absolute workdir as it is
      if not records:
        print(f'{row["name"]}: seed {seed}: no metrics.jsonl in {workdir}, skipped')
        continue
      try:
        found = {key: seed_curves(records, key) for key in CURVES}
      except (KeyError, TypeError):
        print(f'{row["name"]}: seed {seed}: {workdir}/metrics.jsonl lacks epoch or {" or ".join(CURVES)}, '
              'skipped')
        continue
      for key in CURVES:
        curves[key] += found[key]
    if not curves['val_seq_accuracy']:
      why = 'no workdir on disk' if row['workdirs'] else 'no finished seed in the table'
      print(f'{row["name"]}: {why}, row skipped')
      continue
    panels.append((row, curves))
  return panels


def numeric_keys(rows: list[dict[str, Any]]) -> list[str]:
  """The keys whose value is a number or null in every row: what a heatmap can show."""
  def numeric(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
  return [key for key in rows[0] if all(key in row and numeric(row[key]) for row in rows)]


def heatmap_matrix(sweep: dict[str, Any], metric: str) -> tuple[list[Any], list[Any], list[list[float]]]:
  """(row values, column values, matrix[row][column]) in the grid's order; NaN where no point or no value.

  With one grid field the rows are [None] and the matrix a single row.
  """
  fields = list(sweep['grid'])
  rows = sweep['grid'][fields[0]] if len(fields) == 2 else [None]
  columns = sweep['grid'][fields[-1]]
  matrix = [[math.nan] * len(columns) for _ in rows]
  for row in sweep['rows']:
    point = row['point']
    a = point[fields[0]] if len(fields) == 2 else None
    b = point[fields[-1]]
    if a in rows and b in columns and row.get(metric) is not None:
      matrix[rows.index(a)][columns.index(b)] = float(row[metric])
  return rows, columns, matrix


def check_depth_sweep(sweep: Any, path: str, x: str, lines: str) -> dict[str, Any]:
  """The sweep, if it is sweep.py's JSON over exactly the fields x and lines with the summaries depth plots.

  Args:
    sweep: the file's parsed JSON.
    path: the file, for the message.
    x: the grid field along the horizontal axis.
    lines: the grid field with one line per value.

  Returns:
    sweep, unchanged.

  Raises:
    BadInput: it is not.
  """
  check_sweep(sweep, path, 'a depth figure')
  if x == lines or set(sweep['grid']) != {x, lines}:
    raise BadInput(f'{path}: --x {x} and --lines {lines} must be the sweep\'s two grid fields; its grid fields: '
                   f'{", ".join(sweep["grid"])}')
  for row in sweep['rows']:
    finished = row.get('seeds')
    per_seed = row.get('minutes_to_99_seq_per_seed')
    if (not isinstance(finished, list) or not isinstance(per_seed, list) or len(per_seed) != len(finished)
        or not all(v is None or isinstance(v, (int, float)) for v in per_seed)
        or any(key not in row or not (row[key] is None or isinstance(row[key], (int, float)))
               for key in DEPTH_KEYS)):
      raise BadInput(f'{path}: a row lacks {", ".join(DEPTH_KEYS)} or minutes_to_99_seq_per_seed (one number or '
                     'null per finished seed); rewrite it with experiments/sweep.py --summarize_only')
  return sweep


def depth_series(sweep: dict[str, Any], x: str, lines: str) -> list[dict[str, Any]]:
  """What the depth figure draws: one series per value of `lines`, in grid order.

  Args:
    sweep: a checked sweep (check_depth_sweep).
    x: the grid field along the horizontal axis.
    lines: the grid field with one line per value.

  Returns:
    Per line {'line': value, 'x': [...], 'seq_mean', 'seq_min', 'seq_max', 'minutes_mean', 'minutes_min',
    'minutes_max', 'reached', 'seeds'}: lists aligned with 'x', which holds the x values (grid order) of the
    points with at least one finished seed. The minutes are over the seeds that reached 0.99 (None where none
    did); reached and seeds count those seeds and the finished ones.
  """
  by_point = {(row['point'][lines], row['point'][x]): row for row in sweep['rows']}
  series = []
  for value in sweep['grid'][lines]:
    line: dict[str, Any] = {'line': value, **{key: [] for key in DEPTH_SERIES_KEYS}}
    for position in sweep['grid'][x]:
      row = by_point.get((value, position))
      if row is None or not row['seeds']:
        continue
      minutes = [m for m in row['minutes_to_99_seq_per_seed'] if m is not None]
      for key, number in (('x', position), ('seq_mean', row['val_seq_accuracy_mean']),
                          ('seq_min', row['val_seq_accuracy_min']), ('seq_max', row['val_seq_accuracy_max']),
                          ('minutes_mean', statistics.fmean(minutes) if minutes else None),
                          ('minutes_min', min(minutes, default=None)), ('minutes_max', max(minutes, default=None)),
                          ('reached', len(minutes)), ('seeds', len(row['seeds']))):
        line[key].append(number)
    series.append(line)
  return series


def lengths_matrix(evaluation: dict[str, Any], metric: str) -> tuple[list[int], list[list[float]]]:
  """The metric of an evaluation by the two operands' lengths; NaN where no problem had those lengths.

  Args:
    evaluation: a checked evaluation file (check_evaluation).
    metric: seq_accuracy or char_accuracy.

  Returns:
    (lengths, matrix): lengths is 1..digits; matrix[i][j] is the metric over the problems whose first operand
    has lengths[i] digits and whose second has lengths[j].
  """
  lengths = list(range(1, evaluation['digits'] + 1))
  matrix = [[math.nan] * len(lengths) for _ in lengths]
  for row in evaluation['by_operand_lengths']:
    if row['num_problems'] and row[metric] is not None:
      matrix[row['a_length'] - 1][row['b_length'] - 1] = float(row[metric])
  return lengths, matrix


def run_title(evaluation: dict[str, Any], path: str, metric: str) -> str:
  """A panel's title: the run's folder, digits, decoder layers and model seed, and what was evaluated.

  Args:
    evaluation: a checked evaluation file.
    path: where it was read; the run's config.json is looked for beside it.
    metric: the overall value of this one is given.

  Returns:
    Two lines; without a readable config.json the layers are unknown and the title says so.
  """
  folder = os.path.dirname(os.path.abspath(path))
  name = os.path.join(os.path.basename(os.path.dirname(folder)), os.path.basename(folder))
  digits = evaluation['digits']
  try:
    config = workdir_lib.read_config(folder)
    layers = f'{config.num_layers} layer{"s" if config.num_layers != 1 else ""}'
  except (OSError, ValueError, TypeError, AttributeError):
    layers = 'layers unknown (no config.json)'
  # model_seed, not config.seed: of a num_seeds run config.seed is only the first seed, and each
  # evaluation_seed<S>.json is the model of seed S.
  problems = evaluation['num_problems']
  overall = evaluation[metric]
  return (f'{name}: {digits} digits, {layers}, seed {evaluation["model_seed"]}\n'
          f'after epoch {evaluation["step"]}, {problems:,} problem{"s" if problems != 1 else ""}: {metric} '
          f'{cell_text(math.nan if overall is None else overall)}')


def pyplot() -> Any:
  try:
    import matplotlib
  except ImportError:
    raise BadInput("matplotlib is not installed: pip install -e '.[plots]'") from None
  matplotlib.use('Agg')  # files only: no display, and no GUI toolkit to find
  import matplotlib.pyplot as plt
  return plt


def save(fig: Any, out: str) -> None:
  """Writes the figure as a PNG, atomically: a kill never leaves half of one."""
  png = io.BytesIO()
  fig.savefig(png, format='png', dpi=DPI)
  try:
    workdir_lib.write_atomic(out, png.getvalue())
  except OSError as e:
    raise BadInput(f'cannot write {out}: {e.strerror}') from None
  print(f'wrote {out}')


def plot_curves(panels: list[tuple[dict[str, Any], dict[str, list]]], out: str, ymin: float = 0.0) -> None:
  plt = pyplot()
  columns = min(COLUMNS, len(panels))
  rows = math.ceil(len(panels) / columns)
  fig, axes = plt.subplots(rows, columns, figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows),
                           squeeze=False, layout='constrained')
  for ax, (row, curves) in zip(axes.flat, panels):
    for key, (label, colour) in CURVES.items():
      for curve in curves[key]:
        epochs = sorted(curve)
        ax.plot(epochs, [curve[e] for e in epochs], color=colour, linewidth=0.8, alpha=0.35)
      epochs, means = mean_curve(curves[key])
      # A reduced row has one epoch: a marker, or its line would be invisible.
      ax.plot(epochs, means, color=colour, linewidth=2.2, marker='o' if len(epochs) == 1 else None,
              label=f'{label} (mean over seeds)')
    ax.axhline(TARGET, color='grey', linestyle=':', linewidth=1, label=f'{TARGET}')
    layers = f'{row["num_layers"]} layer{"s" if row["num_layers"] != 1 else ""}'
    seeds = len(curves['val_seq_accuracy'])
    ax.set_title(f'{row["name"]}: {row["digits"]} digits, {layers}\n{row["kind"]}, '
                 f'{seeds} seed{"s" if seeds != 1 else ""}', fontsize=10)
    last = max(max(curve) for curve in curves['val_seq_accuracy'])
    ax.set_xlim(0, last + 1 if last < 5 else last)  # room around a reduced row's lone epoch
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel('epoch')
    ax.set_ylabel('validation accuracy')
    ax.set_ylim(ymin, 1 + 0.02 * (1 - ymin))
    ax.grid(alpha=0.3)
  for ax in list(axes.flat)[len(panels):]:
    ax.set_visible(False)
  axes.flat[0].plot([], [], color='grey', linewidth=0.8, alpha=0.5, label='one seed')
  axes.flat[0].legend(loc='lower right', fontsize=8)
  save(fig, out)
  plt.close(fig)


def cell_text(value: float) -> str:
  if math.isnan(value):
    return '-'
  return f'{value:.3f}' if abs(value) < 10 else f'{value:.1f}' if abs(value) < 1000 else f'{value:.0f}'


def plot_heatmap(sweep: dict[str, Any], metric: str, out: str) -> None:
  import numpy as np  # comes with matplotlib
  plt = pyplot()
  fields = list(sweep['grid'])
  rows, columns, matrix = heatmap_matrix(sweep, metric)
  values = np.ma.masked_invalid(np.array(matrix))
  fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(columns) + 2.8), max(3.0, 0.8 * len(rows) + 2.2)),
                         layout='constrained')
  cmap = plt.get_cmap('viridis').with_extremes(bad='lightgrey')
  # Accuracies on a fixed 0..1 scale, so two sweeps' heatmaps read alike; anything else on its own range.
  limits = {'vmin': 0.0, 'vmax': 1.0} if 'accuracy' in metric else {}
  image = ax.imshow(values, cmap=cmap, aspect='auto', **limits)
  for i in range(len(rows)):
    for j in range(len(columns)):
      shade = image.norm(matrix[i][j]) if not math.isnan(matrix[i][j]) else 1.0
      ax.text(j, i, cell_text(matrix[i][j]), ha='center', va='center', fontsize=9,
              color='white' if shade < 0.5 else 'black')  # viridis is dark at the low end
  ax.set_xticks(range(len(columns)), [str(c) for c in columns])
  ax.set_xlabel(fields[-1])
  if len(fields) == 2:
    ax.set_yticks(range(len(rows)), [str(r) for r in rows])
    ax.set_ylabel(fields[0])
  else:
    ax.set_yticks([])
  fig.colorbar(image, ax=ax, label=metric)
  fixed = ', '.join(f'{k}={v}' for k, v in sweep.get('fixed', {}).items()) or 'no --set overrides'
  if len(fixed) > 70:
    fixed = fixed[:67] + '...'
  ax.set_title(f'sweep {sweep["name"]}: {metric}\nfixed: {fixed}', fontsize=10)
  save(fig, out)
  plt.close(fig)


def depth_figure(series: list[dict[str, Any]], x: str, lines: str, title: str) -> Any:
  """Exact match and minutes to 0.99 against x, a line per value of `lines` (depth_series gives the series).

  Args:
    series: depth_series' output.
    x: the horizontal axis' field, for its label.
    lines: the lines' field, for the legend.
    title: the figure's title.

  Returns:
    The matplotlib figure; the caller saves and closes it.
  """
  plt = pyplot()
  from matplotlib import transforms
  fig, (match, minutes) = plt.subplots(1, 2, figsize=(11.0, 4.4), layout='constrained')
  colours = plt.get_cmap('viridis')(
      [0.85 * i / max(1, len(series) - 1) for i in range(len(series))])  # the top of viridis is too pale
  steps = sorted({v for line in series for v in line['x'] if isinstance(v, (int, float))})
  # Lines side by side at a point, so that their bars and markers do not hide each other.
  width = 0.25 * min((b - a for a, b in zip(steps, steps[1:])), default=1)
  top = transforms.blended_transform_factory(minutes.transData, minutes.transAxes)
  any_minutes = False
  for i, (line, colour) in enumerate(zip(series, colours)):
    label = f'{lines}={line["line"]}'
    match.plot(line['x'], line['seq_mean'], color=colour, marker='o', label=label)
    match.fill_between(line['x'], line['seq_min'], line['seq_max'], color=colour, alpha=0.18, linewidth=0)
    shift = width * (i - (len(series) - 1) / 2) / max(1, len(series) - 1) if len(series) > 1 else 0.0
    xs = [v + shift for v in line['x']]
    got = [j for j, m in enumerate(line['minutes_mean']) if m is not None]
    if got:
      any_minutes = True
      mean = [line['minutes_mean'][j] for j in got]
      minutes.errorbar([xs[j] for j in got], mean,
                       yerr=[[m - line['minutes_min'][j] for j, m in zip(got, mean)],
                             [line['minutes_max'][j] - m for j, m in zip(got, mean)]],
                       color=colour, linewidth=1.2, capsize=3, label=label)
      for j in got:
        every = line['reached'][j] == line['seeds'][j]
        minutes.plot(xs[j], line['minutes_mean'][j], marker='o', color=colour, markersize=7,
                     markerfacecolor=colour if every else 'white')
        if not every:
          minutes.annotate(f'{line["reached"][j]}/{line["seeds"][j]}', (xs[j], line['minutes_mean'][j]),
                           textcoords='offset points', xytext=(5, 4), fontsize=8, color=colour)
    for j, m in enumerate(line['minutes_mean']):
      if m is None:
        minutes.plot(xs[j], 0.95, marker='x', color=colour, markersize=9, markeredgewidth=2, transform=top)
  match.axhline(TARGET, color='grey', linestyle=':', linewidth=1, label=f'{TARGET}')
  match.set_ylabel('final val exact match (band: worst to best seed)')
  match.set_title('exact match of the last epoch', fontsize=10)
  match.legend(loc='best', fontsize=8)  # Where no line runs: a depth can fail at either end.
  minutes.plot([], [], marker='x', linestyle='none', color='grey', markeredgewidth=2, label='no seed reached 0.99')
  minutes.plot([], [], marker='o', linestyle='none', color='grey', markerfacecolor='white',
               label='r/n: only r of n seeds did')
  if any_minutes:
    from matplotlib import ticker

    class PlainLogFormatter(ticker.LogFormatter):
      """LogFormatter's choice of ticks to label, each as a plain number: 20 and 0.4, not 2x10^1 and 4e-01."""

      def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
        return f'{x:g}'

    minutes.set_yscale('log')
    # Minor ticks labelled only where the range is short.
    minutes.yaxis.set_major_formatter(PlainLogFormatter())
    minutes.yaxis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
  minutes.set_ylabel('wall-clock minutes to 0.99 exact match')
  minutes.set_title('time to 0.99 (bars: fastest to slowest seed)', fontsize=10)
  minutes.legend(loc='lower right', fontsize=8)  # The top left holds the 'never' markers.
  for ax in (match, minutes):
    ax.set_xlabel(x)
    if steps:
      ax.set_xticks(steps, [str(v) for v in steps])
    ax.grid(alpha=0.3)
  fig.suptitle(title, fontsize=11)
  return fig


def lengths_figure(panels: list[tuple[str, list[int], list[list[float]]]], metric: str) -> Any:
  """The lengths heatmaps, one panel per (title, lengths, matrix), on one shared 0..1 scale with one colour bar.

  Args:
    panels: what run_title and lengths_matrix give for each evaluation file.
    metric: the name on the colour bar.

  Returns:
    The matplotlib figure; the caller saves and closes it.
  """
  import numpy as np  # comes with matplotlib
  plt = pyplot()
  columns = min(COLUMNS, len(panels))
  rows = math.ceil(len(panels) / columns)
  # Square panels that grow with the longest operand, so a 21-digit grid still has room for its numbers.
  side = max(3.6, 0.42 * max(len(lengths) for _, lengths, _ in panels) + 1.8)
  fig, axes = plt.subplots(rows, columns, figsize=(side * columns + 1.2, (side + 0.4) * rows), squeeze=False,
                           layout='constrained')
  cmap = plt.get_cmap('viridis').with_extremes(bad='lightgrey')
  for ax, (title, lengths, matrix) in zip(axes.flat, panels):
    image = ax.imshow(np.ma.masked_invalid(np.array(matrix)), cmap=cmap, vmin=0.0, vmax=1.0)
    size = 9 if len(lengths) <= 8 else 7 if len(lengths) <= 14 else 5
    for i in range(len(lengths)):
      for j in range(len(lengths)):
        if not math.isnan(matrix[i][j]):  # No problems with these lengths: a blank grey cell.
          ax.text(j, i, cell_text(matrix[i][j]), ha='center', va='center', fontsize=size,
                  color='white' if matrix[i][j] < 0.5 else 'black')  # viridis is dark at the low end
    ax.set_xticks(range(len(lengths)), [str(n) for n in lengths], fontsize=min(size + 1, 9))
    ax.set_yticks(range(len(lengths)), [str(n) for n in lengths], fontsize=min(size + 1, 9))
    ax.set_xlabel('digits of the second operand')
    ax.set_ylabel('digits of the first operand')
    ax.set_title(title, fontsize=9)
  for ax in list(axes.flat)[len(panels):]:
    ax.set_visible(False)
  fig.colorbar(image, ax=list(axes.flat)[:len(panels)], label=metric, shrink=0.9)
  return fig


def curves_command(args: argparse.Namespace) -> None:
  if not 0 <= args.ymin < 1:
    raise BadInput(f'--ymin {args.ymin}: accepted: a number >= 0 and < 1')
  table = check_table(load_json(args.table), args.table)
  if args.rows:
    names = [row['name'] for row in table]
    unknown = [name for name in args.rows if name not in names]
    if unknown:
      raise BadInput(f'--rows {" ".join(unknown)}: not in {args.table}; its rows: {", ".join(names)}')
    table = [row for row in table if row['name'] in args.rows]
  panels = table_panels(table, args.base)
  if not panels:
    raise BadInput(f'no row of {args.table} has a workdir on disk under {args.base} (train them with '
                   'experiments/reproduce_table.py, or point --base at the runs)')
  plot_curves(panels, args.out, args.ymin)


def heatmap_command(args: argparse.Namespace) -> None:
  sweep = check_sweep(load_json(args.sweep), args.sweep)
  accepted = numeric_keys(sweep['rows'])
  if args.metric not in accepted:
    raise BadInput(f'--metric {args.metric}: not a numeric key of every row of {args.sweep}; '
                   f'accepted: {", ".join(accepted) or "none"}')
  plot_heatmap(sweep, args.metric, args.out or f'{os.path.splitext(args.sweep)[0]}_{args.metric}.png')


def depth_title(sweep: dict[str, Any], x: str, lines: str) -> str:
  """The depth figure's title: the seeds asked per point, and how many points have fewer finished."""
  seeds = len(sweep.get('seeds') or [])
  short = sum(len(row.get('seeds') or []) < seeds for row in sweep['rows'])
  return (f'sweep {sweep["name"]}: {lines} x {x}, {seeds} seed{"s" if seeds != 1 else ""} per point'
          + (f' ({short} point{"s" if short != 1 else ""} with fewer finished)' if short else ''))


def depth_command(args: argparse.Namespace) -> None:
  sweep = check_depth_sweep(load_json(args.sweep), args.sweep, args.x, args.lines)
  series = depth_series(sweep, args.x, args.lines)
  if not any(line['x'] for line in series):
    raise BadInput(f'{args.sweep}: no point has a finished seed yet; nothing to draw')
  fig = depth_figure(series, args.x, args.lines, depth_title(sweep, args.x, args.lines))
  try:
    save(fig, args.out or f'{os.path.splitext(args.sweep)[0]}_depth.png')
  finally:
    pyplot().close(fig)


def lengths_panels(paths: list[str], metric: str) -> list[tuple[str, list[int], list[list[float]]]]:
  """(title, lengths, matrix) of each evaluation file, all read and checked before anything is drawn.

  Args:
    paths: evaluation files of python -m addjax.evaluate.
    metric: one of LENGTH_METRICS.

  Returns:
    One panel per path, in order, as lengths_figure takes them.

  Raises:
    BadInput: an unknown metric, or a path that is not a readable evaluation file.
  """
  if metric not in LENGTH_METRICS:
    raise BadInput(f'--metric {metric}: accepted: {", ".join(LENGTH_METRICS)}')
  panels = []
  for path in paths:
    try:
      loaded = load_json(path)
    except BadInput as e:
      raise BadInput(f'{e}; accepted: {EVALUATION_FILES}') from None
    evaluation = check_evaluation(loaded, path)
    panels.append((run_title(evaluation, path, metric), *lengths_matrix(evaluation, metric)))
  return panels


def lengths_command(args: argparse.Namespace) -> None:
  fig = lengths_figure(lengths_panels(args.evaluation, args.metric), args.metric)
  try:
    save(fig, args.out)
  finally:
    pyplot().close(fig)


def main() -> None:
  parser = runs.Parser(description=__doc__.splitlines()[0])
  commands = parser.add_subparsers(dest='command', required=True)
  curves = commands.add_parser('curves', help='Validation accuracy per epoch of the table rows on disk.')
  curves.add_argument('--table', default=str(ROOT / 'results' / 'table.json'))
  curves.add_argument('--rows', nargs='+', metavar='NAME', help='Only these rows (by name), in table order.')
  curves.add_argument('--base', default=str(ROOT), help='Relative workdirs are resolved against this folder.')
  curves.add_argument('--out', default=str(ROOT / 'results' / 'curves.png'))
  curves.add_argument('--ymin', type=float, default=0.0,
                      help='Bottom of the accuracy axis, e.g. 0.9 to see the approach to 0.99.')
  heatmap = commands.add_parser('heatmap', help='One metric of a sweep over its one or two grid fields.')
  heatmap.add_argument('--sweep', required=True, help='A results/sweep_<name>.json.')
  heatmap.add_argument('--metric', default='val_seq_accuracy_mean', help='A numeric key of the sweep rows.')
  heatmap.add_argument('--out', help='Default: the sweep path with _<metric>.png for .json.')
  depth = commands.add_parser('depth', help='Exact match and minutes to 0.99 against digits, a line per depth.')
  depth.add_argument('--sweep', required=True, help='A results/sweep_<name>.json over two grid fields.')
  depth.add_argument('--x', default='digits', help='The grid field along the horizontal axis.')
  depth.add_argument('--lines', default='num_layers', help='The grid field with one line per value.')
  depth.add_argument('--out', help='Default: the sweep path with _depth.png for .json.')
  lengths = commands.add_parser('lengths', help='Accuracy of trained runs by the lengths of the two operands.')
  lengths.add_argument('--evaluation', required=True, action='extend', nargs='+', metavar='FILE',
                       help='A W/evaluation.json or W/evaluation_seed<S>.json of python -m addjax.evaluate; '
                       'repeat it (or name several) for one panel each.')
  lengths.add_argument('--metric', default='seq_accuracy', help=f'One of {", ".join(LENGTH_METRICS)}.')
  lengths.add_argument('--out', required=True, help='The PNG to write, e.g. results/lengths_<name>.png.')
  args = parser.parse_args()
  try:
    handlers = {'curves': curves_command, 'heatmap': heatmap_command, 'depth': depth_command,
                'lengths': lengths_command}
    handlers[args.command](args)
  except BadInput as e:
    print(f'{parser.prog}: {e}', file=sys.stderr)
    sys.exit(2)


if __name__ == '__main__':
  main()
