"""A grid over any config fields: every point trained (per seed, in its own workdir), then summarised.

python experiments/sweep.py --name layers_digits --config layers_digits --grid num_layers=1,2,3,4 \
    --grid digits=3,5,7,9 --seeds 3 --parallel 2 --root ~/addjax_runs/sweeps

(the layers x digits sweep: configs/layers_digits.py says how its budgets were chosen; then
`python experiments/plot.py depth --sweep results/sweep_layers_digits.json` and `... heatmap --sweep ...`.)

--config names a file under configs/; --set fixes a field for every point; each --grid field takes every listed
value, in the order given (the first --grid field is the rows of the table and the heatmap, the second its
columns). A config file may define a recipe per value of one field: RECIPE_FIELD (a field name) and RECIPES
({value: {field: value}}); a point whose RECIPE_FIELD has value V (from the grid, else --set, else the config)
then also gets RECIPES[V]'s fields. Precedence, lowest first: the config's get_config(), the point's recipe,
--set, the grid point. A recipe may not set a grid field, and a point whose value has no recipe is an error.
Runs live in <root>/<name>/<field>-<value>__.../seed<k>; rerunning resumes and skips finished points; a point
whose seeds are not all finished is marked unfinished in the table. Writes results/sweep_<name>.json and .md,
and keeps each finished run's config.json and metrics.jsonl in results/sweep_<name>_metrics/<point>/seed<k> as
it finishes: committed, they let the sweep go on over several machines (or sessions of one that is wiped), a
run kept there counting as finished once its workdir is gone.
--launcher ray --ray_address HEAD:6379 runs each (point, seed) as a task on a Ray cluster (docs/scaling.md).
"""

import ast
import importlib.util
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


def load_recipes(config: str) -> tuple[str | None, dict[Any, dict[str, Any]]]:
  """The recipes a config file under configs/ defines: (RECIPE_FIELD, RECIPES), or (None, {}) without them.

  Args:
    config: the file's name under configs/, without .py.

  Returns:
    The field whose value picks a recipe, and {value: {field: value}}.

  Raises:
    ConfigError: there is no such file, or its recipes are not a field name and a dict of dicts.
  """
  path = runs.ROOT / 'configs' / f'{config}.py'
  if not path.exists():
    raise runs.config_lib.ConfigError(f'there is no config file {path.relative_to(runs.ROOT)}')
  spec = importlib.util.spec_from_file_location(config, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  if not hasattr(module, 'RECIPES'):
    return None, {}
  field, recipes = getattr(module, 'RECIPE_FIELD', None), module.RECIPES
  if (not isinstance(field, str) or not isinstance(recipes, dict)
      or not all(isinstance(r, dict) and all(isinstance(k, str) for k in r) for r in recipes.values())):
    raise runs.config_lib.ConfigError(f'configs/{config}.py: RECIPES must be {{value: {{field: value}}}} and '
                                      'RECIPE_FIELD the name of the field whose value picks one')
  return field, recipes


def recipe_key(point: dict[str, Any], fixed: dict[str, Any], recipe_field: str, default: Any = None) -> Any:
  """The value that picks a point's recipe: the grid point's, else --set's, else the config file's."""
  return point.get(recipe_field, fixed.get(recipe_field, default))


def point_overrides(point: dict[str, Any], fixed: dict[str, Any], recipe_field: str | None,
                    recipes: dict[Any, dict[str, Any]], default: Any = None) -> dict[str, Any]:
  """The fields one grid point sets on the config: its recipe's, then --set's, then its own, later ones winning.

  Args:
    point: the grid point, {field: value}.
    fixed: the --set fields.
    recipe_field: the field whose value picks the recipe; None for a sweep without recipes.
    recipes: {value: {field: value}}.
    default: recipe_field's value in the config file, for a point that sets it neither in the grid nor by --set.

  Returns:
    {field: value}, the recipe's fields first.

  Raises:
    ValueError: the point's value has no recipe, or its recipe sets a grid field (the grid would not say
      what the point trained).
  """
  recipe: dict[str, Any] = {}
  if recipe_field is not None:
    key = recipe_key(point, fixed, recipe_field, default)
    if key not in recipes:
      raise ValueError(f'no recipe for {recipe_field}={key!r}; the recipes: {recipe_field}='
                       f'{",".join(map(str, recipes))}')
    recipe = recipes[key]
    clash = [field for field in recipe if field in point]
    if clash:
      raise ValueError(f'the recipe for {recipe_field}={key!r} sets {", ".join(clash)}, a grid field: a recipe '
                       'may not change what the grid varies')
  return {**recipe, **fixed, **point}


def accuracy_text(row: dict[str, Any], key: str) -> str:
  """'0.9950 ± 0.0020 (min 0.9930)' over the seeds, '-' without a finished one."""
  if row[f'{key}_mean'] is None:
    return '-'
  return f'{runs.fmt(row[f"{key}_mean"])} ± {runs.fmt(row[f"{key}_std"])} (min {runs.fmt(row[f"{key}_min"])})'


def markdown(sweep: dict[str, Any]) -> str:
  """The sweep's key numbers per point, and with two grid fields a val seq accuracy table over both."""
  fields = list(sweep['grid'])
  fixed = ', '.join(f'{k}={v}' for k, v in sweep['fixed'].items()) or 'no --set overrides'
  lines = [f'Sweep {sweep["name"]}: configs/{sweep["config"]}.py with {fixed}; seeds {sweep["seeds"]}; '
           f'measured on {sweep["device"]}. Accuracies of the last epoch over the finished seeds (mean ± sample '
           'std, and the worst seed); seq = the whole answer exactly right, char = per character (Keras). Epochs '
           'and wall-clock minutes to 0.99 seq: mean over the seeds that got there (how many did).', '']
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
  if sweep.get('recipes'):
    field = sweep['recipe_field']
    names = list(dict.fromkeys(name for recipe in sweep['recipes'].values() for name in recipe))
    lines += [f'Recipe per {field} (configs/{sweep["config"]}.py; --set wins over it):', '',
              f'| {field} | ' + ' | '.join(names) + ' |', '|---|' + '---|' * len(names)]
    for value, recipe in sweep['recipes'].items():
      lines.append(f'| {value} | ' + ' | '.join(str(recipe.get(name, '-')) for name in names) + ' |')
    lines.append('')
  lines += ['| ' + ' | '.join(fields) + ' | seeds | val char | val seq | epochs to 0.99 seq | minutes to 0.99 seq | '
            'minutes/run | parameters | examples/s |', '|' + '---|' * (len(fields) + 8)]
  for r in sweep['rows']:
    lines.append('| ' + ' | '.join(str(v) for v in r['point'].values()) + f' | {runs.seeds_text(r)} | '
                 f'{accuracy_text(r, "val_char_accuracy")} | {accuracy_text(r, "val_seq_accuracy")} | '
                 f'{runs.epochs_text(r, "seq")} | {runs.minutes_text(r, "seq")} | '
                 f'{runs.fmt(r["wall_sec"] and r["wall_sec"] / 60, 1)} | {r["parameters"]:,} | '
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
    recipe_field, recipes = load_recipes(args.config)
    default = None
    if recipe_field is not None:
      config = runs.Setting('', args.config).load()
      if recipe_field not in config:
        raise runs.config_lib.ConfigError(f'configs/{args.config}.py: RECIPE_FIELD {recipe_field!r} is not a '
                                          'config field')
      default = config[recipe_field]
    settings = [runs.Setting(point_name(p), args.config,
                             tuple(point_overrides(p, fixed, recipe_field, recipes, default).items()))
                for p in points]
    for setting in settings:  # every point checked before anything trains
      setting.load()
  except (ValueError, runs.config_lib.ConfigError) as e:
    parser.error(str(e))

  root = os.path.join(args.root, args.name)
  seeds = list(range(args.seeds))
  out = os.path.join(args.results, f'sweep_{args.name}')
  kept = f'{out}_metrics'  # The record of finished runs, committed with the sweep's table.
  jobs = [(s, seed) for s in settings for seed in seeds]
  failed = [] if args.summarize_only else runs.launch(args, root, jobs, kept)
  for setting in settings:
    runs.keep_finished(setting, root, seeds, kept)
  rows = [{**runs.summarize(s, root, seeds, kept), 'point': p} for s, p in zip(settings, points)]
  used = {recipe_key(p, fixed, recipe_field, default) for p in points} if recipe_field else set()
  sweep = {'name': args.name, 'config': args.config, 'grid': grid, 'fixed': fixed, 'seeds': seeds,
           'device': args.device, 'recipe_field': recipe_field,
           'recipes': {str(v): r for v, r in recipes.items() if v in used}, 'rows': rows}
  runs.write_json(f'{out}.json', sweep)
  workdir_lib.write_atomic(f'{out}.md', markdown(sweep))
  print(markdown(sweep))
  if failed:
    sys.exit(f'{len(failed)} run(s) failed: {", ".join(failed)}')


if __name__ == '__main__':
  main()
