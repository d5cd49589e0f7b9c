"""Train the WDBC classifier (logistic regression, or an MLP) with graph-compiled TensorFlow."""
