"""What every side of the toolkit stands on: the export's format and checks, errors, and the CLI kit (no TensorFlow)."""
