"""A workdir's durable state: config.json, metrics.jsonl and Orbax checkpoints of the train state.

Every write is atomic (a temporary file renamed into place, or Orbax's own commit), so a run killed at any
moment leaves either the old or the new version of each file, never half of one.

In a run of several processes the workdir must be one directory that all of them see (a shared file system,
as Orbax needs): every process takes part in each checkpoint, only process 0 writes config.json and
metrics.jsonl (the `write` arguments below).
"""

import json
import os
from typing import Any

import ml_collections
import orbax.checkpoint as ocp

from addjax import config as config_lib

CONFIG_FILE = 'config.json'
METRICS_FILE = 'metrics.jsonl'
CHECKPOINT_DIR = 'checkpoints'


def write_atomic(path: str, text: str) -> None:
  """Writes text to path through a temporary file and a rename, so readers see all of it or none."""
  tmp = f'{path}.tmp'
  with open(tmp, 'w') as f:
    f.write(text)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)


def prepare_workdir(workdir: str, config: ml_collections.ConfigDict, write: bool = True) -> None:
  """Creates workdir and writes config.json; refuses a workdir trained with a config that differs.

  Only the fields in config.RESUMABLE_FIELDS (num_epochs and how fast, not what, the run computes) may
  change on resume; config.json is then rewritten with the new values. A field that a stored config.json
  lacks (added to base_config since that run began) counts as its default. write=False only checks.
  """
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as e:
    raise config_lib.ConfigError(f'cannot create workdir {workdir!r}: {e.strerror}') from None
  path = os.path.join(workdir, CONFIG_FILE)
  current = config.to_dict()
  if os.path.exists(path):
    with open(path) as f:
      stored = {**config_lib.base_config().to_dict(), **json.load(f)}
    changed = sorted(k for k in set(stored) | set(current)
                     if k not in config_lib.RESUMABLE_FIELDS and stored.get(k) != current.get(k))
    if changed:
      diffs = ', '.join(f'{k} {stored.get(k)!r} -> {current.get(k)!r}' for k in changed)
      raise config_lib.ConfigError(
          f'workdir {workdir!r} holds a run with another config ({diffs}); resume with its config '
          f'(only {", ".join(sorted(config_lib.RESUMABLE_FIELDS))} may change) or choose a new --workdir')
  if write:
    write_atomic(path, json.dumps(current, indent=2, sort_keys=True) + '\n')


def load_config(workdir: str) -> ml_collections.ConfigDict:
  with open(os.path.join(workdir, CONFIG_FILE)) as f:
    return ml_collections.ConfigDict(json.load(f))


def read_metrics(workdir: str) -> list[dict[str, Any]]:
  """The complete lines of metrics.jsonl; a line cut short by a kill is skipped."""
  path = os.path.join(workdir, METRICS_FILE)
  if not os.path.exists(path):
    return []
  records = []
  with open(path) as f:
    for line in f:
      try:
        records.append(json.loads(line))
      except json.JSONDecodeError:
        continue
  return records


def truncate_metrics(workdir: str, last_epoch: int, write: bool = True) -> list[dict[str, Any]]:
  """Keeps the lines of epochs <= last_epoch (those the checkpoint covers) and returns them.

  A line is appended before its epoch's checkpoint is committed, so after a kill the file may be one epoch
  ahead of the checkpoint; that epoch is replayed, exactly, and its line written again. write=False only
  reads.
  """
  records = [r for r in read_metrics(workdir) if r.get('epoch', 0) <= last_epoch]
  path = os.path.join(workdir, METRICS_FILE)
  if write and os.path.exists(path):
    write_atomic(path, ''.join(json.dumps(r) + '\n' for r in records))
  return records


def append_metrics(workdir: str, record: dict[str, Any]) -> None:
  with open(os.path.join(workdir, METRICS_FILE), 'a') as f:
    f.write(json.dumps(record) + '\n')
    f.flush()
    os.fsync(f.fileno())


def manager(workdir: str, max_to_keep: int) -> ocp.CheckpointManager:
  """Checkpoints under workdir/checkpoints, one per epoch (the step number is the epoch)."""
  options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
  return ocp.CheckpointManager(os.path.abspath(os.path.join(workdir, CHECKPOINT_DIR)), options=options,
                               item_names=('state', 'meta'))


def save(mngr: ocp.CheckpointManager, epoch: int, state: Any, meta: dict[str, Any]) -> None:
  """Saves asynchronously: Orbax copies the arrays off the device before it returns."""
  mngr.save(epoch, args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)))


def restore_latest(mngr: ocp.CheckpointManager, abstract_state: Any) -> tuple[int, Any, dict[str, Any]] | None:
  """(epoch, state, meta) of the latest committed checkpoint, or None when there is none."""
  epoch = mngr.latest_step()
  if epoch is None:
    return None
  restored = mngr.restore(epoch, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state),
                                                         meta=ocp.args.JsonRestore()))
  return epoch, restored.state, restored.meta
