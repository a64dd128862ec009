"""The run's random streams: each a function of (seed, stream, epoch), so a resumed run replays them exactly.

Streams of one seed are kept apart by fold_in with their own number; data.py's numpy streams (generation,
split) are separate again (numpy SeedSequence spawn keys).
"""

from collections.abc import Callable

import jax
import ml_collections
import numpy as np

from addjax import config as config_lib

INIT_STREAM = 0  # The parameters' initialisation.
SHUFFLE_STREAM = 1  # The order of the training examples, per epoch.
AUGMENT_STREAM = 2  # The coin flips of swap_augment, per epoch.
SHIFT_STREAM = 3  # The shifts of shift_augment, per epoch.


def init_key(key: jax.Array) -> jax.Array:
  """The initialisation key of a run whose root key is `key` (jax.random.key(seed))."""
  return jax.random.fold_in(key, INIT_STREAM)


def epoch_key(seed: int, epoch: int) -> jax.Array:
  """The shuffle of an epoch: it depends on (seed, epoch) only."""
  return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), SHUFFLE_STREAM), epoch)


def augment_key(seed: int, epoch: int) -> jax.Array:
  """The coin flips of swap_augment in an epoch, a stream apart from the shuffle's."""
  return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), AUGMENT_STREAM), epoch)


def shift_key(seed: int, epoch: int) -> jax.Array:
  """The shifts of shift_augment in an epoch, a stream apart from the shuffle's and the coin flips'."""
  return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), SHIFT_STREAM), epoch)


def seed_keys(config: ml_collections.ConfigDict, key_fn: Callable[[int], jax.Array]) -> np.ndarray:
  """Raw key data (uint32, on the host) of key_fn(seed), one per seed; [num_seeds, ...] for several seeds.

  Host data, not a typed key on one device, so that every process can feed it to a program over all devices.
  """
  keys = [np.asarray(jax.random.key_data(key_fn(seed))) for seed in config_lib.run_seeds(config)]
  return keys[0] if config.num_seeds == 1 else np.stack(keys)


def as_key(key: jax.Array) -> jax.Array:
  """A typed key from a typed key or its raw key data."""
  return key if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else jax.random.wrap_key_data(key)
