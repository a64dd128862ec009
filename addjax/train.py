"""train_and_evaluate(config, workdir): a run from its config to its last epoch, resumable at any moment.

The loop around the compiled programs (addjax.programs): the data resident on every device, the state
restored from the newest intact checkpoint, then per epoch one compiled call per chunk of steps, the
evaluation of the validation split, one line of metrics.jsonl and a checkpoint. Randomness comes from
(seed, epoch) (addjax.rng), so a resumed run replays exactly what an uninterrupted one computes.

Several processes (jax.distributed, joined by addjax.main) run the same programs on the same data, each
feeding its own devices; process 0 alone owns the workdir (its lock) and writes config.json, metrics.jsonl
and the printout. Every process takes part in each checkpoint.
"""

import contextlib
import functools
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import ml_collections
import numpy as np
import tqdm

from addjax import checkpoint
from addjax import config as config_lib
from addjax import data
from addjax import models
from addjax import programs
from addjax import report
from addjax import rng
from addjax import sharding
from addjax import state as state_lib
from addjax import summaries
from addjax import workdir as workdir_lib

# The pieces of the training program, importable from here for whoever builds it without the loop.
from addjax.programs import make_epoch_batches, make_train_chunk
from addjax.rng import epoch_key
from addjax.state import create_optimizer, init_state

__all__ = ['NonFiniteLossError', 'RUN_KEYS', 'StorageError', 'create_optimizer', 'epoch_key', 'init_state',
           'make_epoch_batches', 'make_seed_splits', 'make_train_chunk', 'train_and_evaluate']

Record = report.Record

RUN_KEYS = workdir_lib.RUN_KEYS


class NonFiniteLossError(RuntimeError):
  """The loss became NaN or infinite; training stopped with the last good checkpoint kept."""


class StorageError(RuntimeError):
  """The workdir could not be written (no space, a read-only or vanished file system).

  The run stopped with the checkpoints committed so far and metrics.jsonl cut back to the newest of them.
  """


def make_seed_splits(config: ml_collections.ConfigDict) -> dict[str, np.ndarray]:
  """data.make_splits of every seed: as it is for one seed, stacked on a leading seed axis for several.

  Every seed has the same number of examples, so the arrays stack.
  """
  if config.num_seeds == 1:
    return data.make_splits(config)
  per_seed = [data.make_splits(config_lib.with_seed(config, seed)) for seed in config_lib.run_seeds(config)]
  return {name: np.stack([splits[name] for splits in per_seed]) for name in per_seed[0]}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> list[Record]:
  """Trains (or resumes) the run in workdir to config.num_epochs.

  Uses every device of every process; call jax.distributed.initialize first to join several processes
  (addjax.main does). The run owns workdir while it trains (workdir.lock). Each metrics.jsonl line holds the
  keys of RUN_KEYS as single numbers and every other metric as a number, or with num_seeds > 1 as a list of
  one number per seed; examples_per_sec counts the training examples of all seeds together.

  Args:
    config: the run's config (see addjax.config.base_config).
    workdir: the run's directory, created if missing; a workdir of the same run resumes.

  Returns:
    Every epoch's metrics, 1..num_epochs.

  Raises:
    ConfigError: a config value that cannot work, or a workdir holding a run with another config.
    WorkdirBusyError: another process owns workdir; nothing was written.
    NoIntactCheckpointError: checkpoints exist but none can be read; nothing was changed.
    NonFiniteLossError: the loss diverged; the last good checkpoint is kept.
    StorageError: a write to workdir failed; the committed checkpoints are kept.
  """
  config_lib.validate(config, num_devices=jax.device_count())
  primary = jax.process_index() == 0  # Writes the files and the printout; every process computes.
  workdir_lib.create(workdir)
  with workdir_lib.lock(workdir) if primary else contextlib.nullcontext():
    try:
      workdir_lib.prepare(workdir, config, write=primary)
    except OSError as e:
      raise StorageError(f'cannot write {workdir_lib.CONFIG_FILE} in {workdir}: {e.strerror}') from None
    return _train(config, workdir, primary)


def _train(config: ml_collections.ConfigDict, workdir: str, primary: bool) -> list[Record]:
  start_time = time.time()
  num_devices, num_processes = jax.device_count(), jax.process_count()
  num_seeds, seeds = config.num_seeds, config_lib.run_seeds(config)
  mesh = sharding.data_mesh()
  everywhere = sharding.replicated(mesh)

  def say(line: str, note: bool = False) -> None:
    if primary:
      print(f'note: {line}' if note else line, file=sys.stderr if note else sys.stdout, flush=True)

  # --- Data: generated on the host once (the same in every process), then resident on every device. ---
  splits = make_seed_splits(config)
  data_sec = time.time() - start_time
  train_queries, train_answers = (sharding.put(splits[name], everywhere)
                                  for name in ('train_queries', 'train_answers'))
  if config.swap_augment:
    queries = splits['train_queries']
    swapped_queries = sharding.put(data.swap_operands(queries.reshape(-1, queries.shape[-1]), config.reverse)
                                   .reshape(queries.shape), everywhere)
    swap_augment = programs.make_swap_augment(mesh, num_seeds)
  if config.shift_augment:
    shift_augment = programs.make_shift_augment(mesh, num_seeds)
  val_queries, val_answers, val_weights = programs.seed_batches_for_eval(
      splits['val_queries'], splits['val_answers'], config.eval_batch_size, num_seeds, multiple_of=num_devices)
  seed_axes = int(num_seeds > 1)
  val_batches = (sharding.put(val_queries, sharding.batch_sharded(mesh, val_queries.ndim, seed_axes + 1)),
                 sharding.put(val_answers, sharding.batch_sharded(mesh, val_answers.ndim, seed_axes + 1)),
                 sharding.put(val_weights, sharding.batch_sharded(mesh, 2)))
  num_train = splits['train_queries'].shape[seed_axes]
  num_val = splits['val_queries'].shape[seed_axes]

  # --- Model, optimiser, state: fresh, or restored from the newest intact checkpoint. ---
  model = models.from_config(config)
  tx = create_optimizer(config)
  state = state_lib.create_state(config, model, tx, mesh)
  mngr = checkpoint.manager(workdir, config.checkpoints_to_keep)
  try:
    start_epoch, state, elapsed_before, records = _resume(workdir, mngr, state, primary, say)
  except BaseException:
    checkpoint.close(mngr)
    raise

  # --- Compile once, ahead of the loop, so epoch timings are steady-state. ---
  num_steps = state_lib.steps_per_epoch(config)
  num_chunks, chunk_steps = programs.chunk_layout(num_steps, config.steps_per_call)
  probabilities = (data.length_balanced_probabilities(splits['train_queries'], config.length_balance)
                   if config.length_balance else None)
  epoch_batches = make_epoch_batches(num_train, config.batch_size, num_chunks, chunk_steps, mesh, num_seeds,
                                     probabilities)
  compile_start = time.time()
  indices, weights = epoch_batches(rng.seed_keys(config, lambda seed: epoch_key(seed, 0)))
  chunk_args = (train_queries, train_answers, indices, weights, 0)
  train_chunk = make_train_chunk(model, tx, mesh, num_seeds, config.microbatch_size)
  train_chunk = train_chunk.lower(state, *chunk_args).compile()
  evaluate = programs.make_evaluate(model, mesh, num_seeds).lower(state['params'], *val_batches).compile()
  compile_sec = time.time() - compile_start

  where = (f'{num_devices} {jax.devices()[0].platform} device(s)'
           + (f' in {num_processes} processes' if num_processes > 1 else ''))
  say(f'{config.digits} digits, {num_train:,} training and {num_val:,} validation examples'
      + (f' for each of {num_seeds} seeds ({seeds[0]}..{seeds[-1]})' if num_seeds > 1 else '')
      + f' (generated in {data_sec:.2f} s); {num_steps:,} steps per epoch in {num_chunks} compiled call(s) '
      f'(compiled in {compile_sec:.1f} s) on {where}; '
      + (f'resuming after epoch {start_epoch}' if start_epoch else 'starting'))

  bar = tqdm.tqdm(total=config.num_epochs * num_steps, initial=start_epoch * num_steps, unit='step',
                  dynamic_ncols=True, mininterval=1.0,
                  disable=None if primary else True)  # No bar when stderr is not a terminal.
  saved = committed = start_epoch  # The newest checkpoint started, and the newest known to be committed.
  learning_rate = state_lib.learning_rate_schedule(config)
  events = summaries.open_writer(workdir, config, records) if primary else summaries.NoWriter()
  try:
    for epoch in range(start_epoch + 1, config.num_epochs + 1):
      # --- Train one epoch, a chunk per compiled call. ---
      epoch_start = time.time()
      indices, weights = epoch_batches(rng.seed_keys(config, functools.partial(epoch_key, epoch=epoch)))
      queries = train_queries
      if config.swap_augment:
        queries = swap_augment(train_queries, swapped_queries,
                               rng.seed_keys(config, functools.partial(rng.augment_key, epoch=epoch)))
      if config.shift_augment:
        queries = shift_augment(queries, rng.seed_keys(config, functools.partial(rng.shift_key, epoch=epoch)))
      sums = dict.fromkeys(programs.METRIC_SUMS, 0.0)
      for chunk in range(num_chunks):
        state, chunk_sums = train_chunk(state, queries, train_answers, indices, weights, chunk)
        chunk_sums = jax.device_get(chunk_sums)
        _check_finite(chunk_sums['loss'], 'the training loss', epoch, workdir, seeds)
        sums = {k: sums[k] + np.asarray(v, np.float64) for k, v in chunk_sums.items()}
        bar.update(min(chunk_steps, num_steps - chunk * chunk_steps))
        bar.set_postfix(epoch=epoch, loss=f'{np.mean(sums["loss"] / np.maximum(sums["count"], 1)):.4f}',
                        refresh=False)
      train_sec = time.time() - epoch_start

      # --- Evaluate the whole validation set. ---
      val_sums, predictions = jax.device_get(evaluate(state['params'], *val_batches))
      _check_finite(val_sums['loss'], 'the validation loss', epoch, workdir, seeds)
      record = {
          'epoch': epoch,
          **programs.means(sums, 'train'),
          **programs.means(val_sums, 'val'),
          'learning_rate': float(learning_rate(epoch * num_steps - 1)),  # That of the epoch's last step.
          'examples_per_sec': num_seeds * num_train / train_sec,
          'epoch_sec': time.time() - epoch_start,
          'elapsed_sec': elapsed_before + time.time() - start_time,
          'num_devices': num_devices,
      }

      # --- The previous checkpoint commits, then this epoch's line, then its checkpoint starts. ---
      # So metrics.jsonl runs at most one epoch ahead of the checkpoints, and a kill in between replays it.
      try:
        checkpoint.wait(mngr)
      except checkpoint.SaveError as e:
        raise _stopped(workdir, mngr, saved, str(e), committed, primary) from None
      committed = saved
      if primary:
        # The samples are those of the first seed, drawn as a lone run with that seed draws them.
        first = (lambda x: x) if num_seeds == 1 else (lambda x: x[0])
        sample_rng = np.random.default_rng([config.seed, epoch])
        for line in report.sample_lines(first(splits['val_queries']), first(splits['val_answers']),
                                        first(predictions), config.reverse, config.num_samples_to_print,
                                        sample_rng, config.reverse_answer):
          bar.write(line)
        bar.write(report.epoch_line(record, config.num_epochs))
      try:
        if primary:
          workdir_lib.append_metrics(workdir, record)
          events.write(record)
        checkpoint.save(mngr, epoch, state, {'epoch': epoch, 'elapsed_sec': record['elapsed_sec']})
      except (OSError, checkpoint.SaveError) as e:
        raise _stopped(workdir, mngr, epoch, _cause(e), committed, primary) from None
      saved = epoch
      records.append(record)
    try:
      checkpoint.wait(mngr)
    except checkpoint.SaveError as e:
      raise _stopped(workdir, mngr, saved, str(e), committed, primary) from None
  finally:
    bar.close()
    events.close()
    checkpoint.close(mngr)

  for line in report.summary_lines(records):
    say(line)
  return records


def _resume(workdir: str, mngr: checkpoint.Manager, state: state_lib.State, primary: bool,
            say: Callable[..., None]) -> tuple[int, state_lib.State, float, list[Record]]:
  """(epoch, state, elapsed_sec, records) to go on from: the newest intact checkpoint's, or a fresh start.

  Checkpoints newer than the one restored could not be read: they are moved to workdir/damaged_checkpoints.
  Uncommitted checkpoint directories (a save cut short) are removed, and metrics.jsonl is repaired to hold
  the epochs up to the checkpoint exactly once each. Each of these is said in one line.
  """
  restored = checkpoint.restore_newest_intact(mngr, state)  # NoIntactCheckpointError: nothing touched yet.
  start_epoch, elapsed_before = 0, 0.0
  if restored is not None:
    start_epoch, state, elapsed_before = restored.step, restored.state, restored.meta['elapsed_sec']
    if restored.damaged:
      if primary:
        checkpoint.set_aside(workdir, [step for step, _ in restored.damaged])
      mngr.reload()
      say(f'{restored.note(workdir)}; moved to {checkpoint.DAMAGED_DIR}/', note=True)
  if primary:
    removed = checkpoint.remove_partial(workdir)
    if removed:
      say(f'{workdir}: removed the checkpoint(s) a save left unfinished: {", ".join(removed)}', note=True)
  records, repaired = workdir_lib.repair_metrics(workdir, start_epoch, write=primary)
  if repaired:
    say(repaired, note=True)
  return start_epoch, state, elapsed_before, records


def _stopped(workdir: str, mngr: checkpoint.Manager, epoch: int, cause: str, committed: int,
             primary: bool) -> StorageError:
  """After a failed write: the partial checkpoint removed, metrics.jsonl cut back to the committed one."""
  checkpoint.close(mngr)  # Lets Orbax's writers finish before their directory goes.
  if primary:
    checkpoint.remove_partial(workdir)
    try:
      workdir_lib.repair_metrics(workdir, committed)  # A cut at the end: no free space needed.
    except OSError:
      pass  # The next start repairs it.
  kept = (f'checkpoint {committed} and the metrics up to it are kept' if committed
          else 'no checkpoint was committed')
  return StorageError(f'cannot save epoch {epoch} in {workdir}: {cause}; stopped: {kept}; free space (or make it '
                      'writable) and rerun the same command to resume')


def _cause(error: Exception) -> str:
  if isinstance(error, OSError) and error.strerror:
    return error.strerror
  return str(error)


def _check_finite(values: Any, what: str, epoch: int, workdir: str, seeds: list[int]) -> None:
  """Raises NonFiniteLossError if the value (of any seed) is NaN or infinite."""
  values = np.atleast_1d(np.asarray(values))
  bad = np.flatnonzero(~np.isfinite(values))
  if bad.size:
    kept = (f'the last good checkpoint, of epoch {epoch - 1}, is kept in '
            f'{os.path.join(workdir, workdir_lib.CHECKPOINT_DIR)}' if epoch > 1 else 'no checkpoint was saved')
    of_seed = f' of seed {seeds[bad[0]]}' if len(seeds) > 1 else ''
    raise NonFiniteLossError(f'{what}{of_seed} became {float(values[bad[0]])} in epoch {epoch}; stopped: {kept}. '
                             'Lower learning_rate or set grad_clip_norm')
