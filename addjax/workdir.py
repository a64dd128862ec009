"""A run's workdir on disk, without JAX or Orbax: its paths, its lock, config.json and metrics.jsonl.

A workdir holds config.json (the run's config), metrics.jsonl (one JSON line per epoch, 1..k in order),
checkpoints/ (Orbax: see addjax.checkpoint) and `lock`, the file whose OS lock says which process owns the
run. Every rewrite goes through a temporary file and a rename, so a run killed at any moment leaves the old
or the new version of a file, never half of one; metrics.jsonl only grows by whole lines, or is cut back.

In a run of several processes the workdir is one directory that all of them see; only process 0 takes the
lock and writes config.json and metrics.jsonl (the `write` arguments below).
"""

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from typing import Any

import ml_collections

from addjax import config as config_lib

CONFIG_FILE = 'config.json'
METRICS_FILE = 'metrics.jsonl'
CHECKPOINT_DIR = 'checkpoints'
LOCK_FILE = 'lock'
# Keys of a metrics.jsonl line that describe the run as a whole: with num_seeds > 1 these stay single numbers,
# every other key but 'epoch' is a list of num_seeds numbers, one per seed.
RUN_KEYS = ('epoch', 'learning_rate', 'examples_per_sec', 'epoch_sec', 'elapsed_sec', 'num_devices')

Record = dict[str, Any]


class WorkdirBusyError(RuntimeError):
  """Another live process owns the workdir; the message names it."""


def write_atomic(path: str, content: str | bytes) -> None:
  """Writes content to path through a temporary file beside it and a rename: readers see all of it or none.

  Args:
    path: the file to write; its folder is created if missing.
    content: the whole new content, text or bytes.
  """
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  tmp = f'{path}.{os.getpid()}.tmp'  # The pid keeps two writers of one path apart.
  try:
    with open(tmp, 'wb' if isinstance(content, bytes) else 'w') as f:
      f.write(content)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.unlink(tmp)


# ----------------------------------------------------------------------------------------------------------
# The lock: one owner per workdir.
# ----------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def lock(workdir: str) -> Iterator[None]:
  """Owns workdir while the block runs: an exclusive OS lock (flock) on workdir/lock.

  The kernel releases the lock when the process ends, however it ends, so a killed run leaves no stale
  lock. The lock file itself stays; it names the last owner (pid and host) for the message of a second run.

  Args:
    workdir: an existing directory.

  Raises:
    WorkdirBusyError: another process holds the lock; nothing was written.
  """
  path = os.path.join(workdir, LOCK_FILE)
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      raise WorkdirBusyError(f'workdir {workdir} is in use by {_owner(path)}; wait for that run to end (or '
                             'stop it) and rerun, or choose another --workdir') from None
    try:
      os.ftruncate(fd, 0)
      os.write(fd, f'{os.getpid()} {socket.gethostname()}\n'.encode())
    except OSError:
      pass  # The name is for messages only; a full disk must not stop the run here.
    yield
  finally:
    os.close(fd)


def lock_owner(workdir: str) -> str | None:
  """Who holds workdir's lock ('process 123 on host h'), or None when no live process does."""
  path = os.path.join(workdir, LOCK_FILE)
  try:
    fd = os.open(path, os.O_RDONLY)
  except FileNotFoundError:
    return None
  try:
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
  except BlockingIOError:
    return _owner(path)
  finally:
    os.close(fd)  # Also drops the shared lock, if it was granted.
  return None


def _owner(path: str) -> str:
  try:
    with open(path) as f:
      pid, host = f.read().split()
    return f'process {pid} on host {host}'
  except (OSError, ValueError):
    return 'another process'  # Locked, but the owner has not written its name yet.


# ----------------------------------------------------------------------------------------------------------
# config.json.
# ----------------------------------------------------------------------------------------------------------
def create(workdir: str) -> None:
  """Creates workdir (and its parents) if missing; ConfigError when it cannot."""
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as e:
    raise config_lib.ConfigError(f'cannot create workdir {workdir!r}: {e.strerror}') from None


def prepare(workdir: str, config: ml_collections.ConfigDict, write: bool = True) -> None:
  """Writes config.json; refuses a workdir trained with a config that differs.

  Only the fields in config.RESUMABLE_FIELDS (num_epochs and how fast, not what, the run computes) may
  change on resume; config.json is then rewritten with the new values. num_epochs only under a constant
  learning rate: a schedule that decays to the last step is another schedule with another length, and the
  epochs already trained followed the old one. A field that a stored config.json lacks (added to base_config
  since that run began) counts as its default.

  Args:
    workdir: an existing directory, owned by this process (see lock).
    config: the run's config, validated.
    write: False only checks (the processes other than 0 of a run).

  Raises:
    ConfigError: the stored config differs in a field that may not change.
  """
  path = os.path.join(workdir, CONFIG_FILE)
  current = config.to_dict()
  if os.path.exists(path):
    with open(path) as f:
      stored = {**config_lib.base_config().to_dict(), **json.load(f)}
    resumable = config_lib.RESUMABLE_FIELDS
    if stored.get('lr_schedule') != 'constant':
      resumable = resumable - {'num_epochs'}
    changed = sorted(k for k in set(stored) | set(current)
                     if k not in resumable and stored.get(k) != current.get(k))
    if changed:
      diffs = ', '.join(f'{k} {stored.get(k)!r} -> {current.get(k)!r}' for k in changed)
      why = (f' (num_epochs sets the length of its {stored.get("lr_schedule")} schedule)'
             if 'num_epochs' in changed and len(changed) == 1 else '')
      raise config_lib.ConfigError(
          f'workdir {workdir!r} holds a run with another config ({diffs}){why}; resume with its config '
          f'(only {", ".join(sorted(resumable))} may change) or choose a new --workdir')
  if write:
    write_atomic(path, json.dumps(current, indent=2, sort_keys=True) + '\n')


def read_config(workdir: str) -> ml_collections.ConfigDict:
  """The run's config.json over base_config(): a field added since the run was trained has its default.

  Raises:
    OSError: no readable config.json.
    ValueError: config.json is not a JSON object of config fields.
  """
  with open(os.path.join(workdir, CONFIG_FILE)) as f:
    stored = json.load(f)
  config = config_lib.base_config()
  config.update(stored)
  return config


# ----------------------------------------------------------------------------------------------------------
# metrics.jsonl.
# ----------------------------------------------------------------------------------------------------------
def read_metrics(workdir: str) -> list[Record]:
  """The complete lines of workdir/metrics.jsonl, in file order; a line being written (or torn) is skipped."""
  return [record for record, _ in _metric_lines(workdir) if record is not None]


def append_metrics(workdir: str, record: Record) -> None:
  """Appends one epoch's line and syncs it to disk."""
  with open(os.path.join(workdir, METRICS_FILE), 'a') as f:
    f.write(json.dumps(record) + '\n')
    f.flush()
    os.fsync(f.fileno())


def repair_metrics(workdir: str, last_epoch: int, write: bool = True) -> tuple[list[Record], str | None]:
  """Makes metrics.jsonl the lines of epochs 1..last_epoch, once each, in order; returns them and a note.

  Keeps each line that is the next epoch expected, up to last_epoch (the checkpoint the run resumes from);
  drops torn lines, repeats, lines out of order and lines past the checkpoint. A file that only needs its
  end cut is truncated in place, which needs no free space; any other repair rewrites it atomically.

  Args:
    workdir: the run's directory.
    last_epoch: the epoch of the checkpoint the run resumes from (0: none).
    write: False only reads (the processes other than 0 of a run).

  Returns:
    The kept records, and one line saying what was dropped (None when the file was already right).
  """
  kept, dropped, keep_bytes, cut_only = [], [], 0, True
  for record, line in _metric_lines(workdir):
    epoch = record.get('epoch') if isinstance(record, dict) else None
    if isinstance(epoch, int) and epoch == len(kept) + 1 and epoch <= last_epoch:
      kept.append(record)
      keep_bytes += len(line)
      cut_only = cut_only and not dropped  # A line kept after a dropped one: the file must be rewritten.
      continue
    if record is None:
      dropped.append('a torn line')
    elif not isinstance(epoch, int):
      dropped.append('a line without an epoch')
    elif epoch > last_epoch:
      dropped.append(f'epoch {epoch} (past the checkpoint)')
    else:
      dropped.append(f'epoch {epoch} {"again" if epoch <= len(kept) else "out of order"}')
  missing = f'; epochs {len(kept) + 1}..{last_epoch} have no line' if len(kept) < last_epoch else ''
  if not dropped and not missing:
    return kept, None
  path = os.path.join(workdir, METRICS_FILE)
  if write and dropped:
    if cut_only:
      os.truncate(path, keep_bytes)
    else:
      write_atomic(path, ''.join(json.dumps(r) + '\n' for r in kept))
  shown = ', '.join(dropped[:4]) + (f' and {len(dropped) - 4} more' if len(dropped) > 4 else '')
  note = (f'{path}: kept epochs 1..{len(kept)}' + (f', dropped {len(dropped)} line(s): {shown}' if dropped else '')
          + missing)
  return kept, note


def _metric_lines(workdir: str) -> list[tuple[Any, bytes]]:
  """(parsed record or None when torn, raw line) for each line of metrics.jsonl."""
  path = os.path.join(workdir, METRICS_FILE)
  if not os.path.exists(path):
    return []
  with open(path, 'rb') as f:
    content = f.read()
  *complete, last = content.split(b'\n')
  lines = [line + b'\n' for line in complete] + ([last] if last else [])
  parsed = []
  for line in lines:
    try:
      record = json.loads(line) if line.endswith(b'\n') else None  # No newline: cut short by a kill.
    except ValueError:
      record = None
    parsed.append((record, line))
  return parsed
