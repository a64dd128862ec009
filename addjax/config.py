"""Every config field with its default, and the checks that reject impossible values before any compute."""

import math

import ml_collections

from addjax import data


class ConfigError(ValueError):
  """A config value a user gave that cannot work; the message names the field and what is accepted."""


def base_config() -> ml_collections.ConfigDict:
  """The seed's settings: reversed 3-digit queries, one LSTM(128) decoder layer, Adam 1e-3, batch 32."""
  config = ml_collections.ConfigDict()

  # Data: the seed's names, lower-cased. data.VAL_FRACTION of training_size is held out for validation.
  config.digits = 3
  config.training_size = 50_000
  config.reverse = True
  # Write each answer least significant digit first ("695 " for 596; not in the seed): see addjax.data.
  config.reverse_answer = False
  # Show each training pair as drawn ("a+b") or swapped ("b+a"), a coin flip per example and epoch. The same
  # pairs, never a validation one: an augmentation, not more data.
  config.swap_augment = False
  # Show each training query with a random number of its leading padding characters, 0 to all of them
  # (uniformly, per example and epoch), moved after its last character (not in the seed; reversed queries
  # only): the same problems, started at other steps of the encoder, whose output is then its state after
  # the query's last character (AdditionLSTM.last_char_readout). Validation and answering read the queries
  # as the seed lays them out.
  config.shift_augment = False
  # The share of each epoch's draws spread evenly over the training queries' counts of digits together (not
  # in the seed; 0: every example once per epoch, shuffled). Above 0 an epoch is as many draws, with
  # replacement, each by data.length_balanced_probabilities: the rare longest (and shortest) sums are shown
  # more often, the others less; the same examples, and the training metrics are those of the draws.
  config.length_balance = 0.0

  # Model.
  config.hidden_size = 128
  config.num_layers = 1  # Decoder LSTM layers; the encoder is always one layer.
  # 'fused': the recurrence with a custom VJP (dU in one matmul after the backward loop); 'scan': plain
  # nn.scan with autodiff. The same function and parameters; fused is faster.
  config.lstm_impl = 'fused'
  config.scan_unroll = 1  # Time steps per iteration of the compiled loop.
  # The LSTMs' matmul inputs: 'float32', or 'bfloat16' (mixed precision: float32 accumulation, parameters,
  # gates and optimiser; faster at large batch on CPUs with AMX, and on GPUs and TPUs).
  config.matmul_dtype = 'float32'
  # The LSTMs' bias at initialisation: 'keras' (zeros, forget gate 1, as the seed), 'chrono' (forget gates
  # drawn to keep memories over the layer's whole sequence, input gates their opposite) or 'chrono_forget'
  # (chrono's forget gates, Keras' input gates); see addjax.models.chrono_lstm_bias_init.
  config.lstm_bias_init = 'keras'
  # The encoder's bias at initialisation where it differs from lstm_bias_init ('' : the same).
  config.encoder_bias_init = ''
  # Of each layer a chrono initialisation applies to, the fraction of its units that get chrono's biases (the
  # rest Keras').
  config.chrono_fraction = 1.0
  # Of a chrono initialisation, the longest memory it draws, in multiples of the layer's steps (chrono's T_max;
  # 1: the layer's whole sequence).
  config.chrono_span = 1.0
  # Each decoder layer after the first adds its input to its output (not in the seed): the same parameters,
  # and a gradient path past the upper layers (what lets five layers learn 21 digits here; see
  # configs/twentyone_digits_fast.py).
  config.decoder_residual = False
  # Padding characters the encoder reads before every query (not in the seed; 0 is the seed's model). The
  # same parameters and data; see AdditionLSTM.lead_in.
  config.encoder_lead_in = 0
  # A second encoder LSTM reading the query backwards, its last state concatenated to the forward one's (not
  # in the seed): the decoder is given 2 * hidden_size features. See AdditionLSTM.bidirectional.
  config.encoder_bidirectional = False
  # The encoder reads each query without its padding (not in the seed): every query's first character is read
  # from the same state. The same parameters and data; see AdditionLSTM.skip_padding.
  config.encoder_skip_padding = False
  # Characters the encoder reads per step (not in the seed: 1): with k, a query takes 1/k of the steps and
  # the encoder's input kernel has k * vocabulary rows. See AdditionLSTM.chars_per_step.
  config.encoder_chars_per_step = 1

  # Optimisation. Keras' Adam defaults (epsilon 1e-7) so the reproduction optimises as the seed did.
  config.batch_size = 32
  config.num_epochs = 100
  config.learning_rate = 1e-3
  config.lr_schedule = 'constant'  # 'constant' or 'cosine' (decays to 0 at the last step).
  config.warmup_steps = 0  # Linear warm-up from 0, before either schedule.
  config.grad_clip_norm = 0.0  # Clip the global gradient norm to this; 0 turns clipping off.
  config.adam_b1 = 0.9
  config.adam_b2 = 0.999
  config.adam_eps = 1e-7

  config.seed = 0
  # Independent models trained at once in one compiled program (jax.vmap): model i has seed + i, and its own
  # data set, initialisation and shuffles, exactly those of a lone run with seed + i. With num_seeds > 1 each
  # metric in metrics.jsonl is a list with one number per seed.
  config.num_seeds = 1

  # Execution: these change how fast the run goes, never what it computes.
  config.steps_per_call = 500  # Training steps in one compiled call; the progress bar moves once per call.
  # Examples each device differentiates at once: a device's share of a batch larger than this is taken in
  # slices of this many, their gradients summed before the step's one update (the same update, up to the
  # order of float additions). 0: chosen for the device (programs.microbatch_for: slices of 16-32 on a
  # CPU, whose cache then holds each time step's temporaries; the whole share on an accelerator); the
  # batch size or more: the whole share at once.
  config.microbatch_size = 0
  config.eval_batch_size = 2048
  config.num_samples_to_print = 10
  config.checkpoints_to_keep = 3
  return config


# Fields that may differ when a run resumes: they change how fast the run goes, not what it computes (up to
# float rounding), or how long it goes on.
RESUMABLE_FIELDS = frozenset({'num_epochs', 'steps_per_call', 'eval_batch_size', 'num_samples_to_print',
                              'checkpoints_to_keep', 'scan_unroll', 'microbatch_size'})

_SCHEDULES = ('constant', 'cosine')
LSTM_IMPLS = ('fused', 'scan')  # See addjax.models.
MATMUL_DTYPES = ('float32', 'bfloat16')
BIAS_INITS = ('keras', 'chrono', 'chrono_forget')  # addjax.models.BIAS_INITS' keys.


def run_seeds(config: ml_collections.ConfigDict) -> list[int]:
  """The seed of each model of the run, in the order of its leading axis: seed, ..., seed + num_seeds - 1."""
  return [config.seed + i for i in range(config.num_seeds)]


def with_seed(config: ml_collections.ConfigDict, seed: int) -> ml_collections.ConfigDict:
  """config as a lone run with this seed: model `seed` of a num_seeds run is trained exactly as that run."""
  config = config.copy_and_resolve_references()
  config.seed = seed
  config.num_seeds = 1
  return config


def validate(config: ml_collections.ConfigDict, num_devices: int = 1) -> None:
  """Raises ConfigError naming the first field whose value cannot work, and what is accepted.

  num_devices: the devices (of all processes) that each batch is split over; batch_size must divide evenly.
  """
  defaults = base_config()
  known = set(defaults.keys())
  unknown = sorted(set(config.keys()) - known)
  if unknown:
    raise ConfigError(f'unknown config field {unknown[0]!r}; known fields: {", ".join(sorted(known))}')
  missing = sorted(known - set(config.keys()))
  if missing:
    raise ConfigError(f'config lacks field {missing[0]!r}; build configs on addjax.config.base_config()')

  # bool is an int in Python, but digits=True is a mistake, not a 1.
  for name in sorted(known):
    value, default = config[name], defaults[name]
    if isinstance(default, bool):
      _require(config, name, isinstance(value, bool), 'true or false')
    elif isinstance(default, int):
      _require(config, name, isinstance(value, int) and not isinstance(value, bool), 'an integer')
    elif isinstance(default, float):
      _require(config, name, isinstance(value, (int, float)) and not isinstance(value, bool), 'a number')
    else:
      _require(config, name, isinstance(value, str), 'a string')

  for name in ('digits', 'hidden_size', 'num_layers', 'num_epochs', 'steps_per_call', 'eval_batch_size',
               'checkpoints_to_keep', 'batch_size', 'scan_unroll', 'num_seeds', 'encoder_chars_per_step'):
    _require(config, name, config[name] >= 1, 'an integer >= 1')
  for name in ('warmup_steps', 'seed', 'num_samples_to_print', 'microbatch_size', 'encoder_lead_in'):
    _require(config, name, config[name] >= 0, 'an integer >= 0')

  pairs = data.num_unique_pairs(config.digits)
  smallest = math.ceil(1 / data.VAL_FRACTION)
  split = f'the {float(data.VAL_FRACTION):.0%} validation split'
  _require(config, 'training_size', smallest <= config.training_size <= pairs,
           f'{smallest} .. {pairs:,} (the unordered pairs of numbers of up to {config.digits} digits; '
           f'at least {smallest} so that {split} is not empty)')
  num_train = data.num_training_examples(config.training_size)
  _require(config, 'batch_size', config.batch_size <= num_train,
           f'1 .. {num_train:,} (the training examples left after {split})')
  _require(config, 'batch_size', config.batch_size % num_devices == 0,
           f'a multiple of {num_devices}: each batch is split evenly over the {num_devices} devices of this run')

  share = config.batch_size // num_devices
  _require(config, 'microbatch_size', share % (min(config.microbatch_size, share) or share) == 0,
           f'0, a divisor of {share} (batch_size {config.batch_size} over {num_devices} device(s)), or more')

  _require(config, 'learning_rate', math.isfinite(config.learning_rate) and config.learning_rate > 0,
           'a finite number > 0')
  _require(config, 'lr_schedule', config.lr_schedule in _SCHEDULES, ' or '.join(map(repr, _SCHEDULES)))
  _require(config, 'lstm_impl', config.lstm_impl in LSTM_IMPLS, ' or '.join(map(repr, LSTM_IMPLS)))
  _require(config, 'matmul_dtype', config.matmul_dtype in MATMUL_DTYPES, ' or '.join(map(repr, MATMUL_DTYPES)))
  _require(config, 'lstm_bias_init', config.lstm_bias_init in BIAS_INITS, ' or '.join(map(repr, BIAS_INITS)))
  _require(config, 'encoder_bias_init', config.encoder_bias_init in ('',) + BIAS_INITS,
           ' or '.join(map(repr, ('',) + BIAS_INITS)) + " ('': lstm_bias_init's)")
  _require(config, 'chrono_fraction', 0 < config.chrono_fraction <= 1, 'a number in (0, 1]')
  _require(config, 'chrono_span', math.isfinite(config.chrono_span) and 0 < config.chrono_span <= 100,
           'a number in (0, 100]')
  _require(config, 'length_balance', 0 <= config.length_balance <= 1, 'a number in [0, 1]')
  _require(config, 'shift_augment', not config.shift_augment or (config.reverse and not config.encoder_skip_padding),
           'False, or True with reverse=True (padding in front of the query) and encoder_skip_padding=False '
           '(which reads every query from the same step already)')
  _require(config, 'grad_clip_norm', math.isfinite(config.grad_clip_norm) and config.grad_clip_norm >= 0,
           'a finite number >= 0 (0 turns clipping off)')
  for name in ('adam_b1', 'adam_b2'):
    _require(config, name, 0 <= config[name] < 1, 'a number in [0, 1)')
  _require(config, 'adam_eps', math.isfinite(config.adam_eps) and config.adam_eps > 0, 'a finite number > 0')


def _require(config, name: str, ok: bool, accepted: str) -> None:
  if not ok:
    raise ConfigError(f'config.{name}={config[name]!r} is not accepted: expected {accepted}')
