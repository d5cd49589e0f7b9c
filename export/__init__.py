"""Export a trained classifier as a SavedModel and as ONNX, validated against each other."""
