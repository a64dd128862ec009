"""Training and evaluation: the train state, the compiled epoch program, train_and_evaluate(config, workdir).

The host touches the device once per chunk of `steps_per_call` training steps: a chunk is one compiled call
(a lax.scan over batches gathered on the device from a device-resident data set and an on-device shuffle).
The state is a plain dict {'params', 'opt_state', 'step'}; functions take it and return a new one.
"""

import functools
import math
import os
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import tqdm

from addjax import checkpoint
from addjax import config as config_lib
from addjax import data
from addjax import models

State = dict[str, Any]
Metrics = dict[str, jax.Array]

# Sums over examples, so that chunks and batches of any size add up to exact epoch means.
_METRIC_SUMS = ('loss', 'char_correct', 'seq_correct', 'count')


class NonFiniteLossError(RuntimeError):
  """The loss became NaN or infinite; training stopped with the last good checkpoint kept."""


# ----------------------------------------------------------------------------------------------------------
# Loss and metrics.
# ----------------------------------------------------------------------------------------------------------
def metric_sums(logits: jax.Array, answers: jax.Array, weights: jax.Array) -> Metrics:
  """Per-example loss and accuracies, weighted (0 for padding examples) and summed over the batch.

  loss is Keras' categorical cross-entropy averaged over all answer positions, padding included;
  char_correct is Keras' per-position accuracy; seq_correct is the exact match of the whole answer.
  """
  answers = answers.astype(jnp.int32)
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, answers).mean(axis=-1)
  correct = jnp.argmax(logits, axis=-1) == answers
  return {
      'loss': jnp.sum(weights * loss),
      'char_correct': jnp.sum(weights * correct.mean(axis=-1)),
      'seq_correct': jnp.sum(weights * correct.all(axis=-1)),
      'count': jnp.sum(weights),
  }


def means(sums: dict[str, float], prefix: str) -> dict[str, float]:
  count = max(float(sums['count']), 1.0)
  return {
      f'{prefix}_loss': float(sums['loss']) / count,
      f'{prefix}_char_accuracy': float(sums['char_correct']) / count,
      f'{prefix}_seq_accuracy': float(sums['seq_correct']) / count,
  }


# ----------------------------------------------------------------------------------------------------------
# Optimiser and state.
# ----------------------------------------------------------------------------------------------------------
def steps_per_epoch(config: ml_collections.ConfigDict) -> int:
  """Keras keeps the last, smaller batch of an epoch; so do we."""
  num_train = config.training_size - config.training_size // 10
  return math.ceil(num_train / config.batch_size)


def learning_rate_schedule(config: ml_collections.ConfigDict) -> optax.Schedule:
  total_steps = config.num_epochs * steps_per_epoch(config)
  if config.lr_schedule == 'cosine':
    return optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, config.warmup_steps,
                                              max(total_steps, config.warmup_steps + 1))
  if config.warmup_steps:
    return optax.linear_schedule(0.0, config.learning_rate, config.warmup_steps)
  return optax.constant_schedule(config.learning_rate)


def create_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  adam = optax.adam(learning_rate_schedule(config), b1=config.adam_b1, b2=config.adam_b2, eps=config.adam_eps)
  if config.grad_clip_norm:
    return optax.chain(optax.clip_by_global_norm(config.grad_clip_norm), adam)
  return adam


def init_state(config: ml_collections.ConfigDict, model: models.AdditionLSTM,
               tx: optax.GradientTransformation) -> State:
  queries = jnp.zeros((1, data.query_length(config.digits)), jnp.uint8)
  params = model.init(jax.random.fold_in(jax.random.key(config.seed), 0), queries)['params']
  return {'params': params, 'opt_state': tx.init(params), 'step': jnp.zeros((), jnp.int32)}


def epoch_key(seed: int, epoch: int) -> jax.Array:
  """The shuffle of an epoch depends on (seed, epoch) only, so a resumed run replays it exactly."""
  return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), 1), epoch)


# ----------------------------------------------------------------------------------------------------------
# Compiled programs.
# ----------------------------------------------------------------------------------------------------------
def chunk_layout(num_steps: int, steps_per_call: int) -> tuple[int, int]:
  """(num_chunks, chunk_steps): equal chunks covering num_steps with fewer than num_chunks steps over."""
  num_chunks = math.ceil(num_steps / steps_per_call)
  return num_chunks, math.ceil(num_steps / num_chunks)


def make_epoch_batches(num_examples: int, batch_size: int, num_chunks: int, chunk_steps: int) -> Callable:
  """key -> (indices, weights) [num_chunks, chunk_steps, batch]: a shuffle, padded with weight-0 slots."""
  padded = num_chunks * chunk_steps * batch_size

  def epoch_batches(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    order = jax.random.permutation(key, num_examples)
    indices = jnp.zeros((padded,), jnp.int32).at[:num_examples].set(order)
    weights = (jnp.arange(padded) < num_examples).astype(jnp.float32)
    shape = (num_chunks, chunk_steps, batch_size)
    return indices.reshape(shape), weights.reshape(shape)

  return jax.jit(epoch_batches)


def make_train_chunk(model: models.AdditionLSTM, tx: optax.GradientTransformation) -> Callable:
  """(state, queries, answers, indices, weights, chunk) -> (state, summed metrics) for one chunk."""

  def loss_fn(params, queries, answers, weights):
    logits = model.apply({'params': params}, queries)
    sums = metric_sums(logits, answers, weights)
    return sums['loss'] / jnp.maximum(sums['count'], 1.0), sums

  def train_step(state: State, batch, queries, answers) -> tuple[State, Metrics]:
    indices, weights = batch

    def update(state):
      grads, sums = jax.grad(loss_fn, has_aux=True)(state['params'], queries[indices], answers[indices], weights)
      updates, opt_state = tx.update(grads, state['opt_state'], state['params'])
      params = optax.apply_updates(state['params'], updates)
      return {'params': params, 'opt_state': opt_state, 'step': state['step'] + 1}, sums

    def skip(state):
      return state, {name: jnp.zeros((), jnp.float32) for name in _METRIC_SUMS}

    # Padding sits at the end of an epoch, so a batch whose first slot is padding is padding throughout;
    # skipping it keeps Adam's state as if the batch never existed.
    return jax.lax.cond(weights[0] > 0, update, skip, state)

  def train_chunk(state, queries, answers, indices, weights, chunk):
    step = functools.partial(train_step, queries=queries, answers=answers)
    state, sums = jax.lax.scan(step, state, (indices[chunk], weights[chunk]))
    return state, jax.tree.map(jnp.sum, sums)

  return jax.jit(train_chunk, donate_argnums=0)


def make_evaluate(model: models.AdditionLSTM) -> Callable:
  """(params, queries, answers, weights) [num_batches, batch, ...] -> (summed metrics, predictions)."""

  def evaluate(params, queries, answers, weights):
    def batch_metrics(_, batch):
      q, a, w = batch
      logits = model.apply({'params': params}, q)
      return None, (metric_sums(logits, a, w), jnp.argmax(logits, axis=-1).astype(jnp.uint8))

    _, (sums, predictions) = jax.lax.scan(batch_metrics, None, (queries, answers, weights))
    return jax.tree.map(jnp.sum, sums), predictions.reshape(-1, predictions.shape[-1])

  return jax.jit(evaluate)


def batch_for_eval(queries: np.ndarray, answers: np.ndarray,
                   batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Pads to whole batches of at most batch_size, with weight 0 on the padding."""
  n = len(queries)
  batch_size = min(batch_size, n)
  num_batches = math.ceil(n / batch_size)
  pad = num_batches * batch_size - n
  weights = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])

  def shape(x):
    x = np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)])
    return x.reshape((num_batches, batch_size) + x.shape[1:])

  return shape(queries), shape(answers), weights.reshape(num_batches, batch_size)


# ----------------------------------------------------------------------------------------------------------
# Reporting.
# ----------------------------------------------------------------------------------------------------------
def sample_lines(val_queries: np.ndarray, val_answers: np.ndarray, predictions: np.ndarray, reverse: bool,
                 num_samples: int, rng: np.random.Generator) -> list[str]:
  """The seed's printout: 'Q 535+61  T 596  ☑ 596', operands in natural order, ☒ for a wrong answer."""
  lines = []
  query_width, answer_width = val_queries.shape[1], val_answers.shape[1]
  for i in rng.integers(0, len(val_queries), size=num_samples):
    truth, guess = data.answer_text(val_answers[i]), data.decode(predictions[i]).rstrip()
    mark = '☑' if np.array_equal(val_answers[i], predictions[i]) else '☒'
    lines.append(f'Q {data.query_text(val_queries[i], reverse):<{query_width}} '
                 f'T {truth:<{answer_width}} {mark} {guess}')
  return lines


def first_epoch_reaching(records: list[dict[str, Any]], key: str, threshold: float = 0.99) -> int | None:
  return next((r['epoch'] for r in records if r[key] >= threshold), None)


def summary_lines(records: list[dict[str, Any]]) -> list[str]:
  lines = []
  for key, name in (('val_char_accuracy', 'val char accuracy'), ('val_seq_accuracy', 'val seq accuracy')):
    epoch = first_epoch_reaching(records, key)
    if epoch is None:
      best = max(records, key=lambda r: r[key]) if records else None
      lines.append(f'{name} never reached 0.99' +
                   (f' (best {best[key]:.4f} at epoch {best["epoch"]})' if best else ''))
    else:
      record = records[epoch - 1]
      lines.append(f'{name} first reached 0.99 at epoch {epoch} ({record["elapsed_sec"]:.1f} s elapsed)')
  return lines


def _check_finite(value: float, what: str, epoch: int, workdir: str) -> None:
  if not math.isfinite(value):
    kept = (f'the last good checkpoint, of epoch {epoch - 1}, is kept in '
            f'{os.path.join(workdir, checkpoint.CHECKPOINT_DIR)}' if epoch > 1 else 'no checkpoint was saved')
    raise NonFiniteLossError(f'{what} became {value} in epoch {epoch}; stopped: {kept}. '
                             'Lower learning_rate or set grad_clip_norm')


# ----------------------------------------------------------------------------------------------------------
# The run.
# ----------------------------------------------------------------------------------------------------------
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> list[dict[str, Any]]:
  """Trains (or resumes) the run in workdir to config.num_epochs; returns every epoch's metrics."""
  start_time = time.time()
  config_lib.validate(config)
  checkpoint.prepare_workdir(workdir, config)

  # --- Data: generated on the host once, then resident on the device. ---
  splits = data.make_splits(config)
  data_sec = time.time() - start_time
  train_queries, train_answers = jax.device_put((splits['train_queries'], splits['train_answers']))
  val_batches = jax.device_put(batch_for_eval(splits['val_queries'], splits['val_answers'],
                                              config.eval_batch_size))
  num_train = len(splits['train_queries'])

  # --- Model, optimiser, state: fresh, or restored from the latest checkpoint. ---
  model = models.from_config(config)
  tx = create_optimizer(config)
  state = init_state(config, model, tx)
  mngr = checkpoint.manager(workdir, config.checkpoints_to_keep)
  restored = checkpoint.restore_latest(mngr, state)
  start_epoch, elapsed_before = 0, 0.0
  if restored is not None:
    start_epoch, state, meta = restored
    elapsed_before = meta['elapsed_sec']
  records = checkpoint.truncate_metrics(workdir, start_epoch)

  # --- Compile once, ahead of the loop, so epoch timings are steady-state. ---
  num_steps = steps_per_epoch(config)
  num_chunks, chunk_steps = chunk_layout(num_steps, config.steps_per_call)
  epoch_batches = make_epoch_batches(num_train, config.batch_size, num_chunks, chunk_steps)
  compile_start = time.time()
  indices, weights = epoch_batches(epoch_key(config.seed, 0))
  chunk_args = (train_queries, train_answers, indices, weights, 0)
  train_chunk = make_train_chunk(model, tx).lower(state, *chunk_args).compile()
  evaluate = make_evaluate(model).lower(state['params'], *val_batches).compile()
  compile_sec = time.time() - compile_start

  print(f'{config.digits} digits, {num_train:,} training and {len(splits["val_queries"]):,} validation '
        f'examples (generated in {data_sec:.2f} s); {num_steps:,} steps per epoch in {num_chunks} compiled '
        f'call(s) (compiled in {compile_sec:.1f} s); '
        + (f'resuming after epoch {start_epoch}' if start_epoch else 'starting'), flush=True)

  bar = tqdm.tqdm(total=config.num_epochs * num_steps, initial=start_epoch * num_steps, unit='step',
                  dynamic_ncols=True, mininterval=1.0, disable=None)  # No bar when stderr is not a terminal.
  try:
    for epoch in range(start_epoch + 1, config.num_epochs + 1):
      # --- Train one epoch, a chunk per compiled call. ---
      epoch_start = time.time()
      indices, weights = epoch_batches(epoch_key(config.seed, epoch))
      sums = dict.fromkeys(_METRIC_SUMS, 0.0)
      for chunk in range(num_chunks):
        state, chunk_sums = train_chunk(state, train_queries, train_answers, indices, weights, chunk)
        chunk_sums = jax.device_get(chunk_sums)
        _check_finite(float(chunk_sums['loss']), 'the training loss', epoch, workdir)
        sums = {k: sums[k] + float(v) for k, v in chunk_sums.items()}
        bar.update(min(chunk_steps, num_steps - chunk * chunk_steps))
        bar.set_postfix(epoch=epoch, loss=f'{sums["loss"] / max(sums["count"], 1):.4f}', refresh=False)
      train_sec = time.time() - epoch_start

      # --- Evaluate the whole validation set. ---
      val_sums, predictions = jax.device_get(evaluate(state['params'], *val_batches))
      _check_finite(float(val_sums['loss']), 'the validation loss', epoch, workdir)
      record = {
          'epoch': epoch,
          **means(sums, 'train'),
          **means(val_sums, 'val'),
          'examples_per_sec': num_train / train_sec,
          'epoch_sec': time.time() - epoch_start,
          'elapsed_sec': elapsed_before + time.time() - start_time,
      }

      # --- Report, then checkpoint: the line goes first so that a kill in between replays this epoch. ---
      rng = np.random.default_rng([config.seed, epoch])
      for line in sample_lines(splits['val_queries'], splits['val_answers'], predictions, config.reverse,
                               config.num_samples_to_print, rng):
        bar.write(line)
      bar.write(f'epoch {epoch}/{config.num_epochs}: train loss {record["train_loss"]:.4f} '
                f'char {record["train_char_accuracy"]:.4f} | val loss {record["val_loss"]:.4f} '
                f'char {record["val_char_accuracy"]:.4f} seq {record["val_seq_accuracy"]:.4f} | '
                f'{record["examples_per_sec"]:,.0f} examples/s, {record["elapsed_sec"]:.1f} s elapsed')
      checkpoint.append_metrics(workdir, record)
      records.append(record)
      checkpoint.save(mngr, epoch, state, {'epoch': epoch, 'elapsed_sec': record['elapsed_sec']})
  finally:
    bar.close()
    mngr.wait_until_finished()
    mngr.close()

  for line in summary_lines(records):
    print(line)
  return records
