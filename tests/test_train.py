import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from addjax import checkpoint
from addjax import config as config_lib
from addjax import data
from addjax import models
from addjax import programs
from addjax import report
from addjax import rng
from addjax import sharding
from addjax import state as state_lib
from addjax import train
from addjax import workdir as workdir_lib
from conftest import config_with

TIMING_KEYS = ('examples_per_sec', 'epoch_sec', 'elapsed_sec')


def tiny_config(**overrides):
  """Small enough to compile and train in seconds, big enough to learn two-digit addition."""
  return config_with(**{**dict(digits=2, training_size=5_000, hidden_size=64, batch_size=64, learning_rate=0.01,
                               num_epochs=2, eval_batch_size=128, num_samples_to_print=2), **overrides})


def without_timing(records):
  return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in records]


def test_metric_sums_count_keras_char_accuracy_and_exact_match():
  answers = jnp.array([[3, 4, 0], [5, 6, 7]])
  predicted = jnp.array([[3, 4, 0], [5, 6, 1]])  # First all right; second right in 2 of 3 positions.
  logits = 10.0 * jax.nn.one_hot(predicted, data.VOCAB_SIZE)
  sums = programs.metric_sums(logits, answers, jnp.array([1.0, 1.0]))
  assert float(sums['char_correct']) == pytest.approx(1 + 2 / 3)
  assert float(sums['seq_correct']) == 1.0
  assert float(sums['count']) == 2.0
  masked = programs.metric_sums(logits, answers, jnp.array([0.0, 1.0]))
  assert float(masked['seq_correct']) == 0.0 and float(masked['char_correct']) == pytest.approx(2 / 3)


def test_epoch_batches_visit_every_example_once_and_pad_with_zero_weight():
  num_examples, batch_size = 1_000, 32
  num_steps = -(-num_examples // batch_size)
  num_chunks, chunk_steps = programs.chunk_layout(num_steps, steps_per_call=7)
  assert num_chunks * chunk_steps >= num_steps > (num_chunks - 1) * chunk_steps
  make = train.make_epoch_batches(num_examples, batch_size, num_chunks, chunk_steps)
  indices, weights = (np.asarray(x).reshape(-1) for x in make(train.epoch_key(0, 1)))
  assert sorted(indices[weights == 1].tolist()) == list(range(num_examples))
  assert np.all(weights[:num_examples] == 1) and np.all(weights[num_examples:] == 0)
  other, _ = make(train.epoch_key(0, 2))
  assert not np.array_equal(indices, np.asarray(other).reshape(-1))  # Each epoch its own shuffle.


def test_length_balanced_epoch_batches_draw_by_the_probabilities_with_replacement():
  num_examples, batch_size = 2_000, 40
  num_chunks, chunk_steps = programs.chunk_layout(num_examples // batch_size, steps_per_call=10)
  probabilities = np.zeros(num_examples)
  probabilities[:10], probabilities[10:100] = 0.5 / 10, 0.5 / 90  # Two groups, half the draws each.
  make = train.make_epoch_batches(num_examples, batch_size, num_chunks, chunk_steps, probabilities=probabilities)
  indices, weights = (np.asarray(x).reshape(-1) for x in make(train.epoch_key(0, 1)))
  drawn = indices[weights == 1]
  assert len(drawn) == num_examples and drawn.max() < 100  # As many draws, none of probability 0.
  assert 0.45 < np.mean(drawn < 10) < 0.55
  assert len(np.unique(drawn)) < len(drawn)  # With replacement.
  other, _ = make(train.epoch_key(0, 2))
  assert not np.array_equal(indices, np.asarray(other).reshape(-1))
  # The same key, the same draws: what a resumed run relies on.
  np.testing.assert_array_equal(indices, np.asarray(make(train.epoch_key(0, 1))[0]).reshape(-1))


def test_a_length_balanced_run_learns_and_resumes_exactly(tmp_path):
  straight = train.train_and_evaluate(tiny_config(num_epochs=3, length_balance=0.5), str(tmp_path / 'straight'))
  train.train_and_evaluate(tiny_config(num_epochs=2, length_balance=0.5), str(tmp_path / 'resumed'))
  resumed = train.train_and_evaluate(tiny_config(num_epochs=3, length_balance=0.5), str(tmp_path / 'resumed'))
  assert without_timing(resumed) == without_timing(straight)
  assert straight[-1]['train_loss'] < 0.8 * straight[0]['train_loss']
  shuffled = train.train_and_evaluate(tiny_config(num_epochs=1), str(tmp_path / 'shuffled'))
  assert shuffled[0]['train_loss'] != pytest.approx(straight[0]['train_loss'], rel=1e-6)  # The draws differ.


def test_one_training_step_lowers_the_loss():
  config = tiny_config(batch_size=32)
  model, tx = models.from_config(config), train.create_optimizer(config)
  state = train.init_state(config, model, tx)
  queries, answers = (jnp.asarray(x) for x in data.generate(32, config.digits, seed=1))
  indices = jnp.arange(32, dtype=jnp.int32).reshape(1, 1, 32)
  weights = jnp.ones((1, 1, 32))
  loss_before = programs.metric_sums(model.apply({'params': state['params']}, queries), answers, weights[0, 0])
  state, sums = train.make_train_chunk(model, tx)(state, queries, answers, indices, weights, 0)
  loss_after = programs.metric_sums(model.apply({'params': state['params']}, queries), answers, weights[0, 0])
  assert int(state['step']) == 1
  assert float(sums['loss']) == pytest.approx(float(loss_before['loss']), rel=1e-5)
  assert float(loss_after['loss']) < float(loss_before['loss'])


def test_microbatch_for_slices_cpu_shares_and_keeps_accelerator_shares_whole():
  assert programs.microbatch_for(0, 128, 'cpu') == 32
  assert programs.microbatch_for(0, 48, 'cpu') == 24  # The largest divisor of the share from 16 to 32.
  assert programs.microbatch_for(0, 37, 'cpu') == 37  # None: slices of 1 would crawl.
  assert programs.microbatch_for(0, 16, 'cpu') == 16
  assert programs.microbatch_for(0, 128, 'gpu') == 128
  assert programs.microbatch_for(8, 128, 'gpu') == 8
  assert programs.microbatch_for(512, 128, 'cpu') == 128


def test_a_batch_taken_in_microbatches_makes_the_same_step():
  config = tiny_config(batch_size=32)
  # Plain SGD: the step is the gradient itself (Adam's first step is about its sign, blind to its size).
  model, tx = models.from_config(config), optax.sgd(1.0)
  state = train.init_state(config, model, tx)
  queries, answers = (jnp.asarray(x) for x in data.generate(64, config.digits, seed=1))
  indices = jnp.asarray(np.random.default_rng(0).permutation(64)[:32].reshape(1, 1, 32), jnp.int32)
  weights = jnp.ones((1, 1, 32)).at[0, 0, -5:].set(0.0)  # Padding in the last slice counts for nothing.
  mesh = sharding.data_mesh(jax.devices()[:1])

  def step(microbatch_size):  # The chunk donates the state it is given: give it a copy.
    chunk = train.make_train_chunk(model, tx, mesh, microbatch_size=microbatch_size)
    return chunk(jax.tree.map(jnp.copy, state), queries, answers, indices, weights, 0)

  (whole, whole_sums), (sliced, sliced_sums) = step(32), step(8)
  for name in programs.METRIC_SUMS:
    assert float(sliced_sums[name]) == pytest.approx(float(whole_sums[name]), rel=1e-5)
  assert float(sliced_sums['count']) == 27.0
  for before, a, b in zip(*(jax.tree.leaves(s['params']) for s in (state, whole, sliced))):
    step_whole, step_sliced = np.asarray(a - before), np.asarray(b - before)
    assert np.abs(step_whole).max() > 0
    np.testing.assert_allclose(step_sliced, step_whole, atol=1e-5 * np.abs(step_whole).max())


@pytest.mark.parametrize('matmul_dtype', ['float32', 'bfloat16'])
def test_a_short_run_learns(tmp_path, matmul_dtype):
  records = train.train_and_evaluate(tiny_config(num_epochs=8, matmul_dtype=matmul_dtype), str(tmp_path))
  first, last = records[0], records[-1]
  # Chance is 1/12 per character; the seed's own model needs ~40 epochs for these numbers.
  assert last['val_char_accuracy'] > 0.75 and last['val_seq_accuracy'] > 0.3
  assert last['train_loss'] < 0.6 * first['train_loss']
  assert [r['epoch'] for r in records] == list(range(1, 9))
  assert workdir_lib.read_metrics(str(tmp_path)) == records


def test_chunking_does_not_change_the_result(tmp_path):
  # 71 steps per epoch: one call of 71, or 11 calls of 7 with 6 padded steps that must be skipped.
  whole = train.train_and_evaluate(tiny_config(steps_per_call=1000), str(tmp_path / 'whole'))
  chunked = train.train_and_evaluate(tiny_config(steps_per_call=7), str(tmp_path / 'chunked'))
  for a, b in zip(without_timing(whole), without_timing(chunked)):
    assert a == pytest.approx(b, rel=1e-5, abs=1e-6)
  mngr = checkpoint.manager(str(tmp_path / 'chunked'), 3)
  config = tiny_config()
  state = train.init_state(config, models.from_config(config), train.create_optimizer(config))
  restored = checkpoint.restore_newest_intact(mngr, state).state
  assert int(restored['step']) == 2 * state_lib.steps_per_epoch(config) == 2 * 71


def test_resume_equals_an_uninterrupted_run(tmp_path):
  straight = train.train_and_evaluate(tiny_config(num_epochs=4), str(tmp_path / 'straight'))
  train.train_and_evaluate(tiny_config(num_epochs=2), str(tmp_path / 'resumed'))
  resumed = train.train_and_evaluate(tiny_config(num_epochs=4), str(tmp_path / 'resumed'))
  assert without_timing(resumed) == without_timing(straight)
  # elapsed_sec carries on across the resume.
  assert resumed[2]['elapsed_sec'] > resumed[1]['elapsed_sec']
  with open(tmp_path / 'resumed' / 'config.json') as f:
    assert json.load(f)['num_epochs'] == 4


def test_resume_refuses_a_different_config_and_keeps_the_workdir(tmp_path):
  train.train_and_evaluate(tiny_config(num_epochs=1), str(tmp_path))
  before = {name: (tmp_path / name).read_bytes() for name in ('config.json', 'metrics.jsonl')}
  with pytest.raises(config_lib.ConfigError, match=r'batch_size 64 -> 32'):
    train.train_and_evaluate(tiny_config(num_epochs=1, batch_size=32), str(tmp_path))
  assert {name: (tmp_path / name).read_bytes() for name in before} == before


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
  # Two good epochs, then a learning rate so large that the logits overflow within a few steps. The
  # learning rate is part of the run's identity, so the divergent run gets its own workdir, seeded with a
  # copy of the good run's files.
  good = tmp_path / 'good'
  train.train_and_evaluate(tiny_config(num_epochs=2), str(good))
  with pytest.raises(train.NonFiniteLossError, match=r'became (nan|inf) in epoch 1\b') as error:
    train.train_and_evaluate(tiny_config(num_epochs=3, learning_rate=1e37), str(tmp_path / 'diverges'))
  assert 'no checkpoint' in str(error.value)
  assert workdir_lib.read_metrics(str(tmp_path / 'diverges')) == []

  shutil.copytree(good, tmp_path / 'resumed')
  config = tiny_config(num_epochs=3, learning_rate=1e37)
  with open(tmp_path / 'resumed' / 'config.json', 'w') as f:
    json.dump(config.to_dict(), f)
  with pytest.raises(train.NonFiniteLossError, match=r'in epoch 3; .*epoch 2') as error:
    train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  assert [r['epoch'] for r in workdir_lib.read_metrics(str(tmp_path / 'resumed'))] == [1, 2]
  assert sorted(os.listdir(tmp_path / 'resumed' / 'checkpoints')) == ['1', '2']


def test_summary_reports_the_first_epoch_reaching_99_percent():
  records = [{'epoch': e, 'val_char_accuracy': c, 'val_seq_accuracy': s, 'elapsed_sec': 10.0 * e}
             for e, c, s in [(1, 0.5, 0.1), (2, 0.991, 0.95), (3, 0.995, 0.99)]]
  char_line, seq_line = report.summary_lines(records)
  assert 'epoch 2' in char_line and '20.0 s' in char_line
  assert 'epoch 3' in seq_line
  assert 'never' in report.summary_lines(records[:2])[1]


def test_swap_augment_shows_each_pair_as_drawn_or_swapped_by_a_coin_flip_per_epoch():
  queries, _ = data.generate(2_000, 3, seed=0)
  swapped = data.swap_operands(queries, reverse=True)
  augment = programs.make_swap_augment(sharding.data_mesh())
  epoch_1 = np.asarray(augment(queries, swapped, jax.random.key_data(rng.augment_key(0, 1))))
  as_drawn = (epoch_1 == queries).all(axis=1)
  as_swapped = (epoch_1 == swapped).all(axis=1)
  assert np.all(as_drawn | as_swapped)
  different = ~(queries == swapped).all(axis=1)  # "a+a" reads the same either way.
  assert 0.45 < as_swapped[different].mean() < 0.55
  again = np.asarray(augment(queries, swapped, jax.random.key_data(rng.augment_key(0, 1))))
  epoch_2 = np.asarray(augment(queries, swapped, jax.random.key_data(rng.augment_key(0, 2))))
  np.testing.assert_array_equal(again, epoch_1)  # (seed, epoch) decides, so a resumed run replays it.
  assert not np.array_equal(epoch_2, epoch_1)


def test_shift_augment_moves_0_to_all_leading_padding_after_each_query():
  queries, _ = data.generate(3_000, 3, seed=0)
  augment = programs.make_shift_augment(sharding.data_mesh())
  epoch_1 = np.asarray(augment(queries, jax.random.key_data(rng.shift_key(0, 1))))
  is_pad = queries == data.PAD_ID
  pads = np.argmax(~is_pad, axis=1)
  shifts = []
  for query, row, p in zip(queries, epoch_1, pads):
    chars = query[p:]
    k = np.argmax(row != data.PAD_ID)  # The padding kept in front.
    assert k <= p
    np.testing.assert_array_equal(row[k:k + len(chars)], chars)
    np.testing.assert_array_equal(row[k + len(chars):], data.PAD_ID)  # The rest after the query.
    shifts.append((p - k, p))
  shifts = np.array(shifts)
  padded = shifts[:, 1] > 0
  assert np.any(shifts[padded, 0] == 0) and np.any(shifts[padded, 0] == shifts[padded, 1])
  # Uniform over 0..p: the mean share moved is about half.
  assert 0.45 < np.mean(shifts[padded, 0] / shifts[padded, 1]) < 0.55
  again = np.asarray(augment(queries, jax.random.key_data(rng.shift_key(0, 1))))
  epoch_2 = np.asarray(augment(queries, jax.random.key_data(rng.shift_key(0, 2))))
  np.testing.assert_array_equal(again, epoch_1)  # (seed, epoch) decides, so a resumed run replays it.
  assert not np.array_equal(epoch_2, epoch_1)


def test_a_shift_augmented_run_learns_and_resumes_exactly(tmp_path):
  straight = train.train_and_evaluate(tiny_config(num_epochs=3, shift_augment=True), str(tmp_path / 'straight'))
  train.train_and_evaluate(tiny_config(num_epochs=2, shift_augment=True), str(tmp_path / 'resumed'))
  resumed = train.train_and_evaluate(tiny_config(num_epochs=3, shift_augment=True), str(tmp_path / 'resumed'))
  assert without_timing(resumed) == without_timing(straight)
  assert straight[-1]['train_loss'] < 0.8 * straight[0]['train_loss']
  plain = train.train_and_evaluate(tiny_config(num_epochs=1), str(tmp_path / 'plain'))
  assert plain[0]['train_loss'] != pytest.approx(straight[0]['train_loss'], rel=1e-6)  # The queries differ.


def test_sample_lines_write_reversed_answers_in_natural_order():
  queries, answers = data.generate(4, 3, reverse=True, seed=2, reverse_answer=True)
  predictions = answers.copy()
  predictions[1] = data.PAD_ID  # A wrong, empty answer.
  lines = report.sample_lines(queries, answers, predictions, True, 4, np.random.default_rng(0), reverse_answer=True)
  rows = np.random.default_rng(0).integers(0, 4, size=4)
  for line, row in zip(lines, rows):
    a, b = (int(x) for x in data.query_text(queries[row], reverse=True).split('+'))
    truth = line.split(' T ')[1].split()[0]
    assert truth == str(a + b)
    assert line.endswith(f'☑ {a + b}') if row != 1 else line.rstrip().endswith('☒')
