"""evaluate: fresh problems exclude every training pair, the counts are honest, evaluation.json is written."""

import json
import shutil

import numpy as np
import pytest

from addjax import config as config_lib
from addjax import data
from addjax import evaluate
from addjax import inference
from conftest import run_module, tiny_run_config


def pairs(queries, reverse=True):
  """Unordered operand pairs of query rows, read back from their text."""
  return [tuple(sorted(map(int, data.query_text(row, reverse).split('+')))) for row in queries]


@pytest.mark.parametrize('reverse', [True, False])
def test_swap_operands_and_operand_lengths(reverse):
  rng = np.random.default_rng(0)
  problems = [(int(a), int(b)) for a, b in rng.integers(0, 10 ** rng.integers(1, 4, size=(50, 2)))]
  problems += [(0, 0), (999, 999), (5, 123)]
  queries = np.stack([data.encode_query(a, b, 3, reverse) for a, b in problems])
  swapped = np.stack([data.encode_query(b, a, 3, reverse) for a, b in problems])
  np.testing.assert_array_equal(data.swap_operands(queries, reverse), swapped)
  assert evaluate.operand_lengths(queries, reverse).tolist() == [[len(str(a)), len(str(b))] for a, b in problems]


def ids(texts):
  return np.array([[data.CHARS.index(c) for c in text] for text in texts], np.uint8)


@pytest.mark.parametrize('reverse_answer, rows', [
    (False, ['596 ', '1000', '7   ', '59 6']),   # The last a malformed prediction: read up to its last digit.
    (True, ['695 ', '0001', '7   ', '6 95'])])
def test_answer_rows_units_first_as_answer_text_reads_them(reverse_answer, rows):
  assert [data.answer_text(row, reverse_answer) for row in ids(rows)] == ['596', '1000', '7', '59 6']
  assert data.decode(evaluate.by_significance(ids(rows), reverse_answer)) == ['695 ', '0001', '7   ', '6 95']


@pytest.mark.parametrize('reverse_answer', [False, True])
def test_digit_accuracy_counts_each_power_of_ten_over_the_answers_that_have_it(reverse_answer):
  def written(texts):
    return ids([(text[::-1] if reverse_answer else text).ljust(4) for text in texts])
  answers = written(['596', '1000', '7', '12'])
  predictions = written(['597', '1000', '8', '2'])  # Units wrong twice; '2' for 12 misses the tens.
  assert evaluate.digit_accuracy(predictions, answers, reverse_answer) == [0.5, 2 / 3, 1.0, 1.0]
  assert evaluate.digit_accuracy(written(['7', '3']), written(['7', '4']), reverse_answer) == [0.5, None, None, None]


def test_fresh_problems_exclude_training_pairs():
  config = tiny_run_config()
  splits = data.make_splits(config)
  trained = set(pairs(splits['train_queries']))
  validation = set(pairs(splits['val_queries']))

  queries, answers, counts = evaluate.fresh_problems(config, 300, seed=5)
  fresh = pairs(queries)
  assert len(fresh) == 300 and len(set(fresh)) == 300 and not counts['exhausted']
  assert not set(fresh) & trained
  assert counts['num_training_pairs'] == 4_500
  assert counts['num_in_val_split'] == len(set(fresh) & validation) > 0
  assert [data.answer_text(row) for row in answers] == [str(a + b) for a, b in fresh]

  # 5,050 unordered pairs of two-digit numbers, 4,500 trained on: only 550 can be fresh, and all are found.
  queries, _, counts = evaluate.fresh_problems(config, 10_000, seed=5)
  assert counts['exhausted'] and len(queries) == 550
  assert set(pairs(queries)) | trained == {(a, b) for a in range(100) for b in range(a, 100)}


def test_command_line_writes_evaluation_json(trained_workdir, tmp_path):
  workdir = tmp_path / 'run'
  shutil.copytree(trained_workdir, workdir)  # The shared run stays as it was.
  result = run_module('evaluate', f'--workdir={workdir}', '--num=10000', '--seed=2')
  assert result.returncode == 0, result.stderr
  assert 'only 550 problems' in result.stdout and 'char_accuracy' in result.stdout
  # No temporary file left (the run's TensorBoard events are its own, from training).
  names = sorted(p.name for p in workdir.iterdir() if not p.name.startswith('events.out.tfevents.'))
  assert names == ['checkpoints', 'config.json', 'evaluation.json', 'lock', 'metrics.jsonl']
  output = json.loads((workdir / 'evaluation.json').read_text())
  assert (output['step'], output['model_seed'], output['digits'], output['seed']) == (12, 0, 2, 2)
  assert (output['num_requested'], output['num_problems'], output['exhausted']) == (10_000, 550, True)

  # The same numbers computed here, per problem, from the model's answers.
  run = inference.load(str(workdir))
  queries, answers, _ = evaluate.fresh_problems(run.config, 10_000, seed=2)
  predictions = run.predict_ids(queries)
  per_position = predictions == answers
  assert output['char_accuracy'] == pytest.approx(per_position.mean())
  assert output['seq_accuracy'] == pytest.approx(per_position.all(axis=1).mean())
  assert 0 < output['seq_accuracy'] < output['char_accuracy'] <= 1

  # Tables: the rows add up to the whole, each row's accuracy weighted by its count gives the overall one.
  for table in ('by_longer_operand', 'by_operand_lengths', 'by_digits_together'):
    rows = output[table]
    assert sum(r['num_problems'] for r in rows) == 550
    assert sum(r['num_problems'] * r['seq_accuracy'] for r in rows) / 550 == pytest.approx(output['seq_accuracy'])
  assert [r['length'] for r in output['by_longer_operand']] == [1, 2]
  assert [r['digits_together'] for r in output['by_digits_together']] == [2, 3, 4]

  # Each answer digit's accuracy, from the answers as text, right-aligned: units, tens, hundreds.
  def digit_accuracy(problems):
    right, count = np.zeros(3), np.zeros(3)
    for want, got in problems:
      for k, digit in enumerate(reversed(want)):
        count[k] += 1
        right[k] += got[::-1][k:k + 1] == digit
    return [r / c if c else None for r, c in zip(right, count)]
  texts = [(data.answer_text(a, run.config.reverse_answer), data.answer_text(p, run.config.reverse_answer))
           for a, p in zip(answers, predictions)]
  assert output['digit_accuracy'] == pytest.approx(digit_accuracy(texts))
  assert output['digit_accuracy'][0] < 1  # The model misses some units digits: the comparison is not vacuous.
  lengths = evaluate.operand_lengths(queries, run.config.reverse).sum(axis=1)
  for row in output['by_digits_together']:
    chosen = [text for text, n in zip(texts, lengths) if n == row['digits_together']]
    assert row['digit_accuracy'] == pytest.approx(digit_accuracy(chosen))
  assert 'accuracy of each answer digit by digits together' in result.stdout


def test_a_model_of_a_num_seeds_run_is_evaluated_on_its_own_fresh_problems(two_seed_workdir, tmp_path):
  workdir = tmp_path / 'run'
  shutil.copytree(two_seed_workdir, workdir)  # The shared run stays as it was.
  for seed in (1, 0):
    result = run_module('evaluate', f'--workdir={workdir}', f'--model_seed={seed}', '--num=200', '--seed=3')
    assert result.returncode == 0, result.stderr
    assert f'model seed {seed}' in result.stdout and f'evaluation_seed{seed}.json' in result.stdout
  # One file per model: evaluating seed 0 after seed 1 kept seed 1's.
  assert not (workdir / 'evaluation.json').exists()
  outputs = {seed: json.loads((workdir / f'evaluation_seed{seed}.json').read_text()) for seed in (0, 1)}
  assert [outputs[seed]['model_seed'] for seed in (0, 1)] == [0, 1]
  output = outputs[1]
  assert (output['step'], output['model_seed'], output['seed'], output['num_problems']) == (2, 1, 3, 200)

  # Seed 1's model, on problems outside seed 1's training split (each seed has its own data set).
  run = inference.load(str(workdir), model_seed=1)
  queries, answers, _ = evaluate.fresh_problems(run.model_config, 200, seed=3)
  assert output['seq_accuracy'] == pytest.approx((run.predict_ids(queries) == answers).all(axis=1).mean())
  split_of = {seed: set(pairs(data.make_splits(config_lib.with_seed(run.config, seed))['train_queries']))
              for seed in (0, 1)}
  assert not set(pairs(queries)) & split_of[1]
  assert set(pairs(queries)) & split_of[0]  # So seed 0's split would have been the wrong one to leave out.


@pytest.mark.parametrize('args, fragment', [
    (['--num=0'], '--num'),
    (['--workdir=/nonexistent/run'], 'no such directory'),
    (['surplus'], 'unexpected arguments'),
    (['--model_seed=1'], 'trained seed 0 only; accepted: 0'),
    (['--encoder_lead_in=-1'], 'encoder_lead_in'),
])
def test_bad_input_ends_in_one_line_and_exit_status_2(trained_workdir, args, fragment):
  result = run_module('evaluate', f'--workdir={trained_workdir}', *args)
  assert result.returncode == 2
  assert result.stderr.startswith('error: ') and fragment in result.stderr
  assert len(result.stderr.splitlines()) == 1
  assert not (trained_workdir / 'evaluation.json').exists()


def test_another_encoder_lead_in_answers_with_the_same_parameters(trained_workdir, tmp_path):
  workdir = tmp_path / 'run'
  shutil.copytree(trained_workdir, workdir)  # The shared run stays as it was.
  result = run_module('evaluate', f'--workdir={workdir}', '--num=300', '--seed=4', '--encoder_lead_in=6')
  assert result.returncode == 0, result.stderr
  assert 'encoder lead-in 6' in result.stdout and 'evaluation_lead_in6.json' in result.stdout
  assert not (workdir / 'evaluation.json').exists()  # The run's own evaluation is another file.
  output = json.loads((workdir / 'evaluation_lead_in6.json').read_text())
  assert output['encoder_lead_in'] == 6

  # The numbers are those of the run's parameters applied with six padding steps before each query.
  config = inference.read_config(str(workdir))
  assert config.encoder_lead_in == 0
  own = inference.load(str(workdir))
  config.encoder_lead_in = 6
  shifted = inference.load(str(workdir), config=config)
  queries, answers, _ = evaluate.fresh_problems(config, 300, seed=4)
  predictions = shifted.predict_ids(queries)
  assert output['char_accuracy'] == pytest.approx((predictions == answers).mean())
  assert (predictions != own.predict_ids(queries)).any()  # The lead-in changed answers: the check is not vacuous.
