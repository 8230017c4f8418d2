"""The layered loader: defaults, then the TOML file, then ``IBTUI_*`` variables, then flags,
each value checked against :mod:`ibtui.config.schema` where it comes in, every problem
collected and reported at once with where it came from (file, variable or flag)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from ibtui.config.file import read_toml
from ibtui.config.schema import (
    ENV_NAMES,
    ENV_PREFIXES,
    FREE_TABLES,
    MESSAGE_ID,
    QUESTION,
    SCHEMA,
    SECTIONS,
    BadValue,
    Spec,
    coerce,
    describe,
    expand_path,
    spec_for,
    suggest,
)
from ibtui.config.settings import AlertsSettings, IbkrSettings, Settings, StreamSettings, UiSettings
from ibtui.local.files import ConfigError, check_private_dir
from ibtui.local.paths import default_config_path, default_state_dir
from ibtui.trading.settings import OrderSettings, QuestionPolicy

__all__ = [
    "CONFIG_ENV",
    "CONFIG_EXAMPLE",
    "InvalidConfigError",
    "MissingConfigError",
    "load_settings",
]

CONFIG_ENV = "IBTUI_CONFIG"

CONFIG_EXAMPLE = """\
[ibkr]
consumer_key = "YOURKEY01"
signature_key = "private_signature.pem"     # paths relative to the config file's folder
encryption_key = "private_encryption.pem"
dh_params = "dhparam.pem"
# first party (self-service portal) only:
# access_token = "..."
# access_token_secret = "..."
"""


class InvalidConfigError(ConfigError):
    """Unknown keys or bad values; ``problems`` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class MissingConfigError(ConfigError):
    """No config file where one is needed."""

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        super().__init__(message)


# --- the three layers -----------------------------------------------------------------------


class _Layers:
    """Values by dotted key ("ibkr.base_url", "keymap.quit", "orders.questions.o163")."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        self.sources: dict[str, str] = {}  # dotted key -> where its value came from
        self.problems: list[str] = []

    def put(
        self,
        dotted: str,
        spec: Spec,
        value: object,
        where: str,
        *,
        from_text: bool,
        base_dir: Path,
    ) -> None:
        if spec is QUESTION:
            message_id = dotted.removeprefix("orders.questions.")
            if not MESSAGE_ID.fullmatch(message_id.lower()):
                self.problems.append(
                    f"{where}'{dotted}': '{message_id}' is not an IBKR message id (like o163, p12)"
                )
                return
            dotted = "orders.questions." + message_id.lower()
        try:
            self.values[dotted] = coerce(spec, value, from_text=from_text, base_dir=base_dir)
            self.sources[dotted] = where.removesuffix(": ")
        except BadValue as exc:
            why = f": {exc}" if str(exc) else ""
            self.problems.append(
                f"{where}'{dotted}' must be {spec.expected()}; got {describe(value, spec)}{why}"
            )

    def from_file(self, path: Path, data: dict[str, object]) -> None:
        where = f"{path}: "
        base = path.parent
        for section, content in data.items():
            if section not in SECTIONS:
                bare = [f"{s}.{section}" for s, keys in SCHEMA.items() if section in keys]
                if bare:
                    self.problems.append(
                        f"{where}unknown key '{section}' (did you mean '{bare[0]}'? "
                        f"put it under [{bare[0].split('.')[0]}])"
                    )
                else:
                    self.problems.append(
                        f"{where}unknown section [{section}]{suggest(section, SECTIONS)}; "
                        f"known sections: {', '.join(SECTIONS)}"
                    )
                continue
            if not isinstance(content, dict):
                self.problems.append(f"{where}'{section}' must be a table ([{section}] section)")
                continue
            self._section(where, base, section, content)

    def _section(self, where: str, base: Path, section: str, content: dict[str, object]) -> None:
        if section == "keymap":
            self._free_table(where, base, "keymap", content)
            return
        keys = SCHEMA[section]
        for key, value in content.items():
            dotted = f"{section}.{key}"
            if section == "orders" and key == "questions":
                if isinstance(value, dict):
                    self._free_table(where, base, dotted, value)
                else:
                    self.problems.append(f"{where}'{dotted}' must be a table ([{dotted}])")
            elif key in keys:
                self.put(dotted, keys[key], value, where, from_text=False, base_dir=base)
            else:
                candidates = [*keys, "questions"] if section == "orders" else list(keys)
                self.problems.append(f"{where}unknown key '{dotted}'{suggest(key, candidates)}")

    def _free_table(self, where: str, base: Path, table: str, content: dict[str, object]) -> None:
        spec = FREE_TABLES[table]
        for key, value in content.items():
            dotted = f"{table}.{key}"
            if isinstance(value, dict):
                self.problems.append(
                    f"{where}'{dotted}' must be {spec.expected()}; got a table"
                    f' (quote an id that contains a dot: "{key}.…" = …)'
                )
                continue
            self.put(dotted, spec, value, where, from_text=False, base_dir=base)

    def from_env(self, env: Mapping[str, str]) -> None:
        cwd = Path.cwd()
        for name in sorted(env):
            if not name.startswith(ENV_PREFIXES):
                continue
            raw = env[name]
            dotted = ENV_NAMES.get(name)
            if dotted is None:
                self.problems.append(
                    f"environment variable {name}: unknown setting" + suggest(name, list(ENV_NAMES))
                )
                continue
            if raw == "":
                continue
            section, key = dotted.split(".")
            self.put(
                dotted,
                SCHEMA[section][key],
                raw,
                f"environment variable {name}: ",
                from_text=True,
                base_dir=cwd,
            )

    def from_overrides(self, overrides: Mapping[str, object]) -> None:
        cwd = Path.cwd()
        for dotted, value in overrides.items():
            if value is None:
                continue
            spec = spec_for(dotted)
            if spec is None:
                self.problems.append(f"option '{dotted}': unknown setting")
                continue
            self.put(
                dotted,
                spec,
                value,
                "command-line option: ",
                from_text=isinstance(value, str),
                base_dir=cwd,
            )


# --- loading --------------------------------------------------------------------------------


def _resolve_config_path(config_path: Path | None, env: Mapping[str, str]) -> tuple[Path, str]:
    if config_path is not None:
        return expand_path(str(config_path)), "given with --config"
    if env.get(CONFIG_ENV):
        return expand_path(env[CONFIG_ENV]), f"named by {CONFIG_ENV}"
    return default_config_path(), ""


_REQUIRED = ("consumer_key", "signature_key", "encryption_key", "dh_params")


def load_settings(
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    *,
    require_credentials: bool = False,
) -> Settings:
    """Defaults, then the TOML file, then ``IBTUI_*`` variables, then ``overrides``.

    ``config_path`` is ``--config`` (must exist); without it ``IBTUI_CONFIG`` (must exist) or
    the default path (may be missing). ``overrides`` maps dotted keys (``"ibkr.base_url"``,
    ``"ui.poll_interval"``, ``"keymap.<id>"``) to flag values; ``None`` values are skipped and
    strings are parsed like environment values. With ``require_credentials`` the consumer key
    and the three key paths must be set somewhere. Raises a :class:`ConfigError` subclass.
    """
    env = os.environ if env is None else env
    path, origin = _resolve_config_path(config_path, env)
    try:
        found = path.exists()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot access the config file: {exc.strerror}") from exc
    if origin and not found:
        raise MissingConfigError(path, f"{path}: no such config file ({origin})")
    layers = _Layers()
    if found:
        layers.from_file(path, read_toml(path))
    layers.from_env(env)
    layers.from_overrides(overrides or {})
    if layers.problems:
        raise InvalidConfigError(layers.problems)
    values = layers.values
    has_token = values.get("ibkr.access_token") is not None
    if has_token != (values.get("ibkr.access_token_secret") is not None):
        present, absent = ("", "_secret") if has_token else ("_secret", "")
        source = layers.sources[f"ibkr.access_token{present}"]
        raise InvalidConfigError(
            [
                f"{source}: 'ibkr.access_token{present}' is set but 'ibkr.access_token{absent}' "
                "is not: a first-party setup needs both (leave both out to log in as a third party)"
            ]
        )
    if require_credentials:
        _check_required(path, found, values)
    settings = _build(path, found, values)
    with contextlib.suppress(FileNotFoundError):  # made with mode 0700 when first written to
        check_private_dir(settings.state_dir, "state folder")
    return settings


def _check_required(path: Path, found: bool, values: Mapping[str, object]) -> None:
    missing = [key for key in _REQUIRED if values.get(f"ibkr.{key}") is None]
    if not missing:
        return
    if not found:
        raise MissingConfigError(
            path,
            f"{path}: no config file; connecting to IBKR needs your OAuth material.\n"
            f"`ibtui init` creates the keys and this file; or write it (chmod 600) like this, "
            f"or pass --config PATH:\n\n{CONFIG_EXAMPLE}\n"
            "(`ibtui demo` runs on the built-in simulator without any configuration.)",
        )
    raise InvalidConfigError(
        [
            f"{path}: 'ibkr.{key}' is not set (add it under [ibkr] or set IBTUI_IBKR_{key.upper()})"
            for key in missing
        ]
    )


def _build(path: Path, found: bool, values: Mapping[str, object]) -> Settings:
    def pick(section: str) -> dict[str, Any]:
        prefix = section + "."
        return {
            k[len(prefix) :]: v
            for k, v in values.items()
            if k.startswith(prefix) and "." not in k[len(prefix) :]
        }

    questions = {
        k.removeprefix("orders.questions."): cast(QuestionPolicy, v)
        for k, v in values.items()
        if k.startswith("orders.questions.")
    }
    ibkr = IbkrSettings(**pick("ibkr"))
    ui = UiSettings(**pick("ui"))
    orders = OrderSettings(**pick("orders"), questions=MappingProxyType(questions))
    keymap = {
        k.removeprefix("keymap."): cast(str, v)
        for k, v in values.items()
        if k.startswith("keymap.")
    }
    state_dir = values.get("paths.state_dir")
    return Settings(
        config_path=path,
        config_found=found,
        state_dir=state_dir if isinstance(state_dir, Path) else default_state_dir(),
        ibkr=ibkr,
        ui=ui,
        orders=orders,
        stream=StreamSettings(**pick("stream")),
        alerts=AlertsSettings(**pick("alerts")),
        keymap=MappingProxyType(keymap),
    )
