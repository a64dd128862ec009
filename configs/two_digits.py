"""The example's two-digit row: 5k examples, 55 epochs, one decoder layer (README claims 99%)."""

from addjax.config import base_config


def get_config():
  config = base_config()
  config.digits = 2
  config.training_size = 5_000
  config.num_epochs = 55
  config.num_layers = 1
  return config
