"""Omniglot characters (Lake et al. 2015) as N-way K-shot tasks, classes split by alphabet."""
from __future__ import annotations

from dataclasses import dataclass

from core.data import cached_data, omniglot
from core.engine.families.base import DownloadProgress, register_family
from core.engine.families.images import ClassPool, ImageFamily, make_pools
from core.settings import SettingError, setting


@cached_data(maxsize=4)
def _omniglot_pools(data: omniglot.OmniglotData, test: tuple[str, ...],
                    validation: tuple[str, ...], rotations: bool) -> dict[str, ClassPool]:
    try:
        splits = omniglot.split_by_alphabet(data, test, validation or None)
    except ValueError as err:  # unknown or overlapping alphabets: name the settings, briefly
        why = str(err) if len(str(err)) <= 160 else str(err)[:159] + "…"
        raise SettingError(f"test_alphabets / validation_alphabets: {why}") from None
    return make_pools(data.images, splits, rotations)


def _names(text: str) -> tuple[str, ...]:
    """Comma-separated names as a tuple, blanks dropped."""
    return tuple(n.strip() for n in text.split(",") if n.strip())


@register_family
@dataclass(frozen=True)
class Omniglot(ImageFamily):
    """Omniglot characters, test alphabets never seen in training; from data_dir or the cache."""

    name = "omniglot"
    title = "Omniglot characters (N-way K-shot)"
    description = ("Handwritten characters of 50 alphabets, 20 drawings each; test alphabets are "
                   "never seen in training. The few-shot benchmark of the MAML paper.")
    # About 10 CPU-minutes. α = 0.1, not the MAML paper's 0.4: on these 156 training characters
    # 0.4 overshoots in training too (docs/methods.md: MAML 0.88 → 0.92 after one step at 400
    # iterations, first-order MAML 0.56 → 0.85 after three at 100).
    suggested = {**ImageFamily.suggested, "iterations": 400, "inner_lr": 0.1}

    image_size: int = setting(28, "side of the downsampled images in pixels (105 = original)",
                              8, 105, kind="int")
    test_alphabets: str = setting(",".join(omniglot.DEFAULT_TEST_ALPHABETS),
                                  "comma-separated alphabets whose characters form the test tasks",
                                  kind="text")
    validation_alphabets: str = setting("", "comma-separated validation alphabets (empty: the "
                                            "first other alphabet in sorted order)", kind="text")
    data_dir: str = setting("", "folder holding images_background.zip and images_evaluation.zip "
                                "(or other Omniglot zips or their images_* folders); empty: the "
                                "user cache", kind="path")
    download: bool = setting(True, "download the official archives into the cache when the cache "
                                   "is empty and no data_dir is given", kind="bool",
                             server=False)  # a shared server never fills its disk for a visitor

    def _data(self, progress: DownloadProgress | None = None) -> omniglot.OmniglotData:
        if self.data_dir:
            return omniglot.load_omniglot(self.data_dir, self.image_size)
        return omniglot.load_cached_omniglot(self.image_size, self.download, progress)

    def _read_pools(self, progress: DownloadProgress | None) -> dict[str, ClassPool]:
        return _omniglot_pools(self._data(progress), _names(self.test_alphabets),
                               _names(self.validation_alphabets), self.rotations)

    @property
    def base_classes(self) -> int:
        return self._data().num_classes

    def _source_bytes(self) -> int:
        return self._data().images.nbytes  # cached beside the pools

    def _split_hint(self) -> str:
        return " (choose other test_alphabets / validation_alphabets, or fewer ways)"

    def _base_name(self, base: int) -> str:
        data = self._data()
        return f"{data.alphabets[base]} {data.characters[base]}"
