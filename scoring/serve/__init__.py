"""Online scoring: ``python -m scoring.serve``, the verified model behind HTTP (Open Inference Protocol v2 and MLflow)."""
