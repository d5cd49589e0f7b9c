"""Batch-score CSV files through the exported model in TensorFlow or onnxruntime."""
