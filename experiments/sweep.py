"""A grid over any config fields: every point trained (per seed, in its own workdir), then summarised.

python experiments/sweep.py --name layers_digits --config three_digits_fast \
    --grid num_layers=1,2,3 --grid digits=3,4,5 --set training_size=30000 --set num_epochs=8

--config names a file under configs/; --set fixes a field for every point; each --grid field takes every listed
value, in the order given (the first --grid field is the rows of the table and the heatmap, the second its
columns). Runs live in <root>/<name>/<field>-<value>__.../seed<k>; rerunning resumes and skips finished
points. Writes results/sweep_<name>.json and .md; `python experiments/plot.py heatmap` draws the JSON.
--launcher ray --ray_address HEAD:6379 runs each (point, seed) as a task on a Ray cluster (docs/scaling.md).
"""

import ast
import itertools
import os
import re
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runs  # noqa: E402  (experiments/ is a folder of scripts, not a package)
from addjax import workdir as workdir_lib  # noqa: E402  (found through the path runs.py sets)


def parse_value(text: str) -> Any:
  """'3' -> 3, '1e-3' -> 0.001, 'True' -> True, 'cosine' -> 'cosine'."""
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


def parse_assignment(text: str, many: bool) -> tuple[str, Any]:
  field, sep, values = text.partition('=')
  if not sep or not field or not values:
    raise ValueError(f'{text!r} is not FIELD=VALUE{",VALUE..." if many else ""}')
  if many:
    return field, [parse_value(v) for v in values.split(',')]
  return field, parse_value(values)


def point_name(point: dict[str, Any]) -> str:
  return '__'.join(f'{field}-{value}' for field, value in point.items())


def markdown(sweep: dict[str, Any]) -> str:
  """The sweep's key numbers per point, and with two grid fields a val seq accuracy table over both."""
  fields = list(sweep['grid'])
  fixed = ', '.join(f'{k}={v}' for k, v in sweep['fixed'].items()) or 'none'
  lines = [f'Sweep {sweep["name"]}: configs/{sweep["config"]}.py with {fixed}; seeds {sweep["seeds"]}; '
           f'measured on {sweep["device"]}. Accuracies of the last epoch, mean over the finished seeds; '
           'seq = the whole answer exactly right, char = per character (Keras).', '']
  if len(fields) == 2:
    rows, cols = (sweep['grid'][f] for f in fields)
    by_point = {tuple(r['point'].values()): r for r in sweep['rows']}
    lines += [f'val seq accuracy: {fields[0]} (rows) x {fields[1]} (columns)', '',
              f'| {fields[0]} \\ {fields[1]} | ' + ' | '.join(map(str, cols)) + ' |',
              '|---|' + '---|' * len(cols)]
    for a in rows:
      lines.append(f'| {a} | ' + ' | '.join(runs.fmt(by_point[(a, b)]['val_seq_accuracy_mean'], 3)
                                           for b in cols) + ' |')
    lines.append('')
  lines += ['| ' + ' | '.join(fields) + ' | seeds | val char | val seq | train seq | epochs to 0.99 seq | '
            'minutes/run | examples/s |', '|' + '---|' * (len(fields) + 7)]
  for r in sweep['rows']:
    lines.append('| ' + ' | '.join(str(v) for v in r['point'].values()) + f' | {len(r["seeds"])} | '
                 f'{runs.fmt(r["val_char_accuracy_mean"])} | {runs.fmt(r["val_seq_accuracy_mean"])} | '
                 f'{runs.fmt(r["train_seq_accuracy_mean"])} | {runs.epochs_text(r, "seq")} | '
                 f'{runs.fmt(r["wall_sec"] and r["wall_sec"] / 60, 1)} | '
                 f'{runs.fmt(r["examples_per_sec"], 0)} |')
  return '\n'.join(lines) + '\n'


def main() -> None:
  parser = runs.Parser(description=__doc__.splitlines()[0])
  parser.add_argument('--name', required=True, help='Names the runs folder and results/sweep_<name>.*.')
  parser.add_argument('--config', required=True, help='A config under configs/, without .py.')
  parser.add_argument('--grid', action='append', required=True, metavar='FIELD=V1,V2,...')
  parser.add_argument('--set', action='append', default=[], metavar='FIELD=VALUE')
  parser.add_argument('--seeds', type=int, default=1)
  runs.add_launcher_arguments(parser)
  parser.add_argument('--root', default=str(runs.ROOT / 'runs' / 'sweeps'))
  parser.add_argument('--results', default=str(runs.ROOT / 'results'))
  parser.add_argument('--device', default=runs.machine())
  parser.add_argument('--summarize_only', action='store_true')
  args = parser.parse_args()
  if not re.fullmatch(r'[A-Za-z0-9_.-]+', args.name):
    parser.error(f'--name {args.name!r}: use letters, digits, "_", "-" and "." only')
  if args.seeds < 1:
    parser.error('--seeds takes a whole number >= 1')
  runs.check_launcher(parser, args)
  try:
    grid = dict(parse_assignment(g, many=True) for g in args.grid)
    fixed = dict(parse_assignment(s, many=False) for s in args.set)
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    settings = [runs.Setting(point_name(p), args.config, tuple({**fixed, **p}.items())) for p in points]
    for setting in settings:  # every point checked before anything trains
      setting.load()
  except (ValueError, runs.config_lib.ConfigError) as e:
    parser.error(str(e))

  root = os.path.join(args.root, args.name)
  seeds = list(range(args.seeds))
  failed = [] if args.summarize_only else runs.launch(args, root, [(s, seed) for s in settings for seed in seeds])
  rows = [{**runs.summarize(s, root, seeds), 'point': p} for s, p in zip(settings, points)]
  sweep = {'name': args.name, 'config': args.config, 'grid': grid, 'fixed': fixed, 'seeds': seeds,
           'device': args.device, 'rows': rows}
  out = os.path.join(args.results, f'sweep_{args.name}')
  runs.write_json(f'{out}.json', sweep)
  workdir_lib.write_atomic(f'{out}.md', markdown(sweep))
  print(markdown(sweep))
  if failed:
    sys.exit(f'{len(failed)} run(s) failed: {", ".join(failed)}')


if __name__ == '__main__':
  main()
