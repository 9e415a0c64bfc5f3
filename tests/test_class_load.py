"""A smoke run of benchmarks/class_load.py: three protocol-level visitors on a hosted server."""
import argparse

import pytest

pytest.importorskip("websockets")

from benchmarks import class_load  # noqa: E402


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_tiny_class_is_served_and_kept_apart(capsys):
    args = argparse.Namespace(visitors=3, train=2, hostile=1, closers=1, timeout=240)
    phases = {p.name: p for p in class_load.run(args)}
    assert class_load.report(list(phases.values())), capsys.readouterr().out
    assert len(phases["lab: 3 landings"].seconds) == 3
    train = phases["lab: 2 press Train"]
    assert len(train.seconds) == 2, train.notes  # both got their own result in time
    hostile = phases["lab: 1 hostile links"]
    assert any("will not run" in n for n in hostile.notes), hostile.notes
    assert not any("a run started" in n for n in hostile.notes), hostile.notes
    assert len(phases["lab: one visitor after"].seconds) == 1
