"""python -m addjax.split_seeds: a num_seeds run cut into lone runs that go on as if each had trained alone."""

import json
import shutil

import pytest

from addjax import config as config_lib
from addjax import split_seeds
from addjax import train
from addjax import workdir as workdir_lib
from conftest import run_module
from conftest import tiny_run_config
from conftest import tree


def two_seed_config(**overrides):
  """The config of conftest's two_seed_workdir, with these fields set."""
  config = tiny_run_config()
  config.num_seeds, config.num_epochs, config.hidden_size = 2, 2, 32
  for name, value in overrides.items():
    config[name] = value
  return config


@pytest.fixture
def two_seed_copy(two_seed_workdir, tmp_path):
  """A copy of the shared two-seed run: splitting takes its lock, which writes the lock file."""
  workdir = tmp_path / 'two_seeds'
  shutil.copytree(two_seed_workdir, workdir)
  return workdir


def test_each_lone_run_resumes_as_the_run_trained_alone_with_its_seed(two_seed_copy, tmp_path):
  before = {path: entry for path, entry in tree(two_seed_copy).items() if path != workdir_lib.LOCK_FILE}
  out = tmp_path / 'lone'
  assert split_seeds.split(str(two_seed_copy), str(out)) == [str(out / 'seed0'), str(out / 'seed1')]
  assert {path: entry for path, entry in tree(two_seed_copy).items() if path != workdir_lib.LOCK_FILE} == before
  assert sorted(p.name for p in out.iterdir()) == ['seed0', 'seed1']  # No temporary folder left.

  # Seed 1's folder is what a lone run with seed 1 writes: its config, its numbers of epochs 1-2.
  lone_config = two_seed_config(num_seeds=1, seed=1)
  stored = json.loads((out / 'seed1' / workdir_lib.CONFIG_FILE).read_text())
  assert stored == config_lib.with_seed(two_seed_config(), 1).to_dict() == lone_config.to_dict()
  run_records = workdir_lib.read_metrics(str(two_seed_copy))
  records = workdir_lib.read_metrics(str(out / 'seed1'))
  assert [r['val_loss'] for r in records] == [r['val_loss'][1] for r in run_records]
  assert records[-1]['examples_per_sec'] == pytest.approx(run_records[-1]['examples_per_sec'] / 2)

  # Resumed for a third epoch, it ends where the lone run of seed 1 trained straight for three ends; a fresh
  # start, or seed 0's state in seed 1's folder, would not.
  resumed = train.train_and_evaluate(two_seed_config(num_seeds=1, seed=1, num_epochs=3), str(out / 'seed1'))
  straight = train.train_and_evaluate(two_seed_config(num_seeds=1, seed=1, num_epochs=3), str(tmp_path / 'alone'))
  assert resumed[:2] == records
  for key in ('train_loss', 'val_loss'):
    assert resumed[2][key] == pytest.approx(straight[2][key], rel=1e-4), key
  other = train.train_and_evaluate(two_seed_config(num_seeds=1, seed=0, num_epochs=3), str(out / 'seed0'))
  assert other[2]['val_loss'] != pytest.approx(straight[2]['val_loss'], rel=1e-3)


@pytest.mark.parametrize('args, fragment', [
    ([], '--out is required'),
    (['--out={out}', '--step=7'], '--step 7: '),
    (['--out={out}', 'surplus'], 'unexpected arguments'),
    (['--out={taken}'], 'exists already'),
])
def test_bad_input_ends_in_one_line_and_exit_status_2(two_seed_copy, tmp_path, args, fragment):
  taken = tmp_path / 'taken'
  (taken / 'seed1').mkdir(parents=True)
  args = [arg.format(out=tmp_path / 'lone', taken=taken) for arg in args]
  result = run_module('split_seeds', f'--workdir={two_seed_copy}', *args)
  assert result.returncode == 2
  assert result.stderr.startswith('error: ') and fragment in result.stderr
  assert len(result.stderr.splitlines()) == 1
  assert not (tmp_path / 'lone').exists()
  assert sorted(p.name for p in taken.iterdir()) == ['seed1']  # seed0 not written either.


def test_a_lone_run_or_a_busy_one_is_refused(trained_workdir, two_seed_copy, tmp_path):
  result = run_module('split_seeds', f'--workdir={trained_workdir}', f'--out={tmp_path / "lone"}')
  assert result.returncode == 2 and 'nothing to split' in result.stderr
  with workdir_lib.lock(str(two_seed_copy)):
    result = run_module('split_seeds', f'--workdir={two_seed_copy}', f'--out={tmp_path / "lone"}')
  assert result.returncode == 2 and 'is in use by' in result.stderr
  assert len(result.stderr.splitlines()) == 1
  assert not (tmp_path / 'lone').exists()
