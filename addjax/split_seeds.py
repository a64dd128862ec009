"""Splits a run trained with --config.num_seeds=K into K lone runs, each resumable on its own.

  python -m addjax.split_seeds --workdir W --out DIR [--step N]

Writes DIR/seed<S> for each seed S of W's run: config.json (the run's config with seed S and num_seeds 1, what
a lone run with seed S writes), metrics.jsonl (seed S's numbers of each epoch up to the checkpoint) and one
checkpoint, the newest intact one of W (or that of --step), holding model S's slice of the state: parameters,
optimiser state, step. Model S of a num_seeds run trains exactly as the lone run with seed S does (its data,
initialisation and shuffles; docs/scaling.md), so a lone run resumed from DIR/seed<S> goes on as that lone
run would have, up to float rounding. Resume each with the command that trains it alone:

  python -m addjax.main --config C --config.seed=S --workdir DIR/seed<S>   # W's overrides, without num_seeds

What for: on a CPU, K lone runs (one per core) train faster than one K-seed program (docs/scaling.md), while
one program is the quick way to screen several seeds. In the lone metrics.jsonl the run-wide keys stay as W
has them (epoch_sec, elapsed_sec: the K-seed program's wall clock), except examples_per_sec, each seed's share.

W is locked while it is read (a run still training it is refused) and left unchanged. Each DIR/seed<S> is
written under a temporary name and renamed when complete; any DIR/seed<S> that exists already is refused
before anything is written.
"""

import json
import os
import shutil
from typing import Any

from absl import app
from absl import flags
import jax
import ml_collections
import numpy as np

from addjax import checkpoint
from addjax import cli
from addjax import config as config_lib
from addjax import inference
from addjax import workdir as workdir_lib

FLAGS = flags.FLAGS


def seed_record(record: dict[str, Any], index: int, num_seeds: int) -> dict[str, Any]:
  """One line of a num_seeds run's metrics.jsonl as the lone run of the seed at `index` writes it."""
  lone = {key: value if key in workdir_lib.RUN_KEYS else value[index] for key, value in record.items()}
  lone['examples_per_sec'] = record['examples_per_sec'] / num_seeds
  return lone


def split(workdir: str, out: str, step: int | None = None) -> list[str]:
  """Writes out/seed<S> for each seed of the num_seeds run in workdir; returns their paths, in seed order.

  Args:
    workdir: a run trained with num_seeds > 1 by python -m addjax.main.
    out: the folder of the lone runs, created if missing.
    step: the checkpoint (epoch) to split; None: the newest intact one.

  Raises:
    inference.InputError: no such run, no such checkpoint, or a lone run's folder exists already.
    workdir.WorkdirBusyError: a run is training in workdir.
  """
  config = inference.read_config(workdir)
  num_seeds, seeds = config.num_seeds, config_lib.run_seeds(config)
  if num_seeds == 1:
    raise inference.InputError(f'--workdir {workdir} holds one model (num_seeds 1): nothing to split; accepted: '
                               'a run trained with --config.num_seeds=K, K > 1')
  targets = [os.path.join(out, f'seed{seed}') for seed in seeds]
  taken = [target for target in targets if os.path.lexists(target)]
  if taken:
    raise inference.InputError(f'--out {out}: {taken[0]} exists already; accepted: a folder without '
                               f'seed{seeds[0]}..seed{seeds[-1]} in it')
  with workdir_lib.lock(workdir):
    restored = _restore(workdir, config, step)
    records, _ = workdir_lib.repair_metrics(workdir, restored.step, write=False)
    os.makedirs(out, exist_ok=True)
    for index, (seed, target) in enumerate(zip(seeds, targets)):
      state = jax.tree.map(lambda leaf, i=index: np.asarray(leaf)[i], restored.state)
      _write_lone_run(target, config_lib.with_seed(config, seed), restored.step, state, restored.meta,
                      [seed_record(r, index, num_seeds) for r in records])
  return targets


def _restore(workdir: str, config: ml_collections.ConfigDict, step: int | None) -> checkpoint.Restored:
  """The checkpoint to split, every leaf checked to carry the run's seed axis first."""
  restored = inference.restore_checkpoint(workdir, config, step)
  for path, leaf in jax.tree_util.tree_flatten_with_path(restored.state)[0]:
    if np.shape(leaf)[:1] != (config.num_seeds,):
      raise inference.InputError(
          f'--workdir {workdir}: checkpoint {restored.step} does not hold the {config.num_seeds} models that '
          f'config.json names: {jax.tree_util.keystr(path)} has shape {np.shape(leaf)}')
  return restored


def _write_lone_run(target: str, config: ml_collections.ConfigDict, step: int, state: Any,
                    meta: dict[str, Any], records: list[dict[str, Any]]) -> None:
  """config.json, metrics.jsonl and the checkpoint of one lone run, under a temporary name, then renamed."""
  partial = f'{target}.{os.getpid()}.tmp'
  shutil.rmtree(partial, ignore_errors=True)
  try:
    os.makedirs(partial)
    workdir_lib.prepare(partial, config)
    workdir_lib.write_atomic(os.path.join(partial, workdir_lib.METRICS_FILE),
                             ''.join(json.dumps(record) + '\n' for record in records))
    mngr = checkpoint.manager(partial, config.checkpoints_to_keep)
    try:
      checkpoint.save(mngr, step, state, meta)
      checkpoint.wait(mngr)
    finally:
      checkpoint.close(mngr)
    os.replace(partial, target)
  finally:
    shutil.rmtree(partial, ignore_errors=True)


def define_flags() -> None:
  """The flags of this command; called only when it runs, so importing the module defines none."""
  flags.DEFINE_string('workdir', None, 'A run trained by python -m addjax.main with --config.num_seeds=K, K > 1.')
  flags.DEFINE_string('out', None, 'The folder of the lone runs: one seed<S> in it per seed of the run.')
  flags.DEFINE_integer('step', None, 'Checkpoint (epoch) to split; default: the newest that can be read.',
                       lower_bound=0)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    cli.usage_error(f'unexpected arguments {argv[1:]}; accepted: --workdir DIR --out DIR [--step N]')
  if not FLAGS.out:
    cli.usage_error('--out is required; accepted: a folder for the lone runs (one seed<S> in it per seed)')
  cli.quiet_logs()
  try:
    targets = split(FLAGS.workdir, FLAGS.out, FLAGS.step)
  except (inference.InputError, workdir_lib.WorkdirBusyError) as e:
    cli.usage_error(str(e))
  except OSError as e:
    cli.usage_error(f'--out {FLAGS.out}: cannot write: {e.strerror or e}; nothing was left half written')
  for target in targets:
    records = workdir_lib.read_metrics(target)
    last = records[-1] if records else None
    print(f'wrote {target}' + (f' (epoch {last["epoch"]}: val char {last["val_char_accuracy"]:.4f}, '
                               f'seq {last["val_seq_accuracy"]:.4f})' if last else ''))


if __name__ == '__main__':
  define_flags()
  app.run(main, flags_parser=inference.parse_flags)
