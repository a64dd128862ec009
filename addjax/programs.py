"""The compiled programs: the epoch's shuffle, a chunk of training steps, the evaluation of a whole split.

A chunk is one compiled call: a lax.scan over batches gathered on the device from a device-resident data set
and an on-device shuffle, so the host touches the device once per chunk, never once per batch.

Scaling out, all in the same programs:
- num_seeds = K > 1 trains K independent models through jax.vmap: the state, the data sets and the shuffles
  gain a leading seed axis; the padding weights are shared (every seed has the same number of examples), so
  the per-step test that skips an all-padding batch stays one lax.cond, not a select over both branches.
- Data parallelism over the mesh's 'data' axis (see addjax.sharding): the data set and the state are
  replicated on each device, the batch indices are sharded, each device gathers its own rows of the batch,
  runs the step on them (shard_map) and sums its gradients with the others' (psum). A step's global batch is
  still batch_size and its loss the mean over it, so the math is the one-device run's, up to the order of
  float additions.
"""

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.flatten_util
import jax.numpy as jnp
from jax.sharding import Mesh, PartitionSpec as P
import numpy as np
import optax

from addjax import data
from addjax import models
from addjax import rng
from addjax import sharding
from addjax.sharding import DATA_AXIS
from addjax.state import State

Metrics = dict[str, jax.Array]

# Examples a CPU device differentiates at once unless config.microbatch_size says otherwise. Per device,
# slices of 32 keep each time step's temporaries in a core's cache; at 14 digits and 3 layers, or 21 and 5,
# they train 5-10% more examples/s than shares of 128-256 taken whole, and at 5 digits, 1 layer within 4% of
# them (docs/performance.md).
CPU_MICROBATCH = 32

# Sums over examples, so that chunks and batches of any size add up to exact epoch means.
METRIC_SUMS = ('loss', 'char_correct', 'seq_correct', 'count')


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


def chunk_layout(num_steps: int, steps_per_call: int) -> tuple[int, int]:
  """(num_chunks, chunk_steps): equal chunks covering num_steps with fewer than num_chunks steps over."""
  num_chunks = math.ceil(num_steps / steps_per_call)
  return num_chunks, math.ceil(num_steps / num_chunks)


def make_epoch_batches(num_examples: int, batch_size: int, num_chunks: int, chunk_steps: int,
                       mesh: Mesh | None = None, num_seeds: int = 1,
                       probabilities: np.ndarray | None = None) -> Callable:
  """key -> (indices, weights) [num_chunks, chunk_steps, batch]: an epoch's draws, padded with weight-0 slots.

  key: a typed key or its raw key data. With num_seeds > 1, keys [num_seeds] give indices [num_seeds, ...],
  one draw per seed, and one weights array that every seed shares. With a mesh, the indices come out split
  over its 'data' axis along the batch, the weights replicated (each step reads them whole: see
  make_train_chunk).

  probabilities: None for a shuffle (every example once, in a random order); else each example's chance
  [num_examples] ([num_seeds, num_examples] with several seeds) of each of the epoch's num_examples draws,
  drawn with replacement (data.length_balanced_probabilities).
  """
  padded = num_chunks * chunk_steps * batch_size
  shape = (num_chunks, chunk_steps, batch_size)

  def draw(key, p):
    key = rng.as_key(key)
    if p is None:
      order = jax.random.permutation(key, num_examples)
    else:
      order = jax.random.choice(key, num_examples, (num_examples,), replace=True, p=p)
    return jnp.zeros((padded,), jnp.int32).at[:num_examples].set(order).reshape(shape)

  def epoch_batches(key: jax.Array, p: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    indices = draw(key, p) if num_seeds == 1 else jax.vmap(draw)(key, p)
    weights = (jnp.arange(padded) < num_examples).astype(jnp.float32)
    return indices, weights.reshape(shape)

  if mesh is None:
    jitted, place = jax.jit(epoch_batches), jnp.asarray
  else:
    index_ndim = len(shape) + (num_seeds > 1)
    out_shardings = (sharding.batch_sharded(mesh, index_ndim), sharding.replicated(mesh))
    jitted = jax.jit(epoch_batches, out_shardings=out_shardings)
    place = functools.partial(sharding.put, sharding=sharding.replicated(mesh))
  p = None if probabilities is None else place(np.asarray(probabilities, np.float32))
  return lambda key: jitted(key, p)


def make_swap_augment(mesh: Mesh, num_seeds: int = 1) -> Callable:
  """(queries, swapped, key) -> each training query as drawn ("a+b") or swapped ("b+a"), a coin flip apiece.

  Once per epoch, on the device: the chunk program then reads the epoch's queries as it reads unaugmented ones.
  """
  def augment(queries, swapped, key):
    flips = jax.random.bernoulli(rng.as_key(key), 0.5, (queries.shape[0], 1))
    return jnp.where(flips, swapped, queries)

  return jax.jit(augment if num_seeds == 1 else jax.vmap(augment), out_shardings=sharding.replicated(mesh))


def make_shift_augment(mesh: Mesh, num_seeds: int = 1) -> Callable:
  """(queries, key) -> each reversed training query with 0..all of its leading padding moved after it.

  A query with p padding characters in front keeps k of them, k uniform in 0..p, per example; the other p - k
  follow its last character. Once per epoch, on the device, as make_swap_augment.
  """
  def augment(queries, key):
    width = queries.shape[-1]
    pads = jnp.argmax(queries != data.PAD_ID, axis=-1)  # Leading padding: every query has a character.
    shift = jnp.floor(jax.random.uniform(rng.as_key(key), pads.shape) * (pads + 1)).astype(jnp.int32)
    columns = (jnp.arange(width) + shift[:, None]) % width  # A left rotation by each row's shift.
    return jnp.take_along_axis(queries, columns, axis=-1)

  return jax.jit(augment if num_seeds == 1 else jax.vmap(augment), out_shardings=sharding.replicated(mesh))


def make_train_chunk(model: models.AdditionLSTM, tx: optax.GradientTransformation, mesh: Mesh | None = None,
                     num_seeds: int = 1, microbatch_size: int = 0) -> Callable:
  """(state, queries, answers, indices, weights, chunk) -> (state, summed metrics) for one chunk.

  Data parallel over mesh's 'data' axis (default: every device): each device gathers its share of a batch
  (its block of the indices) from its own replica of the data set, takes the gradient of its examples' loss
  divided by the whole batch's count, and the gradients are summed over the devices, so every device applies
  the same update to its replica of the state. With num_seeds > 1 the state, queries, answers and indices
  carry a leading seed axis, mapped over by jax.vmap; the weights have none: every seed shares them.
  microbatch_size: config.microbatch_size; a device's share of a batch is differentiated in slices of
  microbatch_for(microbatch_size, share, platform) examples, one after another, their gradients summed.
  """
  mesh = sharding.data_mesh() if mesh is None else mesh

  def loss_fn(params, queries, answers, weights, batch_count):
    logits = model.apply({'params': params}, queries)
    sums = metric_sums(logits, answers, weights)
    return sums['loss'] / jnp.maximum(batch_count, 1.0), sums

  def grads_and_sums(params, queries, answers, indices, weights, batch_count):
    """The gradient of these examples' share of the batch loss, and their metric sums."""
    share = indices.shape[-1]
    slice_size = microbatch_for(microbatch_size, share, mesh.devices.flat[0].platform)
    if slice_size == share:
      return jax.grad(loss_fn, has_aux=True)(params, queries[indices], answers[indices], weights, batch_count)

    def add_slice(total, piece):
      idx, w = piece
      grads = jax.grad(loss_fn, has_aux=True)(params, queries[idx], answers[idx], w, batch_count)
      return jax.tree.map(jnp.add, total, grads), None

    slices = (indices.reshape(-1, slice_size), weights.reshape(-1, slice_size))
    zeros = (jax.tree.map(jnp.zeros_like, params), {name: jnp.zeros((), jnp.float32) for name in METRIC_SUMS})
    return jax.lax.scan(add_slice, zeros, slices)[0]

  def train_step(state: State, batch, queries, answers) -> tuple[State, Metrics]:
    indices, weights = batch  # indices: this device's block of the batch; weights: the whole batch's.
    local_batch = indices.shape[-1]
    local_weights = jax.lax.dynamic_slice_in_dim(weights, jax.lax.axis_index(DATA_AXIS) * local_batch,
                                                 local_batch)

    def update(state):
      grads, sums = grads_and_sums(state['params'], queries, answers, indices, local_weights, jnp.sum(weights))
      grads = sum_over_devices(grads)
      updates, opt_state = tx.update(grads, state['opt_state'], state['params'])
      params = optax.apply_updates(state['params'], updates)
      return {'params': params, 'opt_state': opt_state, 'step': state['step'] + 1}, sums

    def skip(state):
      return state, {name: jnp.zeros((), jnp.float32) for name in METRIC_SUMS}

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
  indices_spec = sharding.batch_sharded(mesh, 3 + (num_seeds > 1)).spec
  sharded_chunk = jax.shard_map(device_chunk, mesh=mesh, in_specs=(P(), P(), P(), indices_spec, P(), P()),
                                out_specs=(P(), P()), check_vma=False)
  return jax.jit(sharded_chunk, donate_argnums=0)


def microbatch_for(microbatch_size: int, share: int, platform: str) -> int:
  """The examples a device differentiates at once, of its share of a batch; share means the whole share.

  Args:
    microbatch_size: config.microbatch_size, validated: 0 (chosen here), a divisor of share, or more.
    share: the device's examples per batch.
    platform: the device's, e.g. 'cpu' or 'gpu'.
  Returns:
    For 0 on a CPU the largest divisor of share from CPU_MICROBATCH / 2 to CPU_MICROBATCH, or share where
    none is (slices of 8 already train fewer examples/s than a whole share of 32); for 0 elsewhere, share:
    accelerators run a large batch's step in about the time of a small one's.
  """
  if microbatch_size == 0:
    divisors = [d for d in range(CPU_MICROBATCH // 2, CPU_MICROBATCH + 1) if share % d == 0]
    return max(divisors) if platform == 'cpu' and share > CPU_MICROBATCH and divisors else share
  return min(microbatch_size, share)


def sum_over_devices(tree):
  """psum over the 'data' axis; between processes, of the whole tree as one flat array.

  Between processes a collective is a round trip through the CPU collectives (gloo, over local sockets on one
  host): one all-reduce of a model's gradients as one array takes a tenth of one per parameter array
  (docs/performance.md). Within a process the arrays are summed as they are, with no copy into one.
  """
  if jax.process_count() == 1:
    return jax.lax.psum(tree, DATA_AXIS)
  flat, unflatten = jax.flatten_util.ravel_pytree(tree)
  return unflatten(jax.lax.psum(flat, DATA_AXIS))


def make_evaluate(model: models.AdditionLSTM, mesh: Mesh | None = None, num_seeds: int = 1) -> Callable:
  """(params, queries, answers, weights) [num_batches, batch, ...] -> (summed metrics, predictions).

  Each batch is split over the mesh's 'data' axis; the sums and the predictions [n, digits+1] come back
  whole on every device. With num_seeds > 1, params, queries and answers carry a leading seed axis (the
  weights do not), and so do the sums and predictions.
  """
  mesh = sharding.data_mesh() if mesh is None else mesh

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
  batch_spec = sharding.batch_sharded(mesh, seed_axes + 2, batch_axis=seed_axes + 1).spec
  weights_spec = sharding.batch_sharded(mesh, 2).spec
  sharded_evaluate = jax.shard_map(device_evaluate, mesh=mesh,
                                   in_specs=(P(), batch_spec, batch_spec, weights_spec),
                                   out_specs=(P(), batch_spec), check_vma=False)

  def whole(params, queries, answers, weights):
    sums, predictions = sharded_evaluate(params, queries, answers, weights)
    return sums, predictions.reshape(predictions.shape[:seed_axes] + (-1, predictions.shape[-1]))

  return jax.jit(whole, out_shardings=sharding.replicated(mesh))


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
