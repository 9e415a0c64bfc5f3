"""Shared test setup: one thread for torch (2 cores are shared with the app and other tests)."""
import torch

torch.set_num_threads(1)
