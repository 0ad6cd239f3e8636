"""The contract every newsroom service imports: story model, events, streams, keys, settings."""
