"""The meta-learning comparison lab's engine: task families, models, algorithms, evaluation."""
