"""The model backends, registered by name in BACKENDS when imported."""
