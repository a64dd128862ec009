import importlib.util
import pathlib

import ml_collections
import pytest

from addjax import config as config_lib

CONFIGS = pathlib.Path(__file__).resolve().parent.parent / 'configs'

# The example's table and the notebook's own setting: digits, examples, epochs, decoder layers.
SEED_SETTINGS = {
    'two_digits': (2, 5_000, 55, 1),
    'three_digits': (3, 50_000, 100, 1),
    'four_digits': (4, 400_000, 20, 1),
    'five_digits': (5, 550_000, 30, 1),
    'fourteen_digits': (14, 700_000, 25, 3),
    'twentyone_digits': (21, 800_000, 20, 5),
}


def load(name):
  spec = importlib.util.spec_from_file_location(name, CONFIGS / f'{name}.py')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


@pytest.mark.parametrize('name', sorted(SEED_SETTINGS))
def test_experiment_configs_hold_the_seed_settings_and_validate(name):
  config = load(name)
  assert (config.digits, config.training_size, config.num_epochs, config.num_layers) == SEED_SETTINGS[name]
  assert (config.reverse, config.hidden_size, config.batch_size, config.learning_rate) == (True, 128, 32, 1e-3)
  config_lib.validate(config)


def test_every_config_file_validates():
  for path in CONFIGS.glob('*.py'):
    config_lib.validate(load(path.stem))


@pytest.mark.parametrize('field, value, fragment', [
    ('digits', 0, 'config.digits=0'),
    ('training_size', 5_051, '5,050'),  # 2 digits have 5,050 unordered pairs.
    ('training_size', 9, '10 ..'),
    ('batch_size', 4_501, '1 .. 4,500'),
    ('batch_size', 0, 'config.batch_size=0'),
    ('num_layers', 0, 'config.num_layers'),
    ('hidden_size', -1, 'config.hidden_size'),
    ('num_epochs', 0, 'config.num_epochs'),
    ('learning_rate', 0.0, 'config.learning_rate'),
    ('learning_rate', float('nan'), 'config.learning_rate'),
    ('lr_schedule', 'linear', "'constant' or 'cosine'"),
    ('matmul_dtype', 'float16', "'float32' or 'bfloat16'"),
    ('lstm_bias_init', 'zeros', "'keras' or 'chrono' or 'chrono_forget'"),
    ('encoder_bias_init', 'keras ', "'' or 'keras' or 'chrono' or 'chrono_forget'"),
    ('chrono_fraction', 0.0, 'a number in (0, 1]'),
    ('chrono_span', 0.0, 'a number in (0, 100]'),
    ('chrono_span', float('nan'), 'a number in (0, 100]'),
    ('grad_clip_norm', -1.0, 'config.grad_clip_norm'),
    ('adam_b2', 1.0, 'config.adam_b2'),
    ('seed', -1, 'config.seed'),
    ('steps_per_call', 0, 'config.steps_per_call'),
    ('microbatch_size', -1, 'config.microbatch_size'),
    ('encoder_lead_in', -1, 'an integer >= 0'),
    ('encoder_chars_per_step', 0, 'an integer >= 1'),
    ('length_balance', 1.5, 'a number in [0, 1]'),
    ('microbatch_size', 24, 'a divisor of 32'),  # The base config's batch of 32 on one device.
])
def test_validate_rejects_impossible_values_naming_the_field(field, value, fragment):
  config = config_lib.base_config()
  config.digits, config.training_size = 2, 5_000
  config[field] = value
  with pytest.raises(config_lib.ConfigError) as error:
    config_lib.validate(config)
  message = str(error.value)
  assert fragment in message and field in message and '\n' not in message


@pytest.mark.parametrize('other', [dict(reverse=False), dict(encoder_skip_padding=True)])
def test_validate_takes_shift_augment_only_for_padding_in_front(other):
  config = config_lib.base_config()
  config.shift_augment = True
  config_lib.validate(config)
  config.update(other)
  with pytest.raises(config_lib.ConfigError, match='shift_augment.*reverse=True'):
    config_lib.validate(config)


def test_validate_rejects_wrong_types_and_unknown_fields():
  config = config_lib.base_config()
  config.digitz = 3
  with pytest.raises(config_lib.ConfigError, match="unknown config field 'digitz'"):
    config_lib.validate(config)

  config = config_lib.base_config().to_dict()
  config['reverse'] = 1
  with pytest.raises(config_lib.ConfigError, match='config.reverse=1 .* true or false'):
    config_lib.validate(ml_collections.ConfigDict(config))


def test_validate_accepts_the_limits():
  config = config_lib.base_config()
  config.digits, config.training_size = 2, 5_050
  config.batch_size = 5_050 - 505
  config_lib.validate(config)
