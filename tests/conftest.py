"""Shared test setup: one thread for torch (2 cores are shared with the app and other tests), and
a run store of the test session's own, so that no test writes into the user's saved runs."""
import os
import tempfile

import torch

torch.set_num_threads(1)
os.environ.setdefault("META_LAB_HOME", tempfile.mkdtemp(prefix="meta-lab-test-"))
