"""Scaling out: many seeds in one program (num_seeds), many devices (data parallelism), many processes.

Forced CPU devices need a process of their own: XLA_FLAGS is read once, when JAX starts.
"""

import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from addjax import checkpoint
from addjax import config as config_lib
from addjax import data
from addjax import models
from addjax import programs
from addjax import report
from addjax import sharding
from addjax import state as state_lib
from addjax import train
from addjax import workdir as workdir_lib
from conftest import config_with

ROOT = pathlib.Path(__file__).resolve().parent.parent
TWO_DIGITS = str(ROOT / 'configs' / 'two_digits.py')
# The tolerance for "the same metrics": losses within 1e-3, accuracies within 0.01.
LOSS_TOLERANCE, ACCURACY_TOLERANCE = 1e-3, 0.01


def tiny_config(**overrides):
  """57 steps an epoch in 6 calls of 10: the last call has 3 all-padding steps, the last batch 8 examples."""
  return config_with(**{**dict(digits=2, training_size=2_000, hidden_size=32, batch_size=32, learning_rate=0.01,
                               num_epochs=2, steps_per_call=10, eval_batch_size=64, num_samples_to_print=1),
                        **overrides})


def tiny_flags(config=None):
  """tiny_config as command-line overrides of configs/two_digits.py."""
  config = tiny_config() if config is None else config
  fields = ('training_size', 'hidden_size', 'batch_size', 'learning_rate', 'num_epochs', 'steps_per_call',
            'eval_batch_size', 'num_samples_to_print', 'num_seeds')
  return ['--config', TWO_DIGITS] + [f'--config.{name}={config[name]}' for name in fields]


def assert_same_metrics(records, expected):
  """Equal epochs and keys; losses within 1e-3 and accuracies within 0.01 (per seed for lists)."""
  assert [r['epoch'] for r in records] == [r['epoch'] for r in expected]
  for record, want in zip(records, expected):
    assert set(record) == set(want)
    for key in want:
      if key.endswith('_loss'):
        assert record[key] == pytest.approx(want[key], abs=LOSS_TOLERANCE), key
      elif key.endswith('_accuracy'):
        assert record[key] == pytest.approx(want[key], abs=ACCURACY_TOLERANCE), key


def seed_of(records, index):
  """The records of seed `index` of a num_seeds run, as a lone run writes them."""
  return [{k: (v[index] if isinstance(v, list) else v) for k, v in r.items()} for r in records]


# ----------------------------------------------------------------------------------------------------------
# num_seeds: K models in one program.
# ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def three_seeds(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('three_seeds')
  return workdir, train.train_and_evaluate(tiny_config(num_seeds=3), str(workdir))


def test_num_seeds_writes_a_list_per_metric_and_each_seed_is_its_lone_run(three_seeds, tmp_path):
  workdir, records = three_seeds
  assert workdir_lib.read_metrics(str(workdir)) == records
  for record in records:
    for key, value in record.items():
      if key in train.RUN_KEYS:
        assert isinstance(value, (int, float)), key
      else:
        assert isinstance(value, list) and len(value) == 3 and all(isinstance(v, float) for v in value), key
  assert records[-1]['num_devices'] == 1
  # The seeds differ: each has its own data, initialisation and shuffles.
  assert len(set(records[-1]['train_loss'])) == 3

  lone = train.train_and_evaluate(tiny_config(seed=2), str(tmp_path))
  assert_same_metrics(lone, seed_of(records, 2))
  assert lone[-1]['train_loss'] == pytest.approx(records[-1]['train_loss'][2], rel=1e-5)


def test_length_balanced_draws_of_a_num_seeds_run_are_each_seeds_lone_draws(tmp_path):
  records = train.train_and_evaluate(tiny_config(num_seeds=2, num_epochs=1, length_balance=0.7), str(tmp_path / 'k'))
  lone = train.train_and_evaluate(tiny_config(seed=1, num_epochs=1, length_balance=0.7), str(tmp_path / 'lone'))
  assert_same_metrics(lone, seed_of(records, 1))
  assert lone[-1]['train_loss'] == pytest.approx(records[-1]['train_loss'][1], rel=1e-5)


def test_a_num_seeds_run_resumes_exactly_and_refuses_another_num_seeds(three_seeds, tmp_path):
  straight_dir, straight = three_seeds
  # As if killed after epoch 2's line was written but before its checkpoint committed.
  workdir = tmp_path / 'resumed'
  shutil.copytree(straight_dir, workdir)
  shutil.rmtree(workdir / 'checkpoints' / '2')
  resumed = train.train_and_evaluate(tiny_config(num_seeds=3), str(workdir))
  timing = ('examples_per_sec', 'epoch_sec', 'elapsed_sec')
  assert ([{k: v for k, v in r.items() if k not in timing} for r in resumed]
          == [{k: v for k, v in r.items() if k not in timing} for r in straight])
  assert workdir_lib.read_metrics(str(workdir)) == resumed
  config = tiny_config(num_seeds=3)
  mngr = checkpoint.manager(str(workdir), 3)
  state = checkpoint.restore_newest_intact(mngr, abstract_state(config)).state
  mngr.close()
  assert state['step'].tolist() == [2 * 57] * 3  # The 3 padding steps of each epoch were skipped.
  with pytest.raises(config_lib.ConfigError, match=r'num_seeds 3 -> 2'):
    train.train_and_evaluate(tiny_config(num_seeds=2), str(workdir))


def abstract_state(config):
  """Shapes of the (num_seeds) train state, replicated on the default mesh: a restore target."""
  model, tx = models.from_config(config), train.create_optimizer(config)
  keys = jax.random.split(jax.random.key(0), config.num_seeds)
  shapes = jax.eval_shape(jax.vmap(lambda key: train.init_state(config, model, tx, key)), keys)
  everywhere = sharding.replicated(sharding.data_mesh())
  return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=everywhere), shapes)


def test_padding_steps_stay_one_cond_under_vmap():
  # The skip test reads the weights, which no seed owns, so vmap keeps a lax.cond rather than computing both
  # branches and selecting (the step counts above show that padding steps are skipped).
  config = tiny_config(num_seeds=2)
  model, tx = models.from_config(config), train.create_optimizer(config)
  mesh = sharding.data_mesh()
  state = abstract_state(config)
  splits = train.make_seed_splits(config)
  queries, answers = (jax.ShapeDtypeStruct(splits[name].shape, splits[name].dtype)
                      for name in ('train_queries', 'train_answers'))
  indices = jax.ShapeDtypeStruct((2, 1, 3, 32), jnp.int32)
  weights = jax.ShapeDtypeStruct((1, 3, 32), jnp.float32)
  train_chunk = train.make_train_chunk(model, tx, mesh, num_seeds=2)
  jaxpr = str(jax.make_jaxpr(train_chunk)(state, queries, answers, indices, weights, 0))
  assert 'cond[' in jaxpr


# ----------------------------------------------------------------------------------------------------------
# Devices and processes, each run in processes of its own, as a user runs them.
# ----------------------------------------------------------------------------------------------------------
def launch(args, num_cpu_devices, workdir):
  env = {**os.environ, 'JAX_PLATFORMS': 'cpu',
         'XLA_FLAGS': f'--xla_force_host_platform_device_count={num_cpu_devices}'}
  return subprocess.Popen([sys.executable, '-m', 'addjax.main', *args, f'--workdir={workdir}'], cwd=ROOT,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process):
  stdout, stderr = process.communicate(timeout=300)
  assert process.returncode == 0, stderr
  return stdout


def free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def metrics(workdir):
  with open(workdir / 'metrics.jsonl') as f:
    return [json.loads(line) for line in f]


@pytest.fixture(scope='module')
def device_runs(tmp_path_factory):
  """The same config on 1 device, on 4 forced CPU devices, and in 2 processes of 2 devices each."""
  root = tmp_path_factory.mktemp('devices')
  flags = tiny_flags(tiny_config(num_epochs=1))
  address = f'--coordinator_address=127.0.0.1:{free_port()}'
  processes = {
      'one': launch(flags, 1, root / 'one'),
      'four': launch(flags, 4, root / 'four'),
      'process_0': launch(flags + [address, '--num_processes=2', '--process_id=0'], 2, root / 'two_by_two'),
      'process_1': launch(flags + [address, '--num_processes=2', '--process_id=1'], 2, root / 'two_by_two'),
  }
  try:
    outputs = {name: finish(process) for name, process in processes.items()}
  finally:  # One failed process must not leave its partner waiting for it.
    for process in processes.values():
      if process.poll() is None:
        process.kill()
        process.wait()
  return root, outputs


def test_one_device_four_devices_and_two_processes_give_the_same_metrics(device_runs):
  root, outputs = device_runs
  one, four, two_by_two = (metrics(root / name) for name in ('one', 'four', 'two_by_two'))
  assert [r['num_devices'] for r in one + four + two_by_two] == [1, 4, 4]
  assert_same_metrics(four, one)
  assert_same_metrics(two_by_two, one)
  assert 'on 4 cpu device(s) in 2 processes' in outputs['process_0']
  # Process 0 alone prints and writes; process 1 computes and checkpoints with it.
  assert 'epoch 1/1' in outputs['process_0'] and 'epoch' not in outputs['process_1']


def test_a_checkpoint_written_by_two_processes_restores_in_one(device_runs):
  root, _ = device_runs
  config = tiny_config(num_epochs=1)
  model, tx = models.from_config(config), train.create_optimizer(config)
  target = state_lib.create_state(config, model, tx, sharding.data_mesh())
  states = {}
  for name in ('one', 'two_by_two'):
    mngr = checkpoint.manager(str(root / name), 3)
    restored = checkpoint.restore_newest_intact(mngr, target)
    epoch, states[name], meta = restored.step, restored.state, restored.meta
    mngr.close()
    assert (epoch, meta['epoch']) == (1, 1)
  assert int(states['two_by_two']['step']) == 57
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-4), states['two_by_two']['params'],
               states['one']['params'])


@pytest.mark.parametrize('args, num_cpu_devices, fragment', [
    (['--config.batch_size=30'], 4, 'config.batch_size=30 is not accepted: expected a multiple of 4'),
    (['--num_processes=2', '--process_id=2', '--coordinator_address=127.0.0.1:1'], 1,
     '--process_id=2 is not accepted: expected 0 .. 1'),
    (['--coordinator_address=nowhere', '--num_processes=2', '--process_id=0'], 1, 'expected host:port'),
    (['--config.num_seeds=0'], 1, 'config.num_seeds=0'),
])
def test_bad_device_and_process_settings_end_in_one_line_and_exit_status_2(tmp_path, args, num_cpu_devices,
                                                                          fragment):
  process = launch(tiny_flags() + args, num_cpu_devices, tmp_path / 'w')
  stdout, stderr = process.communicate(timeout=120)
  assert process.returncode == 2
  assert stderr.startswith('error: ') and fragment in stderr, stderr
  assert len(stderr.strip().splitlines()) == 1 and 'Traceback' not in stderr
  assert not (tmp_path / 'w').exists()


# ----------------------------------------------------------------------------------------------------------
# Small pieces.
# ----------------------------------------------------------------------------------------------------------
def test_validate_wants_a_batch_that_splits_evenly_over_the_devices():
  config = tiny_config()
  config_lib.validate(config, num_devices=4)
  config.batch_size = 30
  with pytest.raises(config_lib.ConfigError, match=r'config.batch_size=30 .* a multiple of 4'):
    config_lib.validate(config, num_devices=4)
  config_lib.validate(config, num_devices=2)


def test_batch_for_eval_rounds_batches_up_to_a_multiple_of_the_devices():
  queries, answers = np.arange(10).reshape(5, 2), np.arange(5).reshape(5, 1)
  q, a, w = programs.batch_for_eval(queries, answers, batch_size=64, multiple_of=4)
  assert q.shape == (1, 8, 2) and a.shape == (1, 8, 1) and w.tolist() == [[1] * 5 + [0] * 3]
  q, _, w = programs.batch_for_eval(queries, answers, batch_size=3, multiple_of=2)
  assert q.shape == (2, 4, 2) and w.sum() == 5


def test_seeds_have_the_data_of_their_lone_runs():
  splits = train.make_seed_splits(tiny_config(seed=5, num_seeds=2))
  for name, array in data.make_splits(tiny_config(seed=6)).items():
    np.testing.assert_array_equal(splits[name][1], array)


def test_summary_of_several_seeds_gives_mean_spread_and_each_seeds_first_epoch():
  records = [{'epoch': e, 'val_char_accuracy': c, 'val_seq_accuracy': s, 'elapsed_sec': 10.0 * e}
             for e, c, s in [(1, [0.5, 0.6], [0.1, 0.2]), (2, [0.991, 0.98], [0.95, 0.96])]]
  char_line, seq_line = report.summary_lines(records)
  assert char_line.startswith('val char accuracy at epoch 2 over 2 seeds: 0.9855 ± 0.0078')
  assert '1 of 2 seeds reached 0.99, first at epochs 2, never' in char_line
  assert '0 of 2 seeds reached 0.99' in seq_line
  assert programs.means({'loss': np.array([2.0, 3.0]), 'char_correct': np.array([1.0, 2.0]),
                      'seq_correct': np.array([0.0, 1.0]), 'count': np.array([2.0, 4.0])}, 'val') == {
                          'val_loss': [1.0, 0.75], 'val_char_accuracy': [0.5, 0.5], 'val_seq_accuracy': [0.0, 0.25]}


def test_a_workdir_from_before_num_seeds_resumes(tmp_path):
  config = tiny_config()
  stored = config.to_dict()
  del stored['num_seeds']
  (tmp_path / 'config.json').write_text(json.dumps(stored))
  workdir_lib.prepare(str(tmp_path), config)
  assert json.loads((tmp_path / 'config.json').read_text())['num_seeds'] == 1
