"""The monitoring plugin of the `robutler` command: config, logging, metrics, health."""
