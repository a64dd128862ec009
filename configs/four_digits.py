"""The example's four-digit row: 400k examples, 20 epochs, one decoder layer."""

from addjax.config import base_config


def get_config():
  config = base_config()
  config.digits = 4
  config.training_size = 400_000
  config.num_epochs = 20
  config.num_layers = 1
  return config
