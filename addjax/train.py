"""Training and evaluation: the train state, the compiled epoch program, train_and_evaluate(config, workdir).

The host touches the device once per chunk of `steps_per_call` training steps: a chunk is one compiled call
(a lax.scan over batches gathered on the device from a device-resident data set and an on-device shuffle).
The state is a plain dict {'params', 'opt_state', 'step'}; functions take it and return a new one.

Scaling out, all in the same compiled programs:
- num_seeds = K > 1 trains K independent models through jax.vmap: the state, the data sets and the shuffles
  gain a leading seed axis; the padding weights are shared (every seed has the same number of examples), so
  the per-step test that skips an all-padding batch stays one lax.cond, not a select over both branches.
- Data parallelism over every device of every process: one mesh axis, 'data'. The (small) data set and the
  state are replicated on each device, the batch indices are sharded on the 'data' axis (NamedSharding), and
  each device gathers its own rows of the batch, runs the step on them (shard_map) and sums its gradients with
  the others' (psum). A step's global batch is still batch_size and its loss the mean over it, so the math is
  the one-device run's, up to the order of float additions.
- Several processes (jax.distributed, started by addjax.main) run the same program on the same data, each
  feeding its own devices; only process 0 writes config.json, metrics.jsonl and the printout.
"""

import functools
import math
import os
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import ml_collections
import numpy as np
import optax
import tqdm

from addjax import checkpoint
from addjax import config as config_lib
from addjax import data
from addjax import models

# On a CPU, the QR decompositions of the orthogonal initialisers run in scipy's OpenBLAS (jaxlib's LAPACK
# kernels), loaded at the first one. Its threads spin while they wait: on a machine whose cores are busy, one
# 512x128 QR then takes seconds instead of a millisecond. One thread is plenty for matrices this small; XLA's
# own matmuls do not use OpenBLAS. A value the user set is kept.
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

State = dict[str, Any]
Metrics = dict[str, jax.Array]

# Sums over examples, so that chunks and batches of any size add up to exact epoch means.
_METRIC_SUMS = ('loss', 'char_correct', 'seq_correct', 'count')

# The mesh axis that batches are split over.
DATA_AXIS = 'data'

# Keys of a metrics.jsonl line that describe the run as a whole: with num_seeds > 1 these stay single numbers,
# every other key but 'epoch' is a list of num_seeds numbers, one per seed.
RUN_KEYS = ('epoch', 'examples_per_sec', 'epoch_sec', 'elapsed_sec', 'num_devices')


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


def means(sums: dict[str, Any], prefix: str) -> dict[str, float | list[float]]:
  """Epoch means from sums: floats for sums of one run, lists (one per seed) for sums of shape [num_seeds]."""
  count = np.maximum(np.asarray(sums['count'], np.float64), 1.0)

  def mean(name):
    return (np.asarray(sums[name], np.float64) / count).tolist()

  return {
      f'{prefix}_loss': mean('loss'),
      f'{prefix}_char_accuracy': mean('char_correct'),
      f'{prefix}_seq_accuracy': mean('seq_correct'),
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
               tx: optax.GradientTransformation, key: jax.Array | None = None) -> State:
  """The state of one model; its initialisation comes from key, by default jax.random.key(config.seed)."""
  key = jax.random.key(config.seed) if key is None else key
  queries = jnp.zeros((1, data.query_length(config.digits)), jnp.uint8)
  params = model.init(jax.random.fold_in(key, 0), queries)['params']
  return {'params': params, 'opt_state': tx.init(params), 'step': jnp.zeros((), jnp.int32)}


def epoch_key(seed: int, epoch: int) -> jax.Array:
  """The shuffle of an epoch depends on (seed, epoch) only, so a resumed run replays it exactly."""
  return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), 1), epoch)


# ----------------------------------------------------------------------------------------------------------
# Seeds and devices.
# ----------------------------------------------------------------------------------------------------------
def augment_key(seed: int, epoch: int) -> jax.Array:
  """The coin flips of swap_augment in an epoch, a stream apart from the shuffle's."""
  return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), 2), epoch)


def with_seed(config: ml_collections.ConfigDict, seed: int) -> ml_collections.ConfigDict:
  """config as a lone run with this seed."""
  config = config.copy_and_resolve_references()
  config.seed = seed
  config.num_seeds = 1
  return config


def make_seed_splits(config: ml_collections.ConfigDict) -> dict[str, np.ndarray]:
  """data.make_splits of every seed: as it is for one seed, stacked on a leading seed axis for several.

  Every seed has the same number of examples, so the arrays stack.
  """
  if config.num_seeds == 1:
    return data.make_splits(config)
  per_seed = [data.make_splits(with_seed(config, seed)) for seed in config_lib.run_seeds(config)]
  return {name: np.stack([splits[name] for splits in per_seed]) for name in per_seed[0]}


def seed_keys(config: ml_collections.ConfigDict, key_fn: Callable[[int], jax.Array]) -> np.ndarray:
  """Raw key data (uint32, on the host) of key_fn(seed), one per seed; [num_seeds, ...] for several seeds.

  Host data, not a typed key on one device, so that every process can feed it to a program over all devices.
  """
  keys = [np.asarray(jax.random.key_data(key_fn(seed))) for seed in config_lib.run_seeds(config)]
  return keys[0] if config.num_seeds == 1 else np.stack(keys)


def _as_key(key: jax.Array) -> jax.Array:
  return key if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else jax.random.wrap_key_data(key)


def data_mesh(devices: list[jax.Device] | None = None) -> Mesh:
  """Every device (of every process) on one axis, 'data': batches are split over it, all else replicated."""
  return Mesh(np.asarray(jax.devices() if devices is None else devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh, ndim: int, batch_axis: int = -1) -> NamedSharding:
  """Split over the 'data' axis along batch_axis of an ndim-dimensional array, whole along the others."""
  spec = [None] * ndim
  spec[batch_axis] = DATA_AXIS
  return NamedSharding(mesh, P(*spec))


def put(array: np.ndarray, sharding: NamedSharding) -> jax.Array:
  """A host array, identical in every process, as a global array: each process fills its own devices."""
  array = np.asarray(array)
  return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def create_state(config: ml_collections.ConfigDict, model: models.AdditionLSTM,
                 tx: optax.GradientTransformation, mesh: Mesh) -> State:
  """The initial state, replicated on every device: one model's, or num_seeds' stacked on a leading axis.

  Model i of num_seeds is initialised exactly as a lone run with seed + i: by the same compiled program, one
  seed after another, on this process's first device; the states are stacked and copied to every device
  through the host (a few MB, once per run). Not vmapped, not replicated: XLA's CPU runtime can deadlock on
  several batched QR decompositions (the orthogonal initialisers) in one program, and on replicated ones over
  several forced CPU devices.
  """
  init = jax.jit(lambda key_data: init_state(config, model, tx, _as_key(key_data)))
  first_device = jax.local_devices()[0]
  key_data = seed_keys(config, jax.random.key).reshape(config.num_seeds, -1)
  states = [jax.device_get(init(jax.device_put(k, first_device))) for k in key_data]
  state = states[0] if config.num_seeds == 1 else jax.tree.map(lambda *leaves: np.stack(leaves), *states)
  return jax.tree.map(lambda leaf: put(leaf, replicated(mesh)), state)


# ----------------------------------------------------------------------------------------------------------
# Compiled programs.
# ----------------------------------------------------------------------------------------------------------
def chunk_layout(num_steps: int, steps_per_call: int) -> tuple[int, int]:
  """(num_chunks, chunk_steps): equal chunks covering num_steps with fewer than num_chunks steps over."""
  num_chunks = math.ceil(num_steps / steps_per_call)
  return num_chunks, math.ceil(num_steps / num_chunks)


def make_epoch_batches(num_examples: int, batch_size: int, num_chunks: int, chunk_steps: int,
                       mesh: Mesh | None = None, num_seeds: int = 1) -> Callable:
  """key -> (indices, weights) [num_chunks, chunk_steps, batch]: a shuffle, padded with weight-0 slots.

  key: a typed key or its raw key data. With num_seeds > 1, keys [num_seeds] give indices [num_seeds, ...],
  one shuffle per seed, and one weights array that every seed shares. With a mesh, the indices come out split
  over its 'data' axis along the batch, the weights replicated (each step reads them whole: see
  make_train_chunk).
  """
  padded = num_chunks * chunk_steps * batch_size
  shape = (num_chunks, chunk_steps, batch_size)

  def shuffle(key):
    order = jax.random.permutation(_as_key(key), num_examples)
    return jnp.zeros((padded,), jnp.int32).at[:num_examples].set(order).reshape(shape)

  def epoch_batches(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    indices = shuffle(key) if num_seeds == 1 else jax.vmap(shuffle)(key)
    weights = (jnp.arange(padded) < num_examples).astype(jnp.float32)
    return indices, weights.reshape(shape)

  if mesh is None:
    return jax.jit(epoch_batches)
  index_ndim = len(shape) + (num_seeds > 1)
  return jax.jit(epoch_batches, out_shardings=(batch_sharded(mesh, index_ndim), replicated(mesh)))


def make_swap_augment(mesh: Mesh, num_seeds: int = 1) -> Callable:
  """(queries, swapped, key) -> each training query as drawn ("a+b") or swapped ("b+a"), a coin flip apiece.

  Once per epoch, on the device: the chunk program then reads the epoch's queries as it reads unaugmented ones.
  """
  def augment(queries, swapped, key):
    flips = jax.random.bernoulli(_as_key(key), 0.5, (queries.shape[0], 1))
    return jnp.where(flips, swapped, queries)

  return jax.jit(augment if num_seeds == 1 else jax.vmap(augment), out_shardings=replicated(mesh))


def make_train_chunk(model: models.AdditionLSTM, tx: optax.GradientTransformation, mesh: Mesh | None = None,
                     num_seeds: int = 1) -> Callable:
  """(state, queries, answers, indices, weights, chunk) -> (state, summed metrics) for one chunk.

  Data parallel over mesh's 'data' axis (default: every device): each device gathers its share of a batch
  (its block of the indices) from its own replica of the data set, takes the gradient of its examples' loss
  divided by the whole batch's count, and the gradients are summed over the devices, so every device applies
  the same update to its replica of the state. With num_seeds > 1 the state, queries, answers and indices
  carry a leading seed axis, mapped over by jax.vmap; the weights have none: every seed shares them.
  """
  mesh = data_mesh() if mesh is None else mesh

  def loss_fn(params, queries, answers, weights, batch_count):
    logits = model.apply({'params': params}, queries)
    sums = metric_sums(logits, answers, weights)
    return sums['loss'] / jnp.maximum(batch_count, 1.0), sums

  def train_step(state: State, batch, queries, answers) -> tuple[State, Metrics]:
    indices, weights = batch  # indices: this device's block of the batch; weights: the whole batch's.
    local_batch = indices.shape[-1]
    local_weights = jax.lax.dynamic_slice_in_dim(weights, jax.lax.axis_index(DATA_AXIS) * local_batch,
                                                 local_batch)

    def update(state):
      grads, sums = jax.grad(loss_fn, has_aux=True)(state['params'], queries[indices], answers[indices],
                                                    local_weights, jnp.sum(weights))
      grads = jax.lax.psum(grads, DATA_AXIS)
      updates, opt_state = tx.update(grads, state['opt_state'], state['params'])
      params = optax.apply_updates(state['params'], updates)
      return {'params': params, 'opt_state': opt_state, 'step': state['step'] + 1}, sums

    def skip(state):
      return state, {name: jnp.zeros((), jnp.float32) for name in _METRIC_SUMS}

    # Padding sits at the end of an epoch, so a batch whose first slot is padding is padding throughout;
    # skipping it keeps Adam's state as if the batch never existed. The test reads the whole batch's weights,
    # the same on every device and for every seed, so all devices and seeds take the same branch.
    return jax.lax.cond(weights[0] > 0, update, skip, state)

  def train_chunk(state, queries, answers, indices, weights, chunk):
    step = functools.partial(train_step, queries=queries, answers=answers)
    state, sums = jax.lax.scan(step, state, (indices[chunk], weights[chunk]))
    return state, jax.tree.map(jnp.sum, sums)

  def device_chunk(state, queries, answers, indices, weights, chunk):
    run = train_chunk if num_seeds == 1 else jax.vmap(train_chunk, in_axes=(0, 0, 0, 0, None, None))
    state, sums = run(state, queries, answers, indices, weights, chunk)
    return state, jax.lax.psum(sums, DATA_AXIS)

  # check_vma=False: no autodiff crosses a collective here (each device differentiates its own loss, then the
  # gradients are summed), and the model's scans start from constants that the check would want marked.
  indices_spec = batch_sharded(mesh, 3 + (num_seeds > 1)).spec
  sharded_chunk = jax.shard_map(device_chunk, mesh=mesh, in_specs=(P(), P(), P(), indices_spec, P(), P()),
                                out_specs=(P(), P()), check_vma=False)
  return jax.jit(sharded_chunk, donate_argnums=0)


def make_evaluate(model: models.AdditionLSTM, mesh: Mesh | None = None, num_seeds: int = 1) -> Callable:
  """(params, queries, answers, weights) [num_batches, batch, ...] -> (summed metrics, predictions).

  Each batch is split over the mesh's 'data' axis; the sums and the predictions [n, digits+1] come back
  whole on every device. With num_seeds > 1, params, queries and answers carry a leading seed axis (the
  weights do not), and so do the sums and predictions.
  """
  mesh = data_mesh() if mesh is None else mesh

  def evaluate(params, queries, answers, weights):
    def batch_metrics(_, batch):
      q, a, w = batch
      logits = model.apply({'params': params}, q)
      return None, (metric_sums(logits, a, w), jnp.argmax(logits, axis=-1).astype(jnp.uint8))

    _, (sums, predictions) = jax.lax.scan(batch_metrics, None, (queries, answers, weights))
    return jax.tree.map(jnp.sum, sums), predictions

  def device_evaluate(params, queries, answers, weights):
    run = evaluate if num_seeds == 1 else jax.vmap(evaluate, in_axes=(0, 0, 0, None))
    sums, predictions = run(params, queries, answers, weights)
    return jax.lax.psum(sums, DATA_AXIS), predictions

  seed_axes = int(num_seeds > 1)
  batch_spec = batch_sharded(mesh, seed_axes + 2, batch_axis=seed_axes + 1).spec
  weights_spec = batch_sharded(mesh, 2).spec
  sharded_evaluate = jax.shard_map(device_evaluate, mesh=mesh,
                                   in_specs=(P(), batch_spec, batch_spec, weights_spec),
                                   out_specs=(P(), batch_spec), check_vma=False)

  def whole(params, queries, answers, weights):
    sums, predictions = sharded_evaluate(params, queries, answers, weights)
    return sums, predictions.reshape(predictions.shape[:seed_axes] + (-1, predictions.shape[-1]))

  return jax.jit(whole, out_shardings=replicated(mesh))


def batch_for_eval(queries: np.ndarray, answers: np.ndarray, batch_size: int,
                   multiple_of: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Pads to whole batches of at most batch_size (rounded up to a multiple_of), with weight 0 on the padding."""
  n = len(queries)
  batch_size = multiple_of * math.ceil(min(batch_size, n) / multiple_of)
  num_batches = math.ceil(n / batch_size)
  pad = num_batches * batch_size - n
  weights = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])

  def shape(x):
    x = np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)])
    return x.reshape((num_batches, batch_size) + x.shape[1:])

  return shape(queries), shape(answers), weights.reshape(num_batches, batch_size)


def seed_batches_for_eval(queries: np.ndarray, answers: np.ndarray, batch_size: int, num_seeds: int,
                          multiple_of: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """batch_for_eval of one seed's data, or of each of num_seeds' (stacked), with the weights they share."""
  if num_seeds == 1:
    return batch_for_eval(queries, answers, batch_size, multiple_of)
  per_seed = [batch_for_eval(q, a, batch_size, multiple_of) for q, a in zip(queries, answers)]
  return np.stack([b[0] for b in per_seed]), np.stack([b[1] for b in per_seed]), per_seed[0][2]


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


def spread(value: float | list[float]) -> str:
  """A metric for the printout: 0.1234 for one run; mean ± standard deviation (over seeds) for a list."""
  if not isinstance(value, list):
    return f'{value:.4f}'
  return f'{np.mean(value):.4f} ± {np.std(value, ddof=1) if len(value) > 1 else 0.0:.4f}'


def epoch_line(record: dict[str, Any], num_epochs: int) -> str:
  return (f'epoch {record["epoch"]}/{num_epochs}: train loss {spread(record["train_loss"])} '
          f'char {spread(record["train_char_accuracy"])} | val loss {spread(record["val_loss"])} '
          f'char {spread(record["val_char_accuracy"])} seq {spread(record["val_seq_accuracy"])} | '
          f'{record["examples_per_sec"]:,.0f} examples/s, {record["elapsed_sec"]:.1f} s elapsed')


def first_epoch_reaching(records: list[dict[str, Any]], key: str, threshold: float = 0.99,
                         seed_index: int | None = None) -> int | None:
  """The first epoch whose record[key] (of the seed at seed_index, for records of several seeds) >= threshold."""
  value = (lambda r: r[key]) if seed_index is None else (lambda r: r[key][seed_index])
  return next((r['epoch'] for r in records if value(r) >= threshold), None)


def summary_lines(records: list[dict[str, Any]]) -> list[str]:
  """When each validation accuracy first reached 0.99; for several seeds, per seed and the final spread."""
  lines = []
  for key, name in (('val_char_accuracy', 'val char accuracy'), ('val_seq_accuracy', 'val seq accuracy')):
    if records and isinstance(records[-1][key], list):
      lines.append(_seeds_summary(records, key, name))
      continue
    epoch = first_epoch_reaching(records, key)
    if epoch is None:
      best = max(records, key=lambda r: r[key]) if records else None
      lines.append(f'{name} never reached 0.99' +
                   (f' (best {best[key]:.4f} at epoch {best["epoch"]})' if best else ''))
    else:
      record = records[epoch - 1]
      lines.append(f'{name} first reached 0.99 at epoch {epoch} ({record["elapsed_sec"]:.1f} s elapsed)')
  return lines


def _seeds_summary(records: list[dict[str, Any]], key: str, name: str) -> str:
  final = records[-1][key]
  epochs = [first_epoch_reaching(records, key, seed_index=i) for i in range(len(final))]
  reached = [e for e in epochs if e is not None]
  return (f'{name} at epoch {records[-1]["epoch"]} over {len(final)} seeds: {spread(final)} '
          f'(min {min(final):.4f}, max {max(final):.4f}); {len(reached)} of {len(final)} seeds reached 0.99'
          + (f', first at epochs {", ".join(str(e) if e else "never" for e in epochs)}' if reached else ''))


def _check_finite(values: Any, what: str, epoch: int, workdir: str, seeds: list[int]) -> None:
  """Raises NonFiniteLossError if the value (of any seed) is NaN or infinite."""
  values = np.atleast_1d(np.asarray(values))
  bad = np.flatnonzero(~np.isfinite(values))
  if bad.size:
    kept = (f'the last good checkpoint, of epoch {epoch - 1}, is kept in '
            f'{os.path.join(workdir, checkpoint.CHECKPOINT_DIR)}' if epoch > 1 else 'no checkpoint was saved')
    of_seed = f' of seed {seeds[bad[0]]}' if len(seeds) > 1 else ''
    raise NonFiniteLossError(f'{what}{of_seed} became {float(values[bad[0]])} in epoch {epoch}; stopped: {kept}. '
                             'Lower learning_rate or set grad_clip_norm')


# ----------------------------------------------------------------------------------------------------------
# The run.
# ----------------------------------------------------------------------------------------------------------
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> list[dict[str, Any]]:
  """Trains (or resumes) the run in workdir to config.num_epochs; returns every epoch's metrics.

  Uses every device of every process (see the module docstring); call jax.distributed.initialize first to
  join several processes (addjax.main does). Each metrics.jsonl line holds the keys of RUN_KEYS as single
  numbers and every other metric as a number, or with num_seeds > 1 as a list of one number per seed.
  examples_per_sec counts the training examples of all seeds together.
  """
  start_time = time.time()
  num_devices, num_processes = jax.device_count(), jax.process_count()
  config_lib.validate(config, num_devices=num_devices)
  primary = jax.process_index() == 0  # Writes the files and the printout; every process computes.
  checkpoint.prepare_workdir(workdir, config, write=primary)
  num_seeds, seeds = config.num_seeds, config_lib.run_seeds(config)
  mesh = data_mesh()
  everywhere = replicated(mesh)

  # --- Data: generated on the host once (the same in every process), then resident on every device. ---
  splits = make_seed_splits(config)
  data_sec = time.time() - start_time
  train_queries, train_answers = (put(splits[name], everywhere) for name in ('train_queries', 'train_answers'))
  if config.swap_augment:
    queries = splits['train_queries']
    swapped_queries = put(data.swap_operands(queries.reshape(-1, queries.shape[-1]), config.reverse)
                          .reshape(queries.shape), everywhere)
    swap_augment = make_swap_augment(mesh, num_seeds)
  val_queries, val_answers, val_weights = seed_batches_for_eval(
      splits['val_queries'], splits['val_answers'], config.eval_batch_size, num_seeds, multiple_of=num_devices)
  seed_axes = int(num_seeds > 1)
  val_batches = (put(val_queries, batch_sharded(mesh, val_queries.ndim, batch_axis=seed_axes + 1)),
                 put(val_answers, batch_sharded(mesh, val_answers.ndim, batch_axis=seed_axes + 1)),
                 put(val_weights, batch_sharded(mesh, 2)))
  num_train = splits['train_queries'].shape[seed_axes]
  num_val = splits['val_queries'].shape[seed_axes]

  # --- Model, optimiser, state: fresh, or restored from the latest checkpoint. ---
  model = models.from_config(config)
  tx = create_optimizer(config)
  state = create_state(config, model, tx, mesh)
  mngr = checkpoint.manager(workdir, config.checkpoints_to_keep)
  restored = checkpoint.restore_latest(mngr, state)
  start_epoch, elapsed_before = 0, 0.0
  if restored is not None:
    start_epoch, state, meta = restored
    elapsed_before = meta['elapsed_sec']
  records = checkpoint.truncate_metrics(workdir, start_epoch, write=primary)

  # --- Compile once, ahead of the loop, so epoch timings are steady-state. ---
  num_steps = steps_per_epoch(config)
  num_chunks, chunk_steps = chunk_layout(num_steps, config.steps_per_call)
  epoch_batches = make_epoch_batches(num_train, config.batch_size, num_chunks, chunk_steps, mesh, num_seeds)
  compile_start = time.time()
  indices, weights = epoch_batches(seed_keys(config, lambda seed: epoch_key(seed, 0)))
  chunk_args = (train_queries, train_answers, indices, weights, 0)
  train_chunk = make_train_chunk(model, tx, mesh, num_seeds).lower(state, *chunk_args).compile()
  evaluate = make_evaluate(model, mesh, num_seeds).lower(state['params'], *val_batches).compile()
  compile_sec = time.time() - compile_start

  def report(line: str) -> None:
    if primary:
      print(line, flush=True)

  where = (f'{num_devices} {jax.devices()[0].platform} device(s)'
           + (f' in {num_processes} processes' if num_processes > 1 else ''))
  report(f'{config.digits} digits, {num_train:,} training and {num_val:,} validation examples'
         + (f' for each of {num_seeds} seeds ({seeds[0]}..{seeds[-1]})' if num_seeds > 1 else '')
         + f' (generated in {data_sec:.2f} s); {num_steps:,} steps per epoch in {num_chunks} compiled call(s) '
         f'(compiled in {compile_sec:.1f} s) on {where}; '
         + (f'resuming after epoch {start_epoch}' if start_epoch else 'starting'))

  bar = tqdm.tqdm(total=config.num_epochs * num_steps, initial=start_epoch * num_steps, unit='step',
                  dynamic_ncols=True, mininterval=1.0,
                  disable=None if primary else True)  # No bar when stderr is not a terminal.
  try:
    for epoch in range(start_epoch + 1, config.num_epochs + 1):
      # --- Train one epoch, a chunk per compiled call. ---
      epoch_start = time.time()
      indices, weights = epoch_batches(seed_keys(config, lambda seed: epoch_key(seed, epoch)))
      queries = train_queries
      if config.swap_augment:
        queries = swap_augment(train_queries, swapped_queries,
                               seed_keys(config, lambda seed: augment_key(seed, epoch)))
      sums = dict.fromkeys(_METRIC_SUMS, 0.0)
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
          **means(sums, 'train'),
          **means(val_sums, 'val'),
          'examples_per_sec': num_seeds * num_train / train_sec,
          'epoch_sec': time.time() - epoch_start,
          'elapsed_sec': elapsed_before + time.time() - start_time,
          'num_devices': num_devices,
      }

      # --- Report, then checkpoint: the line goes first so that a kill in between replays this epoch. ---
      if primary:
        # The samples are those of the first seed, drawn as a lone run with that seed draws them.
        first = (lambda x: x) if num_seeds == 1 else (lambda x: x[0])
        rng = np.random.default_rng([config.seed, epoch])
        for line in sample_lines(first(splits['val_queries']), first(splits['val_answers']), first(predictions),
                                 config.reverse, config.num_samples_to_print, rng):
          bar.write(line)
        bar.write(epoch_line(record, config.num_epochs))
        checkpoint.append_metrics(workdir, record)
      records.append(record)
      # Every process saves: Orbax writes each array once and commits when all are done.
      checkpoint.save(mngr, epoch, state, {'epoch': epoch, 'elapsed_sec': record['elapsed_sec']})
  finally:
    bar.close()
    mngr.wait_until_finished()
    mngr.close()

  for line in summary_lines(records):
    report(line)
  return records
