"""Many training runs from one script: one workdir per (setting, seed), launched as `python -m addjax.main`
subprocesses a few at a time, finished ones skipped, and their metrics.jsonl files summarised over seeds.

Used by reproduce_table.py and sweep.py. A setting is a config file under configs/ plus command-line overrides;
its runs live in <root>/<name>/seed<k>, each with the train.log of its subprocess beside the workdir's own
config.json, metrics.jsonl and checkpoints/. Rerunning resumes an interrupted run from its last checkpoint
(train_and_evaluate does that), so a killed sweep picks up where it stopped. A workdir whose lock another
process holds (a run started by hand, another orchestrator sharing the runs root) is running elsewhere: it
is skipped, never counted as failed.

With --launcher ray (add_launcher_arguments, launch) each run is a task on a Ray cluster instead of a
subprocess here: see ray_launcher.py.
"""

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
from typing import Any

import ml_collections

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The repo root, for a checkout that is not installed. These modules import no JAX.
from addjax import config as config_lib  # noqa: E402
from addjax import cost  # noqa: E402
from addjax import data  # noqa: E402
from addjax import report  # noqa: E402
from addjax import workdir as workdir_lib  # noqa: E402

PROGRESS_CHECK_SEC = 30.0  # How often run_all looks for newly recorded epochs.
USAGE_ERROR = 2  # The exit status of python -m addjax.main for a mistake, a locked workdir among them.


@dataclasses.dataclass(frozen=True)
class Setting:
  """A config file under configs/ with overrides, run under <root>/<name>."""
  name: str
  config: str
  overrides: tuple[tuple[str, Any], ...] = ()

  def load(self) -> ml_collections.ConfigDict:
    """The config file's get_config() with the overrides; ConfigError if they make it invalid."""
    path = ROOT / 'configs' / f'{self.config}.py'
    if not path.exists():
      raise config_lib.ConfigError(f'there is no config file {path.relative_to(ROOT)}')
    spec = importlib.util.spec_from_file_location(self.config, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config()
    for field, value in self.overrides:
      if field not in config:
        raise config_lib.ConfigError(f'{field!r} is not a config field; the fields: {", ".join(config)}')
      try:
        config[field] = value
      except (TypeError, ValueError) as e:  # ConfigDict keeps each field's type
        raise config_lib.ConfigError(f'{field}={value!r}: {e}') from None
    config_lib.validate(config)
    return config


class Parser(argparse.ArgumentParser):
  """argparse that reports a bad command line in one line (exit 2) rather than usage plus error."""

  def error(self, message: str) -> None:
    self.exit(2, f'{self.prog}: {message}\n')


def workdir(root: str, name: str, seed: int) -> str:
  return os.path.join(root, name, f'seed{seed}')


def _through(records: list[workdir_lib.Record], num_epochs: int) -> list[workdir_lib.Record] | None:
  """The first num_epochs records of a run that has trained them (or more), else None."""
  return records[:num_epochs] if records and records[-1]['epoch'] >= num_epochs else None


def is_finished(path: str, num_epochs: int) -> bool:
  """Whether the run in path has trained num_epochs epochs (or more)."""
  return _through(workdir_lib.read_metrics(path), num_epochs) is not None


def shown_path(path: str) -> str:
  """path for a results file: relative to the repository when inside it, else absolute (never '../../root/..')."""
  path = os.path.abspath(path)
  return os.path.relpath(path, ROOT) if path.startswith(f'{ROOT}{os.sep}') else path


def seed_config(setting: Setting, seed: int) -> ml_collections.ConfigDict:
  """The config one seed of setting trains with (train_command's)."""
  config = setting.load()
  config.seed = seed
  return config


def other_run(config: ml_collections.ConfigDict, path: str) -> str | None:
  """Why path holds a run of another config than config, or None when it does not.

  Another run: a config.json that differs from config in a field that changes what the run computes (the test
  of workdir.prepare, which would refuse to train it), or one that cannot be read. A config file edited after
  its runs trained makes their workdirs another run: they neither count as its finished seeds nor get resumed.
  No config.json (nothing trained there yet) is not another run.
  """
  if not os.path.exists(os.path.join(path, workdir_lib.CONFIG_FILE)):
    return None
  try:
    workdir_lib.prepare(path, config, write=False)
  except config_lib.ConfigError as e:
    return str(e)
  except (OSError, ValueError) as e:
    return f'workdir {path!r} has a config.json that cannot be read ({e})'
  return None


def finished_records(config: ml_collections.ConfigDict, path: str) -> list[workdir_lib.Record] | None:
  """The first num_epochs records of the run in path when it is a finished run of config, else None."""
  if other_run(config, path) is not None:
    return None
  return _through(workdir_lib.read_metrics(path), config.num_epochs)


# ----------------------------------------------------------------------------------------------------------
# The record of finished runs.
# A workdir holds checkpoints and lives outside the repository, on a machine that may not outlast a long sweep.
# Each finished run's config.json and metrics.jsonl are also kept in a small folder of the same layout,
# <kept>/<name>/seed<k>, committed with the results: a rerun on another machine counts those runs finished and
# summarises them from the copy, so a sweep longer than a machine's life goes on where the last one stopped.
# ----------------------------------------------------------------------------------------------------------
def keep(path: str, kept_path: str, num_epochs: int) -> None:
  """Copies the finished run in path, its config.json and first num_epochs metrics lines, to kept_path."""
  records = workdir_lib.read_metrics(path)[:num_epochs]
  workdir_lib.write_atomic(os.path.join(kept_path, workdir_lib.METRICS_FILE),
                           ''.join(json.dumps(record) + '\n' for record in records))
  config_file = os.path.join(path, workdir_lib.CONFIG_FILE)
  if os.path.exists(config_file):
    with open(config_file, 'rb') as f:
      workdir_lib.write_atomic(os.path.join(kept_path, workdir_lib.CONFIG_FILE), f.read())


def keep_finished(setting: Setting, root: str, seeds: list[int], kept: str) -> None:
  """keep()s each of the seeds whose workdir under root holds a finished run of the setting, into kept."""
  for seed in seeds:
    path, config = workdir(root, setting.name, seed), seed_config(setting, seed)
    if finished_records(config, path) is not None:
      keep(path, workdir(kept, setting.name, seed), config.num_epochs)


def kept_records(config: ml_collections.ConfigDict, kept_path: str) -> list[workdir_lib.Record] | None:
  """The kept copy's first num_epochs records when it is a finished run of config (seed included), else None.

  A copy without config.json cannot be told from another run's: None.
  """
  if not os.path.exists(os.path.join(kept_path, workdir_lib.CONFIG_FILE)):
    return None
  return finished_records(config, kept_path)


def train_command(setting: Setting, seed: int, path: str) -> list[str]:
  """python -m addjax.main for one seed of setting, training into path."""
  overrides = [f'--config.{field}={value}' for field, value in setting.overrides]
  return [sys.executable, '-m', 'addjax.main', f'--config={ROOT / "configs" / setting.config}.py',
          f'--workdir={path}', f'--config.seed={seed}', *overrides]


def core_slots(parallel: int, cores: list[int] | None = None) -> list[set[int] | None]:
  """The cores each of `parallel` concurrent runs is pinned to: disjoint, equal shares of this process's cores.

  On a CPU a run splits the cores it may use into JAX devices (addjax.host). Runs that share cores fight over
  them: on a 2-core machine two 14-digit runs side by side train 2,353 examples/s together unpinned, 3,307
  pinned to a core each, and one run alone on both cores 1,935 (docs/performance.md). With more runs than
  cores there is nothing to share out, and the runs are left unpinned (None).

  Args:
    parallel: how many runs train at a time.
    cores: the cores to share out (default: those this process may run on).

  Returns:
    One set of cores per run slot, or None per slot when there are fewer cores than runs.
  """
  cores = sorted(os.sched_getaffinity(0)) if cores is None else cores
  share = len(cores) // parallel
  if share == 0:
    return [None] * parallel
  return [set(cores[i * share:(i + 1) * share]) for i in range(parallel)]


def _start(command: list[str], log: Any, cores: set[int] | None) -> subprocess.Popen:
  """Starts command with stdout and stderr into log, pinned to cores (None: wherever this process may run).

  The child inherits the affinity of the thread that starts it: this thread takes the cores for the start
  and gives them back, so no Python runs between fork and exec (a preexec_fn would, unsafe in a process with
  threads, as any process that imported JAX has).
  """
  if cores is None:
    return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
  own = os.sched_getaffinity(0)
  os.sched_setaffinity(0, cores)
  try:
    return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
  finally:
    os.sched_setaffinity(0, own)


def seconds_left(jobs: list[tuple[ml_collections.ConfigDict, str]], todo: set[str], parallel: int
                 ) -> float | None:
  """How long the jobs still to train will take, `parallel` at a time, at the speed the epochs so far trained.

  Runs of one sweep differ in digits and layers by many times in cost; their work is counted in training
  FLOPs (addjax.cost), which makes their times comparable. The speed is measured, not assumed: the FLOPs of
  every epoch that any of the jobs has recorded over its seconds (its examples over its examples_per_sec),
  interrupted and finished runs included. The work is the epochs not yet trained of each job in todo; the time
  is that work shared out over the slots, and never less than the longest single job takes alone.

  Args:
    jobs: (config, workdir) of every job whose recorded epochs measure the speed.
    todo: the workdirs of the jobs still to train (running or waiting here).
    parallel: how many runs train at a time.

  Returns:
    Seconds (0 when every job in todo has trained its epochs), or None while no job has recorded an epoch.
  """
  flops = seconds = 0.0
  left = []
  for config, path in jobs:
    records = workdir_lib.read_metrics(path) if os.path.isdir(path) else []
    per_epoch = cost.training_flops_per_epoch(config)
    train_examples = data.num_training_examples(config.training_size)
    for record in records:
      if record.get('examples_per_sec'):
        flops += per_epoch
        seconds += train_examples / record['examples_per_sec']
    done = records[-1]['epoch'] if records else 0
    if path in todo and done < config.num_epochs:
      left.append((config.num_epochs - done) * per_epoch)
  if not seconds:
    return None
  if not left:
    return 0.0
  return max(sum(left) / min(parallel, len(left)), max(left)) / (flops / seconds)


def progress_line(done: int, running: int, waiting: int, left: float | None, elsewhere: int = 0,
                  failed: int = 0) -> str:
  """'progress: 3 of 9 done, 2 running, 3 waiting, 1 running elsewhere; about 25 min left'.

  Args:
    done: runs finished (trained here, or found finished).
    running: runs training here now.
    waiting: runs not started yet.
    left: seconds the runs running or waiting here will take (seconds_left), or None for no estimate.
    elsewhere: runs skipped because another process holds their workdir.
    failed: runs whose process failed, or that were not started (another config's workdir).

  Returns:
    One line for the log.
  """
  total = done + running + waiting + elsewhere + failed
  line = f'progress: {done} of {total} done, {running} running, {waiting} waiting'
  line += f', {elsewhere} running elsewhere' if elsewhere else ''
  line += f', {failed} failed' if failed else ''
  if left is None or not running + waiting:
    return line
  if left >= 5400:
    return f'{line}; about {left / 3600:.1f} h left'
  return f'{line}; about {left / 60:.0f} min left'


def skip_kept(root: str, jobs: list[tuple[Setting, int]], kept: str | None) -> list[tuple[Setting, int]]:
  """The jobs that have not finished in their kept copy under kept (all of them for None); says which did."""
  if kept is None:
    return jobs
  left = []
  for setting, seed in jobs:
    path, kept_path = workdir(root, setting.name, seed), workdir(kept, setting.name, seed)
    config = seed_config(setting, seed)
    if finished_records(config, path) is None and kept_records(config, kept_path):
      print(f'{path}: finished (kept in {kept_path}), skipped', flush=True)
    else:
      left.append((setting, seed))
  return left


def run_all(root: str, jobs: list[tuple[Setting, int]], parallel: int, kept: str | None = None) -> list[str]:
  """Trains every (setting, seed) not finished yet, in order, `parallel` processes at a time.

  Each concurrent run is pinned to cores of its own (core_slots). A job is checked again when its turn
  comes: another process may have finished or started it meanwhile. A run that finds its workdir locked
  exits at once; it is reported as running elsewhere, not as failed. A workdir that holds a run of another
  config (other_run: its config file was edited since) is neither skipped as finished nor resumed: reported
  as failed, with the fields that differ, and left as it is.

  Args:
    root: the runs root.
    jobs: (setting, seed) pairs, in the order to run them.
    parallel: how many runs train at a time.
    kept: the record of finished runs (keep): a job finished there is skipped, and each run is kept there as
      it finishes. None: workdirs only.

  Returns:
    The workdirs whose process failed.
  """
  total = len(jobs)
  jobs = skip_kept(root, jobs, kept)
  # Each job's config as the sweep found it at its start, loaded once.
  pending = [(setting, seed, workdir(root, setting.name, seed), seed_config(setting, seed)) for setting, seed in jobs]
  configs = [(config, path) for _, _, path, config in pending]
  running: dict[str, tuple[subprocess.Popen, float, tuple[int, set[int] | None], tuple[str, int, int]]] = {}
  free_slots = list(enumerate(core_slots(parallel)))
  failed = []

  def skip_if_finished(setting: Setting, seed: int, path: str, config: ml_collections.ConfigDict) -> bool:
    if finished_records(config, path) is None:
      return False
    if kept is not None:
      keep(path, workdir(kept, setting.name, seed), config.num_epochs)
    print(f'{path}: finished, skipped', flush=True)
    return True

  # What finished before this process started counts as done from the first progress line on.
  pending = [job for job in pending if not skip_if_finished(*job)]
  done, elsewhere = total - len(pending), 0

  def progress() -> str:
    todo = set(running) | {path for _, _, path, _ in pending}
    return progress_line(done, len(running), len(pending), seconds_left(configs, todo, parallel), elsewhere,
                         len(failed))

  print(progress(), flush=True)
  epochs_seen: dict[str, int] = {}  # Per running workdir, the epochs it had recorded when last looked at.
  checked = time.time()
  while pending or running:
    popped = False  # Each job taken off pending, started or not, changes the counts.
    while pending and free_slots:
      setting, seed, path, config = pending.pop(0)
      popped = True
      if skip_if_finished(setting, seed, path, config):  # By another process since the start.
        done += 1
        continue
      owner = workdir_lib.lock_owner(path)
      if owner:
        print(f'{path}: running elsewhere ({owner}), skipped', flush=True)
        elsewhere += 1
        continue
      if (why := other_run(config, path)) is not None:
        failed.append(path)
        print(f'{path}: FAILED, not started: {why}', flush=True)
        continue
      os.makedirs(path, exist_ok=True)
      slot, cores = free_slots.pop(0)
      with open(os.path.join(path, 'train.log'), 'a') as log:
        process = _start(train_command(setting, seed, path), log, cores)
      running[path] = (process, time.time(), (slot, cores), (setting.name, seed, config.num_epochs))
      where = '' if cores is None else f' on cores {",".join(map(str, sorted(cores)))}'
      print(f'{path}: started{where}', flush=True)
    if popped:
      print(progress(), flush=True)
    # A line per epoch a run records, so a sweep of long runs shows its progress and estimate between starts.
    if time.time() - checked > PROGRESS_CHECK_SEC:
      checked = time.time()
      epochs = {path: len(workdir_lib.read_metrics(path)) for path in running}
      if any(n > epochs_seen.get(path, n) for path, n in epochs.items()):
        print(progress(), flush=True)
      epochs_seen = epochs
    time.sleep(0.5)
    for path, (process, start, slot, (name, seed, num_epochs)) in list(running.items()):
      if process.poll() is None:
        continue
      del running[path]
      free_slots.append(slot)
      # Started by another process between the check above and this one's start: it found the lock taken.
      owner = workdir_lib.lock_owner(path) if process.returncode == USAGE_ERROR else None
      if owner:
        print(f'{path}: running elsewhere ({owner}), skipped', flush=True)
        elsewhere += 1
      elif process.returncode:
        failed.append(path)
        print(f'{path}: FAILED (exit {process.returncode}), see {path}/train.log', flush=True)
      else:
        done += 1
        if kept is not None and is_finished(path, num_epochs):
          keep(path, workdir(kept, name, seed), num_epochs)
        print(f'{path}: done in {time.time() - start:.0f} s', flush=True)
      print(progress(), flush=True)
  return failed


def add_launcher_arguments(parser: argparse.ArgumentParser) -> None:
  """--launcher and its settings, shared by reproduce_table.py and sweep.py."""
  parser.add_argument('--launcher', choices=('local', 'ray'), default='local',
                      help='local: subprocesses of this machine, --parallel at a time; ray: a task per run on a '
                      'Ray cluster (pip install -e \'.[ray]\'), whose workdirs and checkout every node sees.')
  parser.add_argument('--parallel', type=int, default=2, help='--launcher local: runs training at the same time.')
  parser.add_argument('--ray_address', default=None,
                      help='--launcher ray: the head node, host:port (as `ray start --head` printed it); default: '
                      'RAY_ADDRESS, else a cluster started on this machine, else Ray on this machine alone.')
  parser.add_argument('--cpus_per_run', type=float, default=1.0, help='--launcher ray: CPUs each run asks for.')
  parser.add_argument('--gpus_per_run', type=float, default=0.0,
                      help='--launcher ray: GPUs each run asks for; a fraction shares a GPU.')
  parser.add_argument('--max_retries', type=int, default=3,
                      help='--launcher ray: attempts after the first for a run whose node, worker or process is '
                      'killed; each resumes from the checkpoint.')


def check_launcher(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
  """Ends in parser.error for launcher settings that cannot work, Ray missing among them."""
  if args.parallel < 1:
    parser.error('--parallel takes a whole number >= 1')
  if args.cpus_per_run < 0 or args.gpus_per_run < 0 or args.max_retries < 0:
    parser.error('--cpus_per_run, --gpus_per_run and --max_retries take a number >= 0')
  if args.launcher == 'ray' and importlib.util.find_spec('ray') is None:
    parser.error("--launcher ray needs Ray, which is not installed: pip install -e '.[ray]'")


def launch(args: argparse.Namespace, root: str, jobs: list[tuple[Setting, int]], kept: str | None = None
           ) -> list[str]:
  """Trains the jobs with the launcher args name, skipping those finished in kept; returns the failed workdirs.

  The caller keeps the finished runs (keep_finished) once the launcher returns; run_all also keeps each run as
  it finishes, so a sweep killed midway has kept what it finished.
  """
  if args.launcher == 'ray':
    import ray_launcher  # Imports Ray: only for --launcher ray.

    return ray_launcher.run_all(root, skip_kept(root, jobs, kept), args.ray_address, args.cpus_per_run,
                                args.gpus_per_run, args.max_retries)
  return run_all(root, jobs, args.parallel, kept)


def _mean(values: list[float]) -> float | None:
  return statistics.fmean(values) if values else None


def _std(values: list[float]) -> float | None:
  """Sample standard deviation over seeds (0 for a single seed)."""
  return statistics.stdev(values) if len(values) > 1 else (0.0 if values else None)


def _first_reaching(records: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
  """The first record whose key reached report.TARGET, or None."""
  epoch = report.first_epoch_reaching(records, key)
  return None if epoch is None else next(r for r in records if r['epoch'] == epoch)


def recipe(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """Every field of config that differs from addjax.config.base_config(), the seed excepted: what a row trained with.

  The row's named fields (digits, layers, ...) are what its tables show; this is the whole of it, so that a
  row's numbers can be matched to a recipe even after the config file behind it has changed.
  """
  base = config_lib.base_config().to_dict()
  return {field: value for field, value in config.to_dict().items() if field != 'seed' and value != base.get(field)}


def summarize(setting: Setting, root: str, seeds: list[int], kept: str | None = None) -> dict[str, Any]:
  """The setting's config fields and, over its finished seeds, the final and first-to-0.99 metrics.

  Args:
    setting: the config and overrides the seeds were trained with.
    root: the runs root; seed k of the setting is in workdir(root, setting.name, k).
    seeds: the seeds to summarise; those not finished are listed in seeds_unfinished (whether they have
      started, whether a process is training them now, whether their workdir holds a run of another config
      (other_run), the epochs done, 0 in the first, and the latest epoch's val accuracies, None before the
      first) and left out of every mean.
    kept: the record of finished runs (keep): a seed whose workdir has not finished (or is gone) is read
      from its copy there when that is a finished run of the same config. None: workdirs only.

  Returns:
    A row: config fields, the recipe (every field set away from base_config), parameters, the finished seeds and
    the folders their records were read from ('workdirs', shown_path); per split and metric (char, seq) the last
    epoch's accuracy's mean, std, min and max over seeds; per metric the epochs and the wall-clock minutes (the
    elapsed_sec of the first epoch at report.TARGET) to 0.99, per seed (None where a seed never got there) and
    their mean over the seeds that did; the mean run's wall_sec and median examples_per_sec.
  """
  config = setting.load()
  finished, partial = [], []
  for seed in seeds:
    path = workdir(root, setting.name, seed)
    records = workdir_lib.read_metrics(path)
    trained_with = seed_config(setting, seed)
    other = other_run(trained_with, path) is not None
    if not other and (through := _through(records, config.num_epochs)) is not None:
      finished.append((seed, path, through))
      continue
    kept_path = None if kept is None else workdir(kept, setting.name, seed)
    if kept_path and (kept_copy := kept_records(trained_with, kept_path)) is not None:
      finished.append((seed, kept_path, kept_copy))
      continue
    running = workdir_lib.lock_owner(path) is not None
    # A config.json without records: started, in its first epoch.
    started = running or bool(records) or os.path.exists(os.path.join(path, workdir_lib.CONFIG_FILE))
    partial.append({'seed': seed, 'started': started, 'running': running, 'other_config': other,
                    'epochs_done': records[-1]['epoch'] if records else 0,
                    'val_char_accuracy': records[-1]['val_char_accuracy'] if records else None,
                    'val_seq_accuracy': records[-1]['val_seq_accuracy'] if records else None})
  last = [records[-1] for _, _, records in finished]
  row: dict[str, Any] = {
      'name': setting.name, 'config': f'configs/{setting.config}.py',
      'overrides': {field: value for field, value in setting.overrides},
      'digits': config.digits, 'num_layers': config.num_layers, 'hidden_size': config.hidden_size,
      'training_size': config.training_size, 'num_epochs': config.num_epochs, 'batch_size': config.batch_size,
      'learning_rate': config.learning_rate, 'lr_schedule': config.lr_schedule, 'reverse': config.reverse,
      'reverse_answer': config.reverse_answer, 'decoder_residual': config.decoder_residual,
      'encoder_lead_in': config.encoder_lead_in, 'encoder_bidirectional': config.encoder_bidirectional,
      'encoder_skip_padding': config.encoder_skip_padding, 'encoder_chars_per_step': config.encoder_chars_per_step,
      'length_balance': config.length_balance,
      'recipe': recipe(config),
      'parameters': cost.parameter_count(config),
      'seeds': [seed for seed, _, _ in finished], 'seeds_unfinished': partial,
      'workdirs': [shown_path(path) for _, path, _ in finished],
  }
  for split in ('val', 'train'):
    for metric in ('char', 'seq'):
      values = [r[f'{split}_{metric}_accuracy'] for r in last]
      row[f'{split}_{metric}_accuracy_mean'] = _mean(values)
      row[f'{split}_{metric}_accuracy_std'] = _std(values)
      row[f'{split}_{metric}_accuracy_min'] = min(values) if values else None
      row[f'{split}_{metric}_accuracy_max'] = max(values) if values else None
  for metric in ('char', 'seq'):
    epochs = [report.first_epoch_reaching(records, f'val_{metric}_accuracy') for _, _, records in finished]
    reached = [e for e in epochs if e is not None]
    row[f'epochs_to_99_{metric}'] = _mean(reached)
    row[f'epochs_to_99_{metric}_per_seed'] = epochs
    row[f'epochs_to_99_{metric}_reached'] = len(reached)
    firsts = [_first_reaching(records, f'val_{metric}_accuracy') for _, _, records in finished]
    minutes = [None if first is None else first['elapsed_sec'] / 60 for first in firsts]
    row[f'minutes_to_99_{metric}_per_seed'] = minutes
    row[f'minutes_to_99_{metric}'] = _mean([m for m in minutes if m is not None])
  row['wall_sec'] = _mean([r['elapsed_sec'] for r in last])
  # The median epoch, not the mean: the first epoch includes compilation and a shared machine has spikes.
  row['examples_per_sec'] = _mean([statistics.median(r['examples_per_sec'] for r in records)
                                   for _, _, records in finished])
  return row


def seeds_text(row: dict[str, Any]) -> str:
  """A summary's seeds for a table: how many finished, then each unfinished one; 'not started' before any has.

  '3'; '1, unfinished: seed 0 running at epoch 9 of 25 (val 0.9909 char, 0.9111 seq), seed 1 not started'.
  """
  unfinished = row['seeds_unfinished']
  if not row['seeds'] and not any(u['started'] for u in unfinished):
    return 'not started'
  text = str(len(row['seeds']))
  if unfinished:
    text += ', unfinished: ' + ', '.join(unfinished_text(u, row['num_epochs']) for u in unfinished)
  return text


def unfinished_text(unfinished: dict[str, Any], num_epochs: int) -> str:
  """An unfinished seed (summarize's seeds_unfinished) for a table, with its latest numbers once it has any.

  'seed 0 running at epoch 4 of 20 (val 0.5556 char, 0.0039 seq)'; 'seed 1 stopped at epoch 0 of 20';
  'seed 2 not started'; 'seed 3 not trained with this config (its workdir holds another run)'. Running: a
  process held its workdir when summarize looked.
  """
  if unfinished.get('other_config'):  # Rows summarised before the field was recorded lack it.
    return f'seed {unfinished["seed"]} not trained with this config (its workdir holds another run)'
  if not unfinished['started']:
    return f'seed {unfinished["seed"]} not started'
  state = 'running' if unfinished['running'] else 'stopped'
  text = f'seed {unfinished["seed"]} {state} at epoch {unfinished["epochs_done"]} of {num_epochs}'
  if unfinished['val_char_accuracy'] is not None:
    text += f' (val {fmt(unfinished["val_char_accuracy"])} char, {fmt(unfinished["val_seq_accuracy"])} seq)'
  return text


def epochs_text(row: dict[str, Any], metric: str) -> str:
  """A summary's epochs to 0.99 for a table: '7.5 (2/3)' (mean over the seeds that got there, how many did)."""
  return _to_99_text(row, metric, 'epochs')


def minutes_text(row: dict[str, Any], metric: str) -> str:
  """A summary's wall-clock minutes to 0.99 for a table: '4.25 (2/3)', as epochs_text gives the epochs."""
  return _to_99_text(row, metric, 'minutes')


def _to_99_text(row: dict[str, Any], metric: str, unit: str) -> str:
  reached, total = row[f'epochs_to_99_{metric}_reached'], len(row['seeds'])
  if not total:
    return '-'
  if not reached:
    return f'never (0/{total})'
  value = row[f'{unit}_to_99_{metric}']
  # A 3-digit point gets there in well under a minute: two decimals where one would round it away.
  decimals = 2 if unit == 'minutes' and value < 10 else 1
  return f'{value:.{decimals}f} ({reached}/{total})'


def machine() -> str:
  """The host in words: architecture, cores and CPU model (from /proc/cpuinfo where there is one)."""
  model = platform.processor() or 'cpu'
  if os.path.exists('/proc/cpuinfo'):
    with open('/proc/cpuinfo') as f:
      names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
    model = names[0] if names else model
  return f'{model}, {os.cpu_count()} cores ({platform.machine()})'


def fmt(value: float | None, digits: int = 4) -> str:
  """A number for a table: `digits` decimals, '-' for none."""
  return '-' if value is None or (isinstance(value, float) and math.isnan(value)) else f'{value:.{digits}f}'


def write_json(path: str, payload: Any) -> None:
  """Writes payload as indented JSON, atomically: a reader (or a kill) never sees half a file."""
  workdir_lib.write_atomic(path, json.dumps(payload, indent=2) + '\n')
