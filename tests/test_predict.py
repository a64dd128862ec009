"""predict: answers equal the model's own argmax, batching never changes them, bad input ends in one line."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from addjax import checkpoint
from addjax import config as config_lib
from addjax import data
from addjax import inference
from addjax import models
from addjax import train
from addjax import workdir as workdir_lib
from conftest import run_module, tree

# 64 problems: one batch of predict's, no padding.
GRID = [(a, b) for a in range(0, 96, 12) for b in range(3, 99, 12)]

PROBLEMS = ['12+34', ' 7 + 5 ', '99+99', '0+0', '07+9', '50+50', '3+88', '1+1']
ROOT = pathlib.Path(__file__).resolve().parent.parent
NORMALISED = ['12+34', '7+5', '99+99', '0+0', '7+9', '50+50', '3+88', '1+1']


@pytest.fixture(scope='module')
def expected(trained_workdir):
  """The answer to each of PROBLEMS computed without predict.py: restore, apply one query at a time, argmax."""
  workdir = str(trained_workdir)
  config = workdir_lib.read_config(workdir)
  model = models.from_config(config)
  mngr = checkpoint.manager(workdir, config.checkpoints_to_keep)
  target = jax.eval_shape(lambda: train.init_state(config, model, train.create_optimizer(config)))
  state = checkpoint.restore_newest_intact(mngr, target).state
  mngr.close()
  queries = np.stack([data.encode_query(*text.split('+'), config.digits, config.reverse) for text in NORMALISED])
  logits = jax.jit(model.apply)({'params': state['params']}, queries)  # 8 rows, no padding, no lax.map.
  return [data.answer_text(row) for row in np.asarray(logits).argmax(axis=-1)]


def test_arguments_are_answered_with_the_models_argmax(trained_workdir, expected):
  result = run_module('predict', f'--workdir={trained_workdir}', *PROBLEMS)
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines() == [f'{p}={answer}' for p, answer in zip(NORMALISED, expected)]


def test_stdin_and_json(trained_workdir, expected):
  # Blank lines are skipped; the answers are the same as for arguments.
  result = run_module('predict', f'--workdir={trained_workdir}', '--json', stdin='\n'.join(PROBLEMS) + '\n\n')
  assert result.returncode == 0, result.stderr
  output = json.loads(result.stdout)
  assert (output['workdir'], output['step'], output['model_seed'], output['digits']) == (
      str(trained_workdir), 12, 0, 2)
  assert output['predictions'] == [
      {'problem': p, 'prediction': answer, 'sum': str(eval(p)), 'correct': answer == str(eval(p))}
      for p, answer in zip(NORMALISED, expected)]


def test_padding_and_batching_do_not_change_answers_and_compile_once(trained_workdir, monkeypatch):
  run = inference.load(str(trained_workdir))
  problems = [(a, b) for a in range(0, 100, 9) for b in range(0, 100, 13)]  # 12 * 8 = 96
  queries = inference.encode(problems, run.config)
  together = run.predict_ids(queries)
  assert together.shape == (96, 3)
  # Counts 1..7 share the bucket of 8: one compilation, not one per count.
  for count in (1, 2, 3, 5, 7):
    np.testing.assert_array_equal(run.predict_ids(queries[:count]), together[:count])
  assert run.predict_fn._cache_size() == 2  # The bucket of 128 (96 queries) and the one of 8.
  # Past MAX_BATCH the queries go as several batches of one call: same answers.
  monkeypatch.setattr(inference, 'MAX_BATCH', 16)
  np.testing.assert_array_equal(run.predict_ids(queries), together)
  assert run.answers(problems[:3]) == [data.answer_text(row) for row in together[:3]]


def test_validation_accuracy_is_the_one_training_measured(trained_workdir):
  # The training code's own evaluation of the last checkpoint, against predict's restore, encoding and batching.
  run = inference.load(str(trained_workdir))
  splits = data.make_splits(run.config)
  seq_accuracy = (run.predict_ids(splits['val_queries']) == splits['val_answers']).all(axis=1).mean()
  measured = workdir_lib.read_metrics(str(trained_workdir))[-1]['val_seq_accuracy']
  assert seq_accuracy == pytest.approx(measured, abs=2 / 500)  # At most two near-ties may flip.
  assert seq_accuracy > 0.3


def test_batch_layout():
  assert inference.batch_layout(1) == (1, 8)
  assert inference.batch_layout(8) == (1, 8)
  assert inference.batch_layout(9) == (1, 16)
  assert inference.batch_layout(inference.MAX_BATCH) == (1, inference.MAX_BATCH)
  assert inference.batch_layout(2 * inference.MAX_BATCH + 1) == (3, inference.MAX_BATCH)


def test_step_selects_an_earlier_checkpoint(trained_workdir):
  first, last = inference.load(str(trained_workdir), step=10), inference.load(str(trained_workdir))
  assert (first.step, last.step) == (10, 12)
  assert not np.array_equal(first.params['output']['kernel'], last.params['output']['kernel'])


def test_a_checkpoint_that_does_not_fit_the_model_is_refused_in_one_line(trained_workdir, tmp_path):
  workdir = tmp_path / 'run'
  shutil.copytree(trained_workdir, workdir)
  config = json.loads((workdir / 'config.json').read_text())
  (workdir / 'config.json').write_text(json.dumps({**config, 'hidden_size': 32}))
  with pytest.raises(inference.InputError, match=r"checkpoint 12 does not fit .*\['decoder_0'\]\['bias'\]: "
                     r'shape \(256,\) in the checkpoint, shape \(128,\) here\); retrain the run'):
    inference.load(str(workdir))


def test_a_single_seed_run_accepts_its_own_seed_as_model_seed(trained_workdir):
  run = inference.load(str(trained_workdir), model_seed=0)
  assert run.model_seed == 0 and run.model_config.seed == 0 and run.config.num_seeds == 1
  with pytest.raises(inference.InputError, match=r'^--model_seed 1: .* trained seed 0 only; accepted: 0$'):
    inference.load(str(trained_workdir), model_seed=1)


def test_run_seeds_are_consecutive_from_the_configs_seed():
  config = config_lib.base_config()
  config.seed, config.num_seeds = 5, 3
  assert config_lib.run_seeds(config) == [5, 6, 7]


@pytest.fixture(scope='module')
def two_seed_expected(two_seed_workdir):
  """Of the num_seeds=2 run, without predict.py: each model's slice of the parameters, its answers to GRID."""
  workdir = str(two_seed_workdir)
  config = workdir_lib.read_config(workdir)
  model = models.from_config(config)
  mngr = checkpoint.manager(workdir, config.checkpoints_to_keep)
  state = checkpoint.restore_newest_intact(mngr).state  # As saved: every leaf [2, ...].
  mngr.close()
  queries = np.stack([data.encode_query(a, b, config.digits, config.reverse) for a, b in GRID])
  expected = {}
  for index, seed in enumerate(config_lib.run_seeds(config)):
    params = jax.tree.map(lambda leaf, index=index: np.asarray(leaf)[index], state['params'])
    logits = jax.jit(model.apply)({'params': params}, queries)
    expected[seed] = params, [data.answer_text(row) for row in np.asarray(logits).argmax(axis=-1)]
  return expected


def test_model_seed_selects_that_models_slice_of_every_parameter(two_seed_workdir, two_seed_expected):
  for seed in (0, 1):
    params, answers = two_seed_expected[seed]
    run = inference.load(str(two_seed_workdir), model_seed=seed)
    assert (run.model_seed, run.config.num_seeds, run.model_config.seed, run.step) == (seed, 2, seed, 2)
    jax.tree.map(np.testing.assert_array_equal, run.params, params)
    assert run.answers(GRID) == answers
  # Two models indeed: the slices differ, and so do their answers.
  (params_0, answers_0), (params_1, answers_1) = two_seed_expected[0], two_seed_expected[1]
  assert not np.array_equal(params_0['output']['kernel'], params_1['output']['kernel'])
  assert answers_0 != answers_1
  # No --model_seed: the first seed's model.
  default = inference.load(str(two_seed_workdir))
  assert default.model_seed == 0
  jax.tree.map(np.testing.assert_array_equal, default.params, two_seed_expected[0][0])


def test_the_command_line_answers_with_the_model_of_model_seed(two_seed_workdir, two_seed_expected):
  result = run_module('predict', f'--workdir={two_seed_workdir}', '--model_seed=1', '--json',
                      *[f'{a}+{b}' for a, b in GRID])
  assert result.returncode == 0, result.stderr
  output = json.loads(result.stdout)
  assert (output['model_seed'], output['step']) == (1, 2)
  assert [p['prediction'] for p in output['predictions']] == two_seed_expected[1][1]


def test_a_model_seed_the_run_did_not_train_ends_in_one_line(two_seed_workdir):
  before = tree(two_seed_workdir)
  result = run_module('predict', f'--workdir={two_seed_workdir}', '--model_seed=7', '1+2')
  assert (result.returncode, result.stdout) == (2, '')
  assert result.stderr == (f'error: --model_seed 7: {two_seed_workdir} trained seeds 0, 1; '
                           'accepted: one of them\n')
  assert tree(two_seed_workdir) == before


@pytest.mark.parametrize('num_seeds, fragment', [
    (3, r'checkpoint 2 does not hold the 3 models that config.json names \(num_seeds 3\): parameter '
        r"\['decoder_0'\]\['bias'\] has shape \(2, 128\), without a leading axis of 3$"),
    (1, r'checkpoint 2 holds 2 models on a leading axis, but config.json names one \(num_seeds 1\)'),
])
def test_a_seed_axis_that_is_not_num_seeds_is_named(two_seed_workdir, tmp_path, num_seeds, fragment):
  workdir = tmp_path / 'run'
  shutil.copytree(two_seed_workdir, workdir)
  config = json.loads((workdir / 'config.json').read_text())
  (workdir / 'config.json').write_text(json.dumps({**config, 'num_seeds': num_seeds}))
  with pytest.raises(inference.InputError, match=fragment):
    inference.load(str(workdir))


# (arguments, stdin, fragment of the one error line); W is the trained workdir, EMPTY an empty directory,
# MISSING a path that does not exist.
MALFORMED = [
    (['W', ''], None, "invalid problem ''"),
    (['W', '1+'], None, "invalid problem '1+'"),
    (['W', 'a+b'], None, "invalid problem 'a+b'"),
    (['W', '1+2+3'], None, "invalid problem '1+2+3'"),
    (['W', '-1+2'], None, "invalid problem '-1+2'"),
    (['W', '1.5+2'], None, "invalid problem '1.5+2'"),
    (['W', '\u0661+\u0662'], None, 'invalid problem'),  # Arabic-Indic digits.
    (['W', '\uff11+2'], None, 'invalid problem'),  # A full-width 1.
    (['W', '123+4'], None, "operand '123' has 3 digits; at most 2 are accepted"),
    (['W', '12+34', '5+'], None, "invalid problem '5+'"),  # One bad problem: no answers at all.
    (['W'], '1+2\n\n3+x\n', "stdin line 3: invalid problem '3+x'"),
    (['W'], '', 'no problems given'),
    (['MISSING', '1+2'], None, 'no such directory'),
    (['EMPTY', '1+2'], None, 'holds no trained run (no config.json)'),
    ([None, '1+2'], None, '--workdir is required'),
    (['W', '--step=7', '1+2'], None, '--step 7: {W} has no checkpoint of that step; accepted: 10, 11, 12'),
    (['W', '--step=x', '1+2'], None, '--step'),
    (['W', '--model_seed=1', '1+2'], None, '--model_seed 1: {W} trained seed 0 only; accepted: 0'),
    (['W', '--model_seed=-1', '1+2'], None, '--model_seed -1: {W} trained seed 0 only; accepted: 0'),
]


@pytest.mark.parametrize('args, stdin, fragment', MALFORMED)
def test_malformed_input_ends_in_one_line_and_exit_status_2(trained_workdir, tmp_path, args, stdin, fragment):
  (tmp_path / 'empty').mkdir()
  workdirs = {'W': trained_workdir, 'EMPTY': tmp_path / 'empty', 'MISSING': tmp_path / 'missing'}
  workdir, *rest = args
  before = tree(trained_workdir), tree(tmp_path)
  result = run_module('predict', *([f'--workdir={workdirs[workdir]}'] if workdir else []), *rest, stdin=stdin)
  assert result.returncode == 2
  assert result.stdout == ''
  assert result.stderr.startswith('error: ') and fragment.format(W=trained_workdir) in result.stderr, result.stderr
  assert len(result.stderr.splitlines()) == 1 and 'Traceback' not in result.stderr
  assert (tree(trained_workdir), tree(tmp_path)) == before  # Nothing written, nothing created.


def damage(checkpoint_dir):
  """Cuts every file of the checkpoint's state to half its size, as a copy cut short would."""
  for path in (checkpoint_dir / 'state').rglob('*'):
    if path.is_file() and path.stat().st_size > 1:
      with open(path, 'r+b') as f:
        f.truncate(path.stat().st_size // 2)


def test_a_damaged_checkpoint_is_passed_over_in_one_line_and_nothing_is_written(trained_workdir, tmp_path):
  workdir = tmp_path / 'run'
  shutil.copytree(trained_workdir, workdir)
  damage(workdir / 'checkpoints' / '12')
  before = tree(workdir)
  result = run_module('predict', f'--workdir={workdir}', '--json', *PROBLEMS)
  assert result.returncode == 0, result.stderr
  assert json.loads(result.stdout)['step'] == 11
  assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(
      f'note: {workdir}: checkpoint 12 cannot be read (')
  assert '; using checkpoint 11, the newest intact one' in result.stderr
  expected = run_module('predict', f'--workdir={trained_workdir}', '--step=11', '--json', *PROBLEMS)
  assert json.loads(result.stdout)['predictions'] == json.loads(expected.stdout)['predictions']
  assert tree(workdir) == before

  result = run_module('predict', f'--workdir={workdir}', '--step=12', '1+2')
  assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
  assert result.stderr.startswith(f'error: --workdir {workdir}: no checkpoint can be read (tried 12; the newest: ')
  for step in (10, 11):
    damage(workdir / 'checkpoints' / str(step))
  before = tree(workdir)
  result = run_module('predict', f'--workdir={workdir}', '1+2')
  assert result.returncode == 2 and len(result.stderr.splitlines()) == 1 and 'Traceback' not in result.stderr
  assert 'no checkpoint can be read (tried 12, 11, 10;' in result.stderr
  assert tree(workdir) == before  # A reader moves and deletes nothing.


def test_a_run_trained_over_two_devices_answers_in_a_one_device_process(tmp_path):
  """addjax.main splits a CPU into a device per core; predict, evaluate and the demo run on one device."""
  workdir = tmp_path / 'two_devices'
  env = {**os.environ, 'XLA_FLAGS': '--xla_force_host_platform_device_count=2', 'JAX_PLATFORMS': 'cpu'}
  trained = subprocess.run(
      [sys.executable, '-m', 'addjax.main', '--config', str(ROOT / 'configs' / 'two_digits.py'),
       f'--workdir={workdir}', '--config.hidden_size=32', '--config.num_epochs=1', '--config.batch_size=64',
       '--config.num_samples_to_print=0'], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert trained.returncode == 0, trained.stderr
  assert 'on 2 cpu device(s)' in trained.stdout
  result = run_module('predict', f'--workdir={workdir}', '12+34')
  assert result.returncode == 0, result.stderr
  assert re.fullmatch(r'12\+34=[0-9]{0,3}', result.stdout.strip()), result.stdout


def test_a_run_trained_on_reversed_answers_is_read_back_in_natural_order(tmp_path):
  """reverse_answer: the model writes 596 as "695 "; predict, evaluate and the samples say 596."""
  from conftest import tiny_run_config
  config = tiny_run_config()
  config.reverse_answer, config.num_epochs, config.num_samples_to_print = True, 4, 3
  records = train.train_and_evaluate(config, str(tmp_path))
  assert records[-1]['val_char_accuracy'] > 0.5  # It learnt the layout, not chance (1/12).
  run = inference.load(str(tmp_path))
  ids = run.predict_ids(inference.encode(GRID, run.config))
  natural = [data.answer_text(row, reverse_answer=True) for row in ids]
  assert any(text != text[::-1] for text in natural)  # Otherwise the order would not be tested.
  assert run.answers(GRID) == natural
  result = run_module('predict', f'--workdir={tmp_path}', '12+34', '50+50')
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines() == [f'12+34={run.answers([(12, 34)])[0]}', f'50+50={run.answers([(50, 50)])[0]}']
  # The model's right answers are right in natural order, not read the other way round.
  right = sum(text == str(a + b) for text, (a, b) in zip(natural, GRID))
  right_backwards = sum(text[::-1] == str(a + b) for text, (a, b) in zip(natural, GRID))
  assert right >= 8 and right > 2 * right_backwards
