"""What a run prints and what its summaries say: the seed's sample lines, the epoch line, when 0.99 was reached.

Numpy and the standard library only, so that experiments/ and other light tools read metrics with it.
"""

from typing import Any

import numpy as np

from addjax import data

# The accuracy the example's table claims ("99% train/test accuracy"), which every summary measures against.
TARGET = 0.99

Record = dict[str, Any]  # One line of metrics.jsonl.


def sample_lines(val_queries: np.ndarray, val_answers: np.ndarray, predictions: np.ndarray, reverse: bool,
                 num_samples: int, rng: np.random.Generator, reverse_answer: bool = False) -> list[str]:
  """The seed's printout: 'Q 535+61  T 596  ☑ 596', operands and answers in natural order, ☒ for a wrong
  answer."""
  lines = []
  query_width, answer_width = val_queries.shape[1], val_answers.shape[1]
  for i in rng.integers(0, len(val_queries), size=num_samples):
    truth = data.answer_text(val_answers[i], reverse_answer)
    guess = data.answer_text(predictions[i], reverse_answer)
    mark = '☑' if np.array_equal(val_answers[i], predictions[i]) else '☒'
    lines.append(f'Q {data.query_text(val_queries[i], reverse):<{query_width}} '
                 f'T {truth:<{answer_width}} {mark} {guess}')
  return lines


def spread(value: float | list[float]) -> str:
  """A metric for the printout: 0.1234 for one run; mean ± standard deviation (over seeds) for a list."""
  if not isinstance(value, list):
    return f'{value:.4f}'
  return f'{np.mean(value):.4f} ± {np.std(value, ddof=1) if len(value) > 1 else 0.0:.4f}'


def epoch_line(record: Record, num_epochs: int) -> str:
  """The line printed after each epoch: losses and accuracies (mean ± std over seeds), speed, time."""
  return (f'epoch {record["epoch"]}/{num_epochs}: train loss {spread(record["train_loss"])} '
          f'char {spread(record["train_char_accuracy"])} | val loss {spread(record["val_loss"])} '
          f'char {spread(record["val_char_accuracy"])} seq {spread(record["val_seq_accuracy"])} | '
          f'{record["examples_per_sec"]:,.0f} examples/s, {record["elapsed_sec"]:.1f} s elapsed')


def first_epoch_reaching(records: list[Record], key: str, threshold: float = TARGET,
                         seed_index: int | None = None) -> int | None:
  """The first epoch whose record[key] (of the seed at seed_index, for records of several seeds) >= threshold."""
  value = (lambda r: r[key]) if seed_index is None else (lambda r: r[key][seed_index])
  return next((r['epoch'] for r in records if value(r) >= threshold), None)


def summary_lines(records: list[Record]) -> list[str]:
  """When each validation accuracy first reached TARGET; for several seeds, per seed and the final spread."""
  lines = []
  for key, name in (('val_char_accuracy', 'val char accuracy'), ('val_seq_accuracy', 'val seq accuracy')):
    if records and isinstance(records[-1][key], list):
      lines.append(_seeds_summary(records, key, name))
      continue
    epoch = first_epoch_reaching(records, key)
    if epoch is None:
      best = max(records, key=lambda r: r[key]) if records else None
      lines.append(f'{name} never reached {TARGET}' +
                   (f' (best {best[key]:.4f} at epoch {best["epoch"]})' if best else ''))
    else:
      record = records[epoch - 1]
      lines.append(f'{name} first reached {TARGET} at epoch {epoch} ({record["elapsed_sec"]:.1f} s elapsed)')
  return lines


def _seeds_summary(records: list[Record], key: str, name: str) -> str:
  final = records[-1][key]
  epochs = [first_epoch_reaching(records, key, seed_index=i) for i in range(len(final))]
  reached = [e for e in epochs if e is not None]
  return (f'{name} at epoch {records[-1]["epoch"]} over {len(final)} seeds: {spread(final)} '
          f'(min {min(final):.4f}, max {max(final):.4f}); {len(reached)} of {len(final)} seeds reached {TARGET}'
          + (f', first at epochs {", ".join(str(e) if e else "never" for e in epochs)}' if reached else ''))
