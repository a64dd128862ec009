"""Data parallelism over every device of every process: one mesh axis, 'data'.

The (small) data set and the train state are replicated on each device; batches are split over 'data'.
"""

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import numpy as np

DATA_AXIS = 'data'  # The mesh axis that batches are split over.


def data_mesh(devices: list[jax.Device] | None = None) -> Mesh:
  """Every device (of every process) on one axis, 'data': batches are split over it, all else replicated."""
  return Mesh(np.asarray(jax.devices() if devices is None else devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  """Whole on every device of mesh."""
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
