"""Train the WDBC logistic-regression classifier with graph-compiled TensorFlow."""
