"""The engine: task batches, models, task families, meta-gradients, scoring and the training loop."""
