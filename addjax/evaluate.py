"""Measures a trained run on problems it never trained on.

  python -m addjax.evaluate --workdir W [--step N] [--model_seed S] [--num N] [--seed S] [--encoder_lead_in K]

The problems are drawn as data.generate draws them (operand lengths uniform, no unordered pair twice), then
every one whose unordered pair is in the run's training split is dropped: the run's data set is generated
again with data.make_splits(config) and compared row by row, token for token, in both operand orders. What
remains may include the run's validation problems, which it never trained on either; their count is given.

Of a run trained with --config.num_seeds=K, --model_seed picks the model (default: the first, config.seed;
see addjax.inference); the training split left out is that model's own, as each seed has its data set. --seed is the
seed of the draw, not of a model.

Prints char_accuracy (Keras' per-position accuracy, padding included) and seq_accuracy (exact match of the
whole answer), overall and by operand lengths, and the accuracy of each digit of the answer (units, tens, ...)
by the operands' digits together: which digits of which sums the model gets wrong. Writes them to
W/evaluation.json (of a num_seeds run, W/evaluation_seed<S>.json for the model of seed S).

--encoder_lead_in K answers with K padding steps before each query instead of the run's lead-in, with the same
parameters: every character reaches the encoder K - lead-in steps later (or earlier), which shows at which of
its steps the model can read a query's characters. Written to W/evaluation_lead_in<K>.json (of a num_seeds
run, evaluation_seed<S>_lead_in<K>.json), beside the run's own.
"""

import json
import os
from typing import Any

from absl import app
from absl import flags
import ml_collections
import numpy as np

from addjax import cli
from addjax import data
from addjax import inference
from addjax import workdir as workdir_lib

FLAGS = flags.FLAGS
RESULT_FILE = 'evaluation.json'  # Of a num_seeds run, one per model: evaluation_seed<S>.json.


# ----------------------------------------------------------------------------------------------------------
# Fresh problems.
# ----------------------------------------------------------------------------------------------------------
def operand_lengths(queries: np.ndarray, reverse: bool) -> np.ndarray:
  """Digits in each operand [n, 2] of query rows."""
  natural = queries[:, ::-1] if reverse else queries
  length = np.sum(natural != data.PAD_ID, axis=1)
  plus = np.argmax(natural == data.PLUS_ID, axis=1)
  return np.stack([plus, length - plus - 1], axis=1)


def _row_keys(rows: np.ndarray) -> list[bytes]:
  return [row.tobytes() for row in np.ascontiguousarray(rows, np.uint8)]


def fresh_problems(config: ml_collections.ConfigDict, num: int,
                   seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
  """Up to `num` problems drawn as data.generate draws them, none in the training split in either order.

  Returns queries, answers and counts: num_training_pairs, num_in_val_split (fresh problems that are
  validation problems of the run) and exhausted (true when fewer than `num` such problems exist at all).
  """
  splits = data.make_splits(config)
  train_keys = set(_row_keys(splits['train_queries']))
  num_train = len(train_keys)
  available = data.num_unique_pairs(config.digits)
  # generate never repeats an unordered pair, so at most num_train of its draws are training pairs: drawing
  # num + num_train gives `num` fresh ones, or, when that is every pair there is, all the fresh ones.
  num_draws = min(available, num + num_train)
  queries, answers = data.generate(num_draws, config.digits, config.reverse, seed,
                                   reverse_answer=config.reverse_answer)
  keys, swapped_keys = _row_keys(queries), _row_keys(data.swap_operands(queries, config.reverse))
  is_fresh = np.array([k not in train_keys and s not in train_keys for k, s in zip(keys, swapped_keys)], bool)
  chosen = np.flatnonzero(is_fresh)[:num]
  val_keys = set(_row_keys(splits['val_queries']))
  num_in_val = sum(keys[i] in val_keys or swapped_keys[i] in val_keys for i in chosen)
  counts = {
      'num_training_pairs': num_train,
      'num_in_val_split': int(num_in_val),
      'exhausted': bool(len(chosen) < num),
  }
  return queries[chosen], answers[chosen], counts


# ----------------------------------------------------------------------------------------------------------
# Accuracy.
# ----------------------------------------------------------------------------------------------------------
def accuracies(predictions: np.ndarray, answers: np.ndarray) -> dict[str, Any]:
  """num_problems, char_accuracy (per position, padding included, as Keras) and seq_accuracy (exact match)."""
  correct = predictions == answers
  return {
      'num_problems': int(len(answers)),
      'char_accuracy': float(correct.mean()) if len(answers) else None,
      'seq_accuracy': float(correct.all(axis=1).mean()) if len(answers) else None,
  }


def by_significance(ids: np.ndarray, reverse_answer: bool) -> np.ndarray:
  """Answer rows [n, digits+1] rearranged units first: column k holds the row's digit of 10**k, else padding.

  With reverse_answer a row already is: position k is where the digit of 10**k is written. Otherwise a row
  is read as data.answer_text reads it, most significant first up to its last non-padding character, and
  right-aligned; a malformed prediction ("59 6") is read alike.
  """
  if reverse_answer:
    return ids
  width = ids.shape[1]
  is_char = ids != data.PAD_ID
  length = np.where(is_char.any(axis=1), width - np.argmax(is_char[:, ::-1], axis=1), 0)
  position = length[:, None] - 1 - np.arange(width)
  gathered = np.take_along_axis(ids, np.clip(position, 0, width - 1), axis=1)
  return np.where(position >= 0, gathered, data.PAD_ID).astype(ids.dtype)


def digit_accuracy(predictions: np.ndarray, answers: np.ndarray, reverse_answer: bool) -> list[float | None]:
  """For each power of ten k (units first): how often the model's digit of 10**k is right, over the problems
  whose answer has that digit (None where none does)."""
  want, got = by_significance(answers, reverse_answer), by_significance(predictions, reverse_answer)
  has_digit = want != data.PAD_ID
  right = (want == got) & has_digit
  counts = has_digit.sum(axis=0)
  return [float(r / c) if c else None for r, c in zip(right.sum(axis=0), counts)]


def evaluate(run: inference.Run, num: int, seed: int) -> dict[str, Any]:
  """The model's accuracy on fresh problems: overall, by the longer operand's length, by both lengths, and
  each answer digit's by the operands' digits together.

  Args:
    run: the loaded run (inference.load); its model answers.
    num: how many fresh problems to draw (fewer when fewer exist).
    seed: the seed of the draw.

  Returns:
    What evaluation.json holds: the run, step and model seed, the counts, char_accuracy, seq_accuracy and
    digit_accuracy (units first) overall, by_longer_operand, by_operand_lengths and by_digits_together
    (each row with its digit_accuracy).
  """
  config = run.model_config  # This model's data set: every seed of a num_seeds run has its own.
  queries, answers, counts = fresh_problems(config, num, seed)
  predictions = run.predict_ids(queries) if len(queries) else np.zeros_like(answers)
  lengths = operand_lengths(queries, config.reverse)
  longer = lengths.max(axis=1)
  by_longer = [{'length': int(n), **accuracies(predictions[longer == n], answers[longer == n])}
               for n in np.unique(longer)]
  by_lengths = []
  for a_length, b_length in np.unique(lengths, axis=0):
    mask = (lengths[:, 0] == a_length) & (lengths[:, 1] == b_length)
    by_lengths.append({'a_length': int(a_length), 'b_length': int(b_length),
                       **accuracies(predictions[mask], answers[mask])})
  together = lengths.sum(axis=1)
  by_together = []
  for n in np.unique(together):
    mask = together == n
    by_together.append({'digits_together': int(n), **accuracies(predictions[mask], answers[mask]),
                        'digit_accuracy': digit_accuracy(predictions[mask], answers[mask], config.reverse_answer)})
  return {
      'workdir': run.workdir,
      'step': run.step,
      'model_seed': run.model_seed,
      'digits': config.digits,
      'seed': seed,
      'encoder_lead_in': config.encoder_lead_in,
      'num_requested': num,
      **counts,
      **accuracies(predictions, answers),
      'digit_accuracy': digit_accuracy(predictions, answers, config.reverse_answer),
      'by_longer_operand': by_longer,
      'by_operand_lengths': by_lengths,
      'by_digits_together': by_together,
  }


# ----------------------------------------------------------------------------------------------------------
# Report.
# ----------------------------------------------------------------------------------------------------------
def _fraction(value: float | None) -> str:
  return '-' if value is None else f'{value:.4f}'


def report_lines(result: dict[str, Any]) -> list[str]:
  """What the command prints: the overall numbers, a table by longer operand, a grid by both lengths, and a
  grid of each answer digit's accuracy by digits together."""
  num, digits = result['num_problems'], result['digits']
  lines = [f'{num:,} fresh problems ({digits} digits, seed {result["seed"]}) for {result["workdir"]} at step '
           f'{result["step"]}, model seed {result["model_seed"]}, encoder lead-in {result["encoder_lead_in"]}: '
           f'none in its training split '
           f'({result["num_training_pairs"]:,} pairs); {result["num_in_val_split"]:,} are validation '
           'problems']
  if result['exhausted']:
    lines.append(f'only {num:,} problems of up to {digits} digits are not in the training split '
                 f'({data.num_unique_pairs(digits):,} unordered pairs in all): evaluated all of them, '
                 f'fewer than the {result["num_requested"]:,} asked for')
  lines.append(f'char_accuracy {_fraction(result["char_accuracy"])}  '
               f'seq_accuracy {_fraction(result["seq_accuracy"])}')
  if not num:
    return lines
  lines.append('digit_accuracy (units first) ' + ' '.join(_fraction(v) for v in result['digit_accuracy']))
  lines.append('longer operand  problems  char_accuracy  seq_accuracy')
  for row in result['by_longer_operand']:
    lines.append(f'{row["length"]:>14}  {row["num_problems"]:>8,}  {_fraction(row["char_accuracy"]):>13}  '
                 f'{_fraction(row["seq_accuracy"]):>12}')
  grid = {(row['a_length'], row['b_length']): row['seq_accuracy'] for row in result['by_operand_lengths']}
  lines.append('seq_accuracy by operand lengths (rows: digits of a, columns: digits of b; - where none)')
  lines.append('   ' + ''.join(f'{b:>7}' for b in range(1, digits + 1)))
  for a in range(1, digits + 1):
    lines.append(f'{a:>3}' + ''.join(f'{_fraction(grid.get((a, b))):>7}' for b in range(1, digits + 1)))
  lines.append('accuracy of each answer digit by digits together (rows: digits of a and b together; columns: '
               'the digit of 10**k, units first; - where the sums have no such digit)')
  lines.append('together  problems  seq_acc ' + ''.join(f'{k:>7}' for k in range(digits + 1)))
  for row in result['by_digits_together']:
    lines.append(f'{row["digits_together"]:>8}  {row["num_problems"]:>8,}  {_fraction(row["seq_accuracy"])} '
                 + ''.join(f'{_fraction(value):>7}' for value in row['digit_accuracy']))
  return lines


def result_path(run: inference.Run, lead_in: int | None = None) -> str:
  """Where the evaluation of run's model goes: workdir/evaluation.json, or one file per model seed; with
  `lead_in` (--encoder_lead_in, given), one file per lead-in beside them."""
  stem, extension = os.path.splitext(RESULT_FILE)
  if run.config.num_seeds > 1:
    stem += f'_seed{run.model_seed}'
  if lead_in is not None:
    stem += f'_lead_in{lead_in}'
  return os.path.join(run.workdir, stem + extension)


def define_flags() -> None:
  """The flags of this command; called only when it runs, so importing the module defines none."""
  inference.define_run_flags()
  flags.DEFINE_integer('num', 10_000, 'Fresh problems to draw (fewer when fewer exist).', lower_bound=1)
  flags.DEFINE_integer('seed', 1, 'Seed of the draw of problems (the model: --model_seed).', lower_bound=0)
  flags.DEFINE_integer('encoder_lead_in', None, 'Answer with this many padding steps before each query instead '
                       "of the run's encoder_lead_in (the same parameters): at which of the encoder's steps the "
                       'model can read a query\'s first characters. Written to evaluation_lead_in<K>.json.',
                       lower_bound=0)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    cli.usage_error(f'unexpected arguments {argv[1:]}; accepted: --workdir DIR [--step N] [--model_seed S] '
                    '[--num N] [--seed S] [--encoder_lead_in K]')
  lead_in = FLAGS.encoder_lead_in
  run = inference.load_from_flags(None if lead_in is None else {'encoder_lead_in': lead_in})
  result = evaluate(run, FLAGS.num, FLAGS.seed)
  path = result_path(run, lead_in)
  workdir_lib.write_atomic(path, json.dumps(result, indent=2) + '\n')
  for line in report_lines(result):
    print(line)
  print(f'wrote {path}')


if __name__ == '__main__':
  define_flags()
  app.run(main, flags_parser=inference.parse_flags)
