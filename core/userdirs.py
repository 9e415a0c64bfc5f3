"""The user's data and cache folders: the lab's own environment variables win, else the platform's
folders from platformdirs (XDG on Linux, ~/Library on macOS, %LOCALAPPDATA% on Windows)."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "meta-lab"


def data_dir() -> Path:
    """$META_LAB_HOME if set, else the platform's user data folder of the lab (runs live here)."""
    if home := os.environ.get("META_LAB_HOME"):
        return Path(home).expanduser()
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def cache_dir(part: str) -> Path:
    """$META_LAB_CACHE/part if set, else the platform's user cache folder of the lab / part."""
    if root := os.environ.get("META_LAB_CACHE"):
        return Path(root).expanduser() / part
    return Path(platformdirs.user_cache_dir(APP, appauthor=False)) / part
