"""The train state and its optimiser: a plain dict {'params', 'opt_state', 'step'}, created or replicated.

Functions take the state and return a new one; nothing here keeps state of its own.
"""

import math
from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import Mesh
import ml_collections
import numpy as np
import optax

from addjax import data
from addjax import models
from addjax import rng
from addjax import sharding

State = dict[str, Any]


def steps_per_epoch(config: ml_collections.ConfigDict) -> int:
  """Training steps in an epoch: Keras keeps the last, smaller batch of an epoch; so do we."""
  return math.ceil(data.num_training_examples(config.training_size) / config.batch_size)


def learning_rate_schedule(config: ml_collections.ConfigDict) -> optax.Schedule:
  """config.lr_schedule ('constant' or 'cosine' to 0 at the last step) after config.warmup_steps of warm-up."""
  total_steps = config.num_epochs * steps_per_epoch(config)
  if config.lr_schedule == 'cosine':
    return optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, config.warmup_steps,
                                              max(total_steps, config.warmup_steps + 1))
  if config.warmup_steps:
    return optax.linear_schedule(0.0, config.learning_rate, config.warmup_steps)
  return optax.constant_schedule(config.learning_rate)


def create_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """Adam with the config's betas, epsilon and schedule, after global-norm clipping when grad_clip_norm > 0."""
  adam = optax.adam(learning_rate_schedule(config), b1=config.adam_b1, b2=config.adam_b2, eps=config.adam_eps)
  if config.grad_clip_norm:
    return optax.chain(optax.clip_by_global_norm(config.grad_clip_norm), adam)
  return adam


def init_state(config: ml_collections.ConfigDict, model: models.AdditionLSTM,
               tx: optax.GradientTransformation, key: jax.Array | None = None) -> State:
  """The state of one model.

  Args:
    config: the run's config.
    model: the module whose parameters to initialise.
    tx: the optimiser whose state to initialise.
    key: the run's root key; default jax.random.key(config.seed).

  Returns:
    {'params', 'opt_state', 'step'}, step 0.
  """
  key = jax.random.key(config.seed) if key is None else key
  queries = jnp.zeros((1, data.query_length(config.digits)), jnp.uint8)
  params = model.init(rng.init_key(key), queries)['params']
  return {'params': params, 'opt_state': tx.init(params), 'step': jnp.zeros((), jnp.int32)}


def create_state(config: ml_collections.ConfigDict, model: models.AdditionLSTM,
                 tx: optax.GradientTransformation, mesh: Mesh) -> State:
  """The initial state, replicated on every device: one model's, or num_seeds' stacked on a leading axis.

  Model i of num_seeds is initialised exactly as a lone run with seed + i: by the same compiled program, one
  seed after another, on this process's first device; the states are stacked and copied to every device
  through the host (a few MB, once per run). Not vmapped, not replicated: XLA's CPU runtime can deadlock on
  several batched QR decompositions (the orthogonal initialisers) in one program, and on replicated ones over
  several forced CPU devices.
  """
  init = jax.jit(lambda key_data: init_state(config, model, tx, rng.as_key(key_data)))
  first_device = jax.local_devices()[0]
  key_data = rng.seed_keys(config, jax.random.key).reshape(config.num_seeds, -1)
  states = [jax.device_get(init(jax.device_put(k, first_device))) for k in key_data]
  state = states[0] if config.num_seeds == 1 else jax.tree.map(lambda *leaves: np.stack(leaves), *states)
  return jax.tree.map(lambda leaf: sharding.put(leaf, sharding.replicated(mesh)), state)
