"""What a job says while it runs: sentences kept as catalogue keys until a visitor's page puts
them into words, and one progress bar per method."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from core.engine.algorithms import all_result_names
from core.engine.events import Event, MethodResult, Progress
from report.i18n import t
from report.theme import label


@dataclass(frozen=True)
class Words:
    """A sentence kept as its catalogue key and values: the job's thread has no language, so it
    is put into words when a visitor's page asks (`str`), in that visitor's language."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        values = {k: label(v) if k == "method" else v for k, v in self.values.items()}
        return t(self.key, **values)


@dataclass(frozen=True)
class Bar:
    """One method's progress: a fraction of its work and a line of text."""

    fraction: float
    text: str


class Bars:
    """Per-method progress from a comparison's events (every seed counts equally)."""

    def __init__(self, methods: Sequence[str], seeds: int) -> None:
        self.seeds = seeds
        names = all_result_names(methods)  # ANIL also scores anil-whole
        self.done: dict[str, int] = dict.fromkeys(names, 0)
        self.bars = {m: (0.0, Words("job.bar.waiting", {"method": m})) for m in names}

    def shown(self) -> dict[str, Bar]:
        """The bars in the current language."""
        return {m: Bar(fraction, str(words)) for m, (fraction, words) in self.bars.items()}

    def _fraction(self, method: str, part: float) -> float:
        return min(1.0, (self.done[method] + part) / self.seeds)

    def update(self, event: Event) -> None:
        """Move the method's bar for a progress event or a finished result."""
        method = event.method
        if isinstance(event, Progress):
            self.bars[method] = (
                self._fraction(method, event.iteration / max(1, event.iterations)),
                Words("job.bar.progress", {"method": method, "seed": event.seed,
                                           "iteration": event.iteration,
                                           "iterations": event.iterations,
                                           "loss": f"{event.meta_loss:.3g}"}))
        elif isinstance(event, MethodResult):
            self.done[method] += 1
            finished = self.done[method] == self.seeds
            words = (Words("job.bar.diverged", {"method": method, "why": event.diverged})
                     if event.diverged else
                     Words("job.bar.done" if finished else "job.bar.seed_done",
                           {"method": method, "seconds": f"{event.seconds:.1f}"}))
            self.bars[method] = (self._fraction(method, 0.0), words)


def done_bars(spec: Any, results: list[MethodResult]) -> Bars:
    """The bars of a run whose results are all at hand (the results cache's)."""
    bars = Bars(spec.methods, len(spec.seeds))
    for result in results:
        bars.update(result)
    return bars
