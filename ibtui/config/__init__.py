"""Settings: a TOML file, ``IBTUI_*`` environment variables over it, command-line flags over both.

The file (default ``<platform config dir>/ibtui/config.toml``, or ``--config PATH``, or the
``IBTUI_CONFIG`` variable) has these sections; every key is optional::

    [ibkr]                      # OAuth material (OAUTH.md §1); paths relative to this file's folder
    base_url = "https://api.ibkr.com/v1/api/"
    consumer_key = "…"
    realm = "limited_poa"       # derived when absent: test_realm for TESTCONS, else limited_poa
    signature_key = "private_signature.pem"
    encryption_key = "private_encryption.pem"
    dh_params = "dhparam.pem"
    access_token = "…"          # first party only, with access_token_secret (base64, encrypted)
    access_token_secret = "…"

    [ui]                        poll_interval (s, > 0), theme, bell, idle_lock_minutes (0 = off),
                                margin_warning (cushion fraction, 0 = off)
    [keymap]                    binding-id = "key[,key...]"  (for Textual's App.set_keymap)
    [orders]                    max_order_value, max_quantity, max_price_deviation_pct,
                                precaution_action = "warn" | "block"
    [orders.questions]          IBKR message id (o163, p12, …) = "ask" | "confirm" | "reject"
    [stream]                    enabled (default true), line_allowance (default 100),
                                background_poll_seconds (default 10, 0 = every interval)
    [paths]                     state_dir (default: the platform state dir)
    [alerts]                    desktop = "osc9" | "osc777" | "both" | "off" (default osc9),
                                rearm_pct (a fired alert re-arms this % of its level back; 0.1)

Every fixed key has an environment variable ``IBTUI_<SECTION>_<KEY>`` (``IBTUI_IBKR_CONSUMER_KEY``,
``IBTUI_UI_POLL_INTERVAL``, …); an empty variable counts as unset; relative paths from the
environment or flags are relative to the working directory. Errors name the file, line, key or
variable and never show a secret.

The file must be a regular file of at most 1 MB belonging to the user (or root) that group and
others cannot write to, in a folder no one else can write to either (as ssh checks its config);
a file that holds ``access_token``/``access_token_secret`` must be readable by the user only.
An existing state folder gets the same folder check.

The package's modules: :mod:`~ibtui.config.settings` (the typed settings),
:mod:`~ibtui.config.schema` (the keys, their kinds, value conversion), :mod:`~ibtui.config.file`
(reading the file: its checks, its TOML, located syntax errors), :mod:`~ibtui.config.loader`
(the layers, :func:`load_settings`), :mod:`~ibtui.config.tokens` (the token store) and
:mod:`~ibtui.config.credentials` (the key files, DH parameters and tokens the settings name,
read and checked; not imported here: the console imports it when it first connects).
"""

from ibtui.config.file import ConfigSyntaxError
from ibtui.config.loader import (
    CONFIG_ENV,
    InvalidConfigError,
    MissingConfigError,
    load_settings,
)
from ibtui.config.settings import (
    DEFAULT_BASE_URL,
    IbkrSettings,
    Settings,
    StreamSettings,
    UiSettings,
)
from ibtui.config.tokens import StoredTokens, load_tokens, save_tokens
from ibtui.local.files import ConfigError, InsecureFileError, UnsafePathError
from ibtui.local.paths import default_config_path, default_state_dir
from ibtui.trading.settings import OrderSettings, PrecautionAction, QuestionPolicy

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_BASE_URL",
    "ConfigError",
    "ConfigSyntaxError",
    "IbkrSettings",
    "InsecureFileError",
    "InvalidConfigError",
    "MissingConfigError",
    "OrderSettings",
    "PrecautionAction",
    "QuestionPolicy",
    "Settings",
    "StoredTokens",
    "StreamSettings",
    "UiSettings",
    "UnsafePathError",
    "default_config_path",
    "default_state_dir",
    "load_settings",
    "load_tokens",
    "save_tokens",
]
