"""TensorBoard event files beside metrics.jsonl: the same numbers, per epoch, for `tensorboard --logdir`.

The event files are a view of metrics.jsonl, which stays the record the experiments read. Each start of a run
(fresh or resumed) deletes the run's event files and writes one new file from the metrics.jsonl lines the run
resumes from, then adds each epoch as its line is appended. So after a kill and a resume the events hold
each epoch of metrics.jsonl once, with no step that metrics.jsonl dropped, for any reader: nothing relies on
TensorBoard purging orphaned steps.

Layout: a run of one seed writes into its workdir, one TensorBoard run per workdir. A run of num_seeds > 1
writes one run per seed, into workdir/seed<k> (k = config.seed + i), so TensorBoard shows and compares them
as separate runs. The step of every scalar is the epoch. Tags: train/loss, train/char_accuracy,
train/seq_accuracy, the same under val/, then examples_per_sec (all seeds together, as in metrics.jsonl),
epoch_sec and learning_rate (that of the epoch's last step). Each run's config is its hparams (TensorBoard's
hparams plugin), with `seed` that of the run.

The writer is tensorboardX, an optional extra (`pip install -e '.[tensorboard]'`): without it a run says so
once and trains as usual. Only process 0 of a run writes (addjax.train opens the writer there alone).
"""

import glob
import os
import sys
import time
from typing import Any

import ml_collections

from addjax import config as config_lib

Record = dict[str, Any]

EVENTS_GLOB = 'events.out.tfevents.*'
# Keys of a metrics.jsonl line that are no series of their own: the step, the time axis, the layout.
_NOT_SCALARS = frozenset({'epoch', 'elapsed_sec', 'num_devices'})


def tag(key: str) -> str:
  """The TensorBoard tag of a metrics.jsonl key: 'val_seq_accuracy' -> 'val/seq_accuracy'."""
  for split in ('train', 'val'):
    if key.startswith(f'{split}_'):
      return f'{split}/{key[len(split) + 1:]}'
  return key


def scalars(record: Record, seed_index: int | None = None) -> dict[str, float]:
  """{tag: value} of one metrics.jsonl line, for one seed's run when the line holds lists (num_seeds > 1).

  Args:
    record: a metrics.jsonl line.
    seed_index: which entry of each list to take; None for the line of a one-seed run.

  Returns:
    Every numeric key of the line but the epoch, elapsed_sec and num_devices, under its tag.
  """
  out = {}
  for key, value in record.items():
    if key in _NOT_SCALARS:
      continue
    if isinstance(value, list) and seed_index is not None:
      value = value[seed_index]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
      out[tag(key)] = float(value)
  return out


def run_dirs(workdir: str, config: ml_collections.ConfigDict) -> list[str]:
  """The TensorBoard run directory of each seed: the workdir itself for one seed, workdir/seed<k> for several."""
  if config.num_seeds == 1:
    return [workdir]
  return [os.path.join(workdir, f'seed{seed}') for seed in config_lib.run_seeds(config)]


def hparams(config: ml_collections.ConfigDict, seed: int) -> dict[str, bool | int | float | str]:
  """The config as the hparams plugin takes it (numbers, strings, booleans), with the run's seed."""
  out = {}
  for field, value in config.to_dict().items():
    out[field] = value if isinstance(value, (bool, int, float, str)) else str(value)
  out['seed'] = seed
  return out


class EventWriter:
  """Writes a run's epochs as TensorBoard scalars, one TensorBoard run per seed; see the module docstring.

  Writes synchronously, through tensorboardX's EventsWriter (its SummaryWriter queues events for a thread of
  its own): an epoch's events are in the file when write() returns, and a failed write surfaces here.
  """

  def __init__(self, workdir: str, config: ml_collections.ConfigDict, records: list[Record]):
    """Replaces the run's event files with one holding config and records, and stays open for the next epochs.

    Args:
      workdir: the run's directory, owned by this process.
      config: the run's config.
      records: the metrics.jsonl lines the run goes on from (epochs 1..k; none for a fresh start).

    Raises:
      ImportError: tensorboardX is not installed.
      OSError: an event file could not be removed or written.
    """
    # An optional extra, imported only where a run writes events.
    from tensorboardX import event_file_writer
    from tensorboardX import summary
    from tensorboardX.proto import event_pb2

    self._summary, self._event = summary, event_pb2.Event
    self._seeded = config.num_seeds > 1
    self._files = []
    metric_tags = [tag(f'{split}_{name}') for split in ('val', 'train')
                   for name in ('seq_accuracy', 'char_accuracy', 'loss')]
    for seed, logdir in zip(config_lib.run_seeds(config), run_dirs(workdir, config)):
      os.makedirs(logdir, exist_ok=True)
      for path in glob.glob(os.path.join(logdir, EVENTS_GLOB)):
        os.remove(path)
      # The pid in the name keeps apart the files of two starts within one second.
      events = event_file_writer.EventsWriter(os.path.join(logdir, 'events'), f'.{os.getpid()}')
      self._files.append(events)
      for hparams_summary in summary.hparams(hparams(config, seed), dict.fromkeys(metric_tags))[:2]:
        events.write_event(self._event(wall_time=time.time(), step=0, summary=hparams_summary))
    # Rewritten epochs keep their spacing in training time (elapsed_sec), ending now: TensorBoard's relative
    # time axis then shows the run's time spent training, not the moment of the rewrite.
    now = time.time()
    last_elapsed = records[-1]['elapsed_sec'] if records else 0.0
    for record in records:
      self._add(record, now - (last_elapsed - record['elapsed_sec']))
    self._flush()

  def write(self, record: Record) -> None:
    """Adds one epoch (a metrics.jsonl line) to every seed's run and flushes it to the file.

    Raises:
      OSError: the event file could not be written.
    """
    self._add(record, time.time())
    self._flush()

  def close(self) -> None:
    for events in self._files:
      events.close()

  def _add(self, record: Record, walltime: float) -> None:
    for index, events in enumerate(self._files):
      for name, value in scalars(record, index if self._seeded else None).items():
        events.write_event(self._event(wall_time=walltime, step=record['epoch'],
                                       summary=self._summary.scalar(name, value)))

  def _flush(self) -> None:
    for events in self._files:
      events.flush()


class NoWriter:
  """Stands in for EventWriter where tensorboardX is not installed or the event files cannot be written."""

  def write(self, record: Record) -> None:
    del record

  def close(self) -> None:
    pass


class _SafeWriter:
  """An EventWriter whose first failed write is said in one line and ends its writing, not the run."""

  def __init__(self, writer: EventWriter, workdir: str):
    self._writer, self._workdir = writer, workdir

  def write(self, record: Record) -> None:
    if self._writer is None:
      return
    try:
      self._writer.write(record)
    except OSError as e:
      _cannot_write(self._workdir, e)
      self.close()

  def close(self) -> None:
    if self._writer is not None:
      writer, self._writer = self._writer, None
      try:
        writer.close()
      except OSError:
        pass  # Said already, or the next start rewrites the files.


def open_writer(workdir: str, config: ml_collections.ConfigDict, records: list[Record]) -> _SafeWriter | NoWriter:
  """An EventWriter for the run in workdir, rewritten from records; a NoWriter, said in one line, without one.

  Args:
    workdir: the run's directory, owned by this process.
    config: the run's config.
    records: the metrics.jsonl lines the run goes on from.

  Returns:
    The writer; the training loop calls write(record) after appending each line, and close() at the end.
  """
  try:
    return _SafeWriter(EventWriter(workdir, config, records), workdir)
  except ImportError:
    _note('tensorboardX is not installed, so this run writes no TensorBoard event files '
          "(pip install -e '.[tensorboard]' adds them)")
  except OSError as e:
    _cannot_write(workdir, e)
  return NoWriter()


def _cannot_write(workdir: str, error: OSError) -> None:
  # The events are a view of metrics.jsonl: the run goes on, and its next start writes them again.
  _note(f'cannot write TensorBoard event files in {workdir}: {error.strerror or error}; training goes on '
        'without them, and its next start writes them again')


def _note(line: str) -> None:
  print(f'note: {line}', file=sys.stderr, flush=True)
