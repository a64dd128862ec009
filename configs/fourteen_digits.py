"""The 14-digit row (from a later fork of the example): 700k examples, 25 epochs, three decoder layers."""

from addjax.config import base_config


def get_config():
  config = base_config()
  config.digits = 14
  config.training_size = 700_000
  config.num_epochs = 25
  config.num_layers = 3
  return config
