"""The notebook's own setting: 21 digits, 800k examples, 20 epochs, five decoder layers."""

from addjax.config import base_config


def get_config():
  config = base_config()
  config.digits = 21
  config.training_size = 800_000
  config.num_epochs = 20
  config.num_layers = 5
  return config
