"""The benchmark harness: cached features, text, trainer, evaluator, method registry, run
records."""
