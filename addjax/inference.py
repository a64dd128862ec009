"""A trained run, loaded to answer: its config, one model's parameters at one checkpoint, a compiled predict.

What predict, evaluate and demo share: reading and checking a workdir before any compute (read_config,
model_index, parse_problems), load() with a fall-back to the newest intact checkpoint, the Run that answers,
and the flags that name it (--workdir, --step, --model_seed).

A run trained with --config.num_seeds=K holds K models, those of seeds config.seed .. config.seed + K - 1;
--model_seed picks the one that answers (default: the first, config.seed).
"""

import dataclasses
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from absl import flags
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from addjax import checkpoint
from addjax import cli
from addjax import config as config_lib
from addjax import data
from addjax import models
from addjax import state as state_lib
from addjax import workdir as workdir_lib

FLAGS = flags.FLAGS

ACCEPTED_WORKDIR = 'a workdir written by python -m addjax.main (config.json and checkpoints/)'

# Batches are padded to a power of two from MIN_BATCH up to MAX_BATCH (then several MAX_BATCH batches in one
# call), so a handful of problems compiles once, not once per count.
MIN_BATCH = 8
MAX_BATCH = 4096


class InputError(ValueError):
  """A problem, workdir, step or model seed that cannot be used; one line naming it and what is accepted."""


# ----------------------------------------------------------------------------------------------------------
# Checking the input: no checkpoint needed.
# ----------------------------------------------------------------------------------------------------------
def read_config(workdir: str | None) -> ml_collections.ConfigDict:
  """The run's config.json over base_config(): a field added since the run was trained has its default."""
  if not workdir:
    raise InputError(f'--workdir is required; accepted: {ACCEPTED_WORKDIR}')
  if not os.path.isdir(workdir):
    raise InputError(f'--workdir {workdir}: no such directory; accepted: {ACCEPTED_WORKDIR}')
  if not os.path.isfile(os.path.join(workdir, workdir_lib.CONFIG_FILE)):
    raise InputError(f'--workdir {workdir} holds no trained run (no {workdir_lib.CONFIG_FILE}); '
                     f'accepted: {ACCEPTED_WORKDIR}')
  try:
    config = workdir_lib.read_config(workdir)
    config_lib.validate(config)
  except (OSError, ValueError, TypeError, AttributeError) as e:
    raise InputError(f'--workdir {workdir}: cannot read {workdir_lib.CONFIG_FILE}: {cli.one_line(e)}') from None
  return config


def model_index(workdir: str, config: ml_collections.ConfigDict, model_seed: int | None) -> int:
  """The index of model_seed's model (None: the run's first) on the run's seed axis; InputError if none."""
  seeds = config_lib.run_seeds(config)
  if model_seed is None:
    return 0
  if model_seed in seeds:
    return seeds.index(model_seed)
  if len(seeds) == 1:
    raise InputError(f'--model_seed {model_seed}: {workdir} trained seed {seeds[0]} only; '
                     f'accepted: {seeds[0]}')
  # Seeds are consecutive: a long run of them reads better as a range.
  named = ', '.join(map(str, seeds)) if len(seeds) <= 8 else f'{seeds[0]} to {seeds[-1]}'
  raise InputError(f'--model_seed {model_seed}: {workdir} trained seeds {named}; accepted: one of them')


def parse_problems(texts: Sequence[str], digits: int,
                   sources: Sequence[str] | None = None) -> list[tuple[int, int]]:
  """Operands of each "a+b" (see data.parse_problem); the first bad one raises InputError.

  sources, when given, name where each text came from (e.g. 'stdin line 3') in the message.
  """
  if not texts:
    raise InputError("no problems given; accepted: 'a+b' arguments, or one per line on stdin, e.g. '535+61'")
  problems = []
  for i, text in enumerate(texts):
    try:
      problems.append(data.parse_problem(text, digits))
    except ValueError as e:
      raise InputError(f'{sources[i]}: {e}' if sources else str(e)) from None
  return problems


def encode(problems: Sequence[tuple[int, int]], config: ml_collections.ConfigDict) -> np.ndarray:
  """Query token ids [n, 2*digits+1], laid out as in training."""
  width = data.query_length(config.digits)
  rows = [data.encode_query(a, b, config.digits, config.reverse) for a, b in problems]
  return np.stack(rows) if rows else np.zeros((0, width), np.uint8)


def batch_layout(num_queries: int) -> tuple[int, int]:
  """(num_batches, batch_size) covering num_queries; batch_size is a power of two in [MIN_BATCH, MAX_BATCH]."""
  batch_size = min(MAX_BATCH, max(MIN_BATCH, 1 << max(num_queries - 1, 0).bit_length()))
  return max(1, math.ceil(num_queries / batch_size)), batch_size


def record(problem: tuple[int, int], prediction: str) -> dict[str, Any]:
  """One answer for --json and the demo; numbers as text, as JSON readers round a 21-digit sum."""
  a, b = problem
  total = str(a + b)
  return {'problem': f'{a}+{b}', 'prediction': prediction, 'sum': total, 'correct': prediction == total}


# ----------------------------------------------------------------------------------------------------------
# The model.
# ----------------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Run:
  """A trained run's config and the parameters of one of its models at one checkpoint, ready to answer."""
  workdir: str
  config: ml_collections.ConfigDict  # The run's, as config.json has it: num_seeds is the run's.
  step: int
  model_seed: int  # The seed of the model that answers: one of config_lib.run_seeds(config).
  params: Any  # That model's alone, without the seed axis of a num_seeds run.
  predict_fn: Callable  # Jitted: (params, query ids [batches, batch, width]) -> answer ids, likewise.

  note: str | None = None  # One line when newer checkpoints could not be read and this one answers instead.

  @property
  def model_config(self) -> ml_collections.ConfigDict:
    """config as the lone run with model_seed: its data set (data.make_splits) is the one this model saw."""
    return config_lib.with_seed(self.config, self.model_seed)

  def predict_ids(self, queries: np.ndarray) -> np.ndarray:
    """The argmax answer ids [n, digits+1] of query ids [n, 2*digits+1], in one compiled call."""
    queries = np.asarray(queries, np.uint8)
    n = len(queries)
    num_batches, batch_size = batch_layout(n)
    padded = np.full((num_batches * batch_size, queries.shape[1]), data.PAD_ID, np.uint8)
    padded[:n] = queries
    ids = self.predict_fn(self.params, padded.reshape(num_batches, batch_size, -1))
    return np.asarray(ids).reshape(num_batches * batch_size, -1)[:n]

  def answers(self, problems: Sequence[tuple[int, int]]) -> list[str]:
    """The model's answer to each (a, b), padding stripped, e.g. '596'."""
    ids = self.predict_ids(encode(problems, self.config))
    return [data.answer_text(row, self.config.reverse_answer) for row in ids]


def restore_checkpoint(workdir: str, config: ml_collections.ConfigDict,
                       step: int | None = None) -> checkpoint.Restored:
  """The newest intact checkpoint of workdir (or the one of `step`), as saved, on this process's first device.

  Restored without a target of ours: a caller that reads only the parameters still gets them from a run
  whose optimiser state was laid out otherwise, from whichever devices it was trained on.

  Args:
    workdir: a run's directory, written by python -m addjax.main.
    config: the run's config (read_config).
    step: the checkpoint (epoch) to restore; None: the newest that can be read.

  Returns:
    The restored checkpoint: its step, state and the newer ones passed over.

  Raises:
    InputError: no checkpoint yet, no checkpoint of `step`, or none that can be read.
  """
  no_checkpoint = (f'--workdir {workdir} has no checkpoint yet; accepted: {ACCEPTED_WORKDIR} '
                   'after at least one epoch')
  if not os.path.isdir(os.path.join(workdir, workdir_lib.CHECKPOINT_DIR)):
    raise InputError(no_checkpoint)
  mngr = checkpoint.manager(workdir, config.checkpoints_to_keep, read_only=True)
  try:
    steps = sorted(mngr.all_steps())
    if not steps:
      raise InputError(no_checkpoint)
    if step is not None and step not in steps:
      raise InputError(f'--step {step}: {workdir} has no checkpoint of that step; accepted: '
                       f'{", ".join(map(str, steps))}')
    try:
      return checkpoint.restore_newest_intact(mngr, steps=steps if step is None else [step],
                                              onto=jax.sharding.SingleDeviceSharding(jax.local_devices()[0]))
    except checkpoint.NoIntactCheckpointError as e:
      raise InputError(f'--workdir {workdir}: {e}') from None
  finally:
    mngr.close()


def load(workdir: str, step: int | None = None, config: ml_collections.ConfigDict | None = None,
         model_seed: int | None = None) -> Run:
  """The model of model_seed at the newest intact checkpoint of workdir, or at the one of `step`.

  Checks the workdir, the step and the model seed before it reads any checkpoint. A newer checkpoint that
  cannot be read is passed over and named in Run.note. Of a num_seeds run, the model of model_seed answers:
  its slice of every parameter's leading seed axis.

  Args:
    workdir: a run's directory, written by python -m addjax.main.
    step: the checkpoint (epoch) to use; None: the newest that can be read.
    config: the run's config when the caller has read it already (read_config).
    model_seed: which model of a num_seeds run answers; None: the first, config.seed.

  Returns:
    The Run, ready to answer.

  Raises:
    InputError: no such workdir, step or model seed; no checkpoint that can be read; or one that does not fit
      the model.
  """
  config = config if config is not None else read_config(workdir)
  index = model_index(workdir, config, model_seed)
  restored = restore_checkpoint(workdir, config, step)
  step, params = restored.step, restored.state['params']

  model = models.from_config(config)
  # Shapes only: initialising the parameters for real would cost seconds of op-by-op compute.
  expected = jax.eval_shape(lambda: state_lib.init_state(config, model, state_lib.create_optimizer(config)))
  expected = expected['params']

  def shapes(tree):
    return {jax.tree_util.keystr(path): tuple(leaf.shape)
            for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}

  found, wanted = shapes(params), shapes(expected)
  if config.num_seeds > 1:
    # Every parameter carries the seed axis first; what is under it must then fit one model, as a lone run's.
    unstacked = [name for name in sorted(found) if found[name][:1] != (config.num_seeds,)]
    if unstacked:
      raise InputError(f'--workdir {workdir}: checkpoint {step} does not hold the {config.num_seeds} models '
                       f'that config.json names (num_seeds {config.num_seeds}): parameter {unstacked[0]} has '
                       f'shape {found[unstacked[0]]}, without a leading axis of {config.num_seeds}')
    params = jax.tree.map(lambda leaf: leaf[index], params)
    found = {name: shape[1:] for name, shape in found.items()}
  else:
    stacked = _stacked_models(found, wanted)
    if stacked:
      raise InputError(f'--workdir {workdir}: checkpoint {step} holds {stacked} models on a leading axis, '
                       'but config.json names one (num_seeds 1); restore its num_seeds or retrain the run')
  mismatch = _first_mismatch(found, wanted)
  if mismatch:
    raise InputError(f'--workdir {workdir}: checkpoint {step} does not fit this version of the model '
                     f'({mismatch}); retrain the run')

  def predict_fn(params, queries):
    def one_batch(batch):
      return jnp.argmax(model.apply({'params': params}, batch), axis=-1).astype(jnp.uint8)
    return jax.lax.map(one_batch, queries)

  return Run(workdir=workdir, config=config, step=int(step), model_seed=config_lib.run_seeds(config)[index],
             params=params, predict_fn=jax.jit(predict_fn), note=restored.note(workdir))


def _stacked_models(found: dict[str, tuple[int, ...]], wanted: dict[str, tuple[int, ...]]) -> int | None:
  """K when every parameter of the checkpoint is the model's with a leading axis of K > 1; None otherwise."""
  if not found or found.keys() != wanted.keys():
    return None
  sizes = {found[name][0] if found[name] else None for name in found}
  if len(sizes) != 1 or any(found[name][1:] != wanted[name] for name in found):
    return None
  size = sizes.pop()
  return size if size is not None and size > 1 else None


def _first_mismatch(found: dict[str, tuple[int, ...]], wanted: dict[str, tuple[int, ...]]) -> str | None:
  """The first parameter (name -> shape) that the checkpoint and the model disagree on; None when all fit."""
  def described(shape):
    return 'missing' if shape is None else f'shape {shape}'

  for name in sorted(found.keys() | wanted.keys()):
    if found.get(name) != wanted.get(name):
      return (f'parameter {name}: {described(found.get(name))} in the checkpoint, '
              f'{described(wanted.get(name))} here')
  return None


_NEGATIVE = re.compile(r'-[^-A-Za-z]')  # "-1+2" reads as an unknown flag to absl; it is a bad problem.


def parse_flags(argv: list[str]) -> list[str]:
  """absl's parse, with every failure turned into usage_error's one line."""
  try:
    return FLAGS(argv)
  except flags.Error as e:
    for arg in argv[1:]:
      if _NEGATIVE.match(arg):
        cli.usage_error(f"invalid problem {arg!r}: expected 'a+b' where a and b are non-negative integers "
                        "written with digits 0-9, e.g. '535+61'")
    cli.usage_error(cli.one_line(e))


def define_run_flags() -> None:
  """--workdir, --step and --model_seed: which model answers, the same for predict, evaluate and demo."""
  flags.DEFINE_string('workdir', None, 'A run trained by python -m addjax.main.')
  flags.DEFINE_integer('step', None, 'Checkpoint (epoch) to use; default: the newest that can be read.',
                       lower_bound=0)
  # No lower bound: a seed the run did not train, negative or not, gets load's line naming the ones it did.
  flags.DEFINE_integer('model_seed', None, 'Which model of a run trained with --config.num_seeds=K answers: '
                       'its seed, one of config.seed .. config.seed + K - 1; default: config.seed.')


def load_from_flags(model_overrides: dict[str, Any] | None = None) -> Run:
  """The Run that --workdir, --step and --model_seed name; a bad one ends the command in one line (exit 2).

  Also quiets the logs (cli.quiet_logs) and says in one line on stderr when a newer checkpoint could not be
  read.

  Args:
    model_overrides: config fields to set over the run's before its model is built, e.g.
      {'encoder_lead_in': 5}: fields that change how the model is applied, not its parameters' shapes.
  """
  cli.quiet_logs()
  try:
    config = read_config(FLAGS.workdir)
    config.update(model_overrides or {})
    run = load(FLAGS.workdir, FLAGS.step, config=config, model_seed=FLAGS.model_seed)
  except InputError as e:
    cli.usage_error(str(e))
  say_note(run)
  return run


def say_note(run: Run) -> None:
  """Run.note, when there is one, as one line on stderr."""
  if run.note:
    print(f'note: {run.note}', file=sys.stderr)
