"""Textual's strips make their caches when first used (``ibtui.tui.strips``), and the caches work
as Textual's did: an operation done twice gives the same strip back."""

from __future__ import annotations

import pytest
from rich.segment import Segment
from rich.style import Style
from rich.terminal_theme import DEFAULT_TERMINAL_THEME
from textual.cache import FIFOCache
from textual.color import Color
from textual.filter import ANSIToTruecolor
from textual.strip import Strip

from ibtui.tui import app as tui_app
from ibtui.tui.app import IbtuiApp
from ibtui.tui.strips import lazy_strip_caches
from tests.tui.conftest import PAPER, Clock, ViewBroker

CACHES = (
    "_divide_cache",
    "_crop_cache",
    "_style_cache",
    "_filter_cache",
    "_line_length_cache",
    "_crop_extend_cache",
    "_offsets_cache",
)


def made(strip: Strip, name: str) -> bool:
    """Whether the strip's cache slot holds a cache (read through the slot, not __getattr__)."""
    try:
        getattr(Strip, name).__get__(strip, Strip)
    except AttributeError:
        return False
    return True


def sample() -> Strip:
    red, blue = Style(color="red"), Style(color="blue", bold=True)
    return Strip([Segment("hello ", red), Segment("world", blue), Segment("!", red)])


def test_a_new_strip_makes_no_cache_until_it_is_used() -> None:
    assert lazy_strip_caches()
    strip = sample()
    assert not any(made(strip, name) for name in CACHES)
    strip.divide([3, 12])
    assert made(strip, "_divide_cache")
    assert not any(made(strip, name) for name in CACHES if name != "_divide_cache")


def test_the_caches_keep_what_they_made() -> None:
    lazy_strip_caches()
    strip = sample()
    truecolor = ANSIToTruecolor(DEFAULT_TERMINAL_THEME)
    background = Color(10, 20, 30)
    assert strip.divide([3, 12]) is strip.divide([3, 12])
    assert strip.crop(2, 9) is strip.crop(2, 9)
    assert strip.crop(2, 9).text == "llo wor"
    assert strip.apply_style(Style(italic=True)) is strip.apply_style(Style(italic=True))
    assert strip.apply_filter(truecolor, background) is strip.apply_filter(truecolor, background)
    assert strip.adjust_cell_length(20) is strip.adjust_cell_length(20)
    assert strip.crop_extend(0, 20, None) is strip.crop_extend(0, 20, None)
    assert strip.apply_offsets(1, 2) is strip.apply_offsets(1, 2)
    assert strip.adjust_cell_length(20).cell_length == 20
    for name in CACHES:
        cache = getattr(strip, name)
        assert isinstance(cache, FIFOCache) and len(cache) == 1, name


def test_a_strip_still_says_what_it_does_not_have() -> None:
    lazy_strip_caches()
    with pytest.raises(AttributeError, match="'Strip' object has no attribute 'nothing'"):
        sample().nothing  # type: ignore[attr-defined]  # noqa: B018


def test_the_console_applies_its_fixes_to_textual(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console applies, as it is made, the changes to Textual's classes (this one, the
    compositor's and the styles cache's): whatever any test applied before."""
    applied: list[str] = []
    for name in ("lazy_strip_caches", "render_only_overlapping", "release_styles_caches"):
        apply = getattr(tui_app, name)
        monkeypatch.setattr(tui_app, name, lambda n=name, f=apply: applied.append(n) or f())
    clock = Clock()
    IbtuiApp(ViewBroker([], clock, accounts=[PAPER]), clock=clock)
    assert sorted(applied) == [
        "lazy_strip_caches",
        "release_styles_caches",
        "render_only_overlapping",
    ]
