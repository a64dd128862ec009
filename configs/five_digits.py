"""The example's five-digit row: 550k examples, 30 epochs, one decoder layer."""

from addjax.config import base_config


def get_config():
  config = base_config()
  config.digits = 5
  config.training_size = 550_000
  config.num_epochs = 30
  config.num_layers = 1
  return config
