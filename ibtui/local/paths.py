"""Where ibtui keeps its files unless told otherwise: the platform's config and state folders.

Apart from :mod:`ibtui.config` (which re-exports them) so that ``ibtui demo`` finds its state
folder without importing the settings' schema.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

__all__ = ["APP_NAME", "default_config_path", "default_state_dir"]

APP_NAME = "ibtui"


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def default_state_dir() -> Path:
    return platformdirs.user_state_path(APP_NAME)
