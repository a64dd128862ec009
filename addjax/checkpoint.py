"""Orbax checkpoints of the train state, one per epoch under workdir/checkpoints (the step is the epoch).

A checkpoint is committed by Orbax's rename of its temporary directory, so a kill leaves a whole checkpoint
or a partial `<step>.orbax-checkpoint-tmp*` directory that no reader takes for one; remove_partial clears
those. A committed checkpoint whose files were damaged afterwards (a copy cut short, a bad disk) fails to
restore; restore_newest_intact then takes the newest one that does restore. Every process of a run calls
save and wait: Orbax writes each array once and commits when all are done.
"""

import dataclasses
import glob
import os
import re
import shutil
from typing import Any

import jax
import orbax.checkpoint as ocp

from addjax import cli
from addjax import workdir as workdir_lib

_PARTIAL_SUFFIX = '.orbax-checkpoint-tmp'  # Orbax's name for a checkpoint not yet committed.
DAMAGED_DIR = 'damaged_checkpoints'  # Where a run moves checkpoints it cannot read, out of Orbax's way.


Manager = ocp.CheckpointManager


class SaveError(RuntimeError):
  """A checkpoint could not be written (no space, a read-only or vanished file system); names the cause."""


@dataclasses.dataclass(frozen=True)
class Restored:
  """A checkpoint read back, and the newer ones that could not be."""
  step: int
  state: Any
  meta: dict[str, Any]
  damaged: tuple[tuple[int, str], ...] = ()  # (step, why) of each newer checkpoint that failed to restore.

  def note(self, workdir: str) -> str | None:
    """One line naming the damaged checkpoints and the one used instead; None when there were none."""
    if not self.damaged:
      return None
    what = '; '.join(f'checkpoint {step} cannot be read ({why})' for step, why in self.damaged)
    return f'{workdir}: {what}; using checkpoint {self.step}, the newest intact one'


def manager(workdir: str, max_to_keep: int, read_only: bool = False) -> Manager:
  """The CheckpointManager of workdir/checkpoints.

  Args:
    workdir: the run's directory.
    max_to_keep: how many of the newest checkpoints a writer keeps.
    read_only: for readers (predict, evaluate, the demo): creates and deletes nothing.
  """
  # A reader leaves max_to_keep and create unset: Orbax warns about either with read_only.
  options = ocp.CheckpointManagerOptions(max_to_keep=None if read_only else max_to_keep, create=not read_only,
                                         read_only=read_only)
  # The handlers named up front, so that a checkpoint's metadata (shapes, dtypes) can be read before restoring.
  handlers = {'state': ocp.StandardCheckpointHandler(), 'meta': ocp.JsonCheckpointHandler()}
  return ocp.CheckpointManager(os.path.abspath(os.path.join(workdir, workdir_lib.CHECKPOINT_DIR)),
                               options=options, item_handlers=handlers)


def save(mngr: Manager, epoch: int, state: Any, meta: dict[str, Any]) -> None:
  """Starts saving asynchronously (Orbax copies the arrays off the device before it returns); see wait.

  Raises:
    SaveError: the save could not start, or the previous one failed.
  """
  try:
    mngr.save(epoch, args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)))
  except Exception as e:  # Orbax and tensorstore raise many kinds for one failed write.
    raise SaveError(_cause(e)) from e


def wait(mngr: Manager) -> None:
  """Blocks until the saves started so far are committed.

  Raises:
    SaveError: a save failed; its checkpoint is not committed.
  """
  try:
    mngr.wait_until_finished()
  except Exception as e:
    raise SaveError(_cause(e)) from e


def _cause(error: BaseException) -> str:
  """The operating system's words for a failed write where the error carries them, else its first line."""
  cause: BaseException | None = error
  while cause is not None:
    if isinstance(cause, OSError) and cause.strerror:
      return cause.strerror
    cause = cause.__cause__ or cause.__context__
  code = re.search(r"os_error_code='?([0-9]+)", str(error))  # tensorstore's form.
  return os.strerror(int(code[1])) if code else cli.one_line(error)


def close(mngr: Manager) -> None:
  """Closes mngr, waiting for a save in flight; a failure there was already raised by wait, or is moot."""
  try:
    mngr.close()
  except Exception:  # Either reported by wait() or the run is already stopping for another reason.
    pass


def as_saved_on(mngr: Manager, step: int, sharding: jax.sharding.Sharding) -> Any:
  """Checkpoint `step`'s state as saved (structure, shapes, dtypes), every array placed with `sharding`.

  The target that restores a checkpoint onto devices other than those it was saved from, e.g. a run trained
  over two CPU devices read by a one-device process: restored without a target, Orbax asks for the topology
  it was saved on.
  """
  metadata = mngr.item_metadata(step)['state']
  return jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding), metadata)


def restore(mngr: Manager, step: int, abstract_state: Any = None,
            onto: jax.sharding.Sharding | None = None) -> tuple[Any, dict[str, Any]]:
  """(state, meta) of checkpoint `step`.

  Args:
    mngr: the workdir's manager.
    step: the checkpoint.
    abstract_state: the state's structure, shapes and shardings. None: the state as saved, placed with `onto`
      (as_saved_on), or as it was saved when `onto` is None too.
    onto: where to place the arrays of a state restored as saved.
  """
  if abstract_state is None and onto is not None:
    abstract_state = as_saved_on(mngr, step, onto)
  restored = mngr.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state),
                                                        meta=ocp.args.JsonRestore()))
  return restored.state, restored.meta


def restore_newest_intact(mngr: Manager, abstract_state: Any = None, steps: list[int] | None = None,
                          onto: jax.sharding.Sharding | None = None) -> Restored | None:
  """The newest checkpoint that restores, trying each in turn from the newest.

  Args:
    mngr: the workdir's manager.
    abstract_state: the state's structure, shapes and shardings; None restores the state as saved.
    steps: the steps to try (default: every committed one).
    onto: where to place the arrays of a state restored as saved (see restore).

  Returns:
    The restored checkpoint with the newer ones that failed, or None when there is no checkpoint at all.

  Raises:
    NoIntactCheckpointError: checkpoints exist but none restores.
  """
  steps = sorted(mngr.all_steps() if steps is None else steps, reverse=True)
  damaged = []
  for step in steps:
    try:
      state, meta = restore(mngr, step, abstract_state, onto)
    except Exception as e:  # Missing, truncated or garbled files each raise their own kind.
      damaged.append((step, cli.one_line(e)))
      continue
    return Restored(step, state, meta, tuple(damaged))
  if damaged:
    raise NoIntactCheckpointError(damaged)
  return None


class NoIntactCheckpointError(RuntimeError):
  """Every checkpoint tried failed to restore."""

  def __init__(self, damaged: list[tuple[int, str]]):
    steps = ', '.join(str(step) for step, _ in damaged)
    super().__init__(f'no checkpoint can be read (tried {steps}; the newest: {damaged[0][1]})')
    self.damaged = damaged


def remove_partial(workdir: str) -> list[str]:
  """Removes the uncommitted checkpoint directories of workdir (a save cut short); returns their names."""
  pattern = os.path.join(glob.escape(os.path.join(workdir, workdir_lib.CHECKPOINT_DIR)), f'*{_PARTIAL_SUFFIX}*')
  removed = []
  for path in sorted(glob.glob(pattern)):
    shutil.rmtree(path, ignore_errors=True)
    removed.append(os.path.basename(path))
  return removed


def set_aside(workdir: str, steps: list[int]) -> str:
  """Moves the checkpoints of `steps` to workdir/damaged_checkpoints (kept for a look, out of Orbax's way).

  Returns:
    The folder they were moved to.
  """
  destination = os.path.join(workdir, DAMAGED_DIR)
  os.makedirs(destination, exist_ok=True)
  for step in steps:
    source = os.path.join(workdir, workdir_lib.CHECKPOINT_DIR, str(step))
    target, copy = os.path.join(destination, str(step)), 1
    while os.path.exists(target):  # The same step damaged twice: keep both.
      copy += 1
      target = os.path.join(destination, f'{step}.{copy}')
    os.replace(source, target)
  return destination
