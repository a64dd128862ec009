"""The example's three-digit row: 50k examples, 100 epochs, one decoder layer; the default experiment."""

from addjax.config import base_config


def get_config():
  config = base_config()
  config.digits = 3
  config.training_size = 50_000
  config.num_epochs = 100
  config.num_layers = 1
  return config
