"""Textual's strips make their caches when first used (``ibtui.tui.textual_compat.strips``), and
the caches work as Textual's did: an operation done twice gives the same strip back. The patch is
applied by ``run_app`` (and the ``textual_patches`` fixture), not by making an app, and undone."""

from __future__ import annotations

import pytest
from rich.segment import Segment
from rich.style import Style
from rich.terminal_theme import DEFAULT_TERMINAL_THEME
from textual.cache import FIFOCache
from textual.color import Color
from textual.filter import ANSIToTruecolor
from textual.strip import Strip

from ibtui.tui import textual_compat
from ibtui.tui.app import IbtuiApp
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


def test_a_new_strip_makes_no_cache_until_it_is_used(textual_patches: list[str]) -> None:
    assert "strips" in textual_patches
    strip = sample()
    assert not any(made(strip, name) for name in CACHES)
    strip.divide([3, 12])
    assert made(strip, "_divide_cache")
    assert not any(made(strip, name) for name in CACHES if name != "_divide_cache")


def test_the_caches_keep_what_they_made(textual_patches: list[str]) -> None:
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


def test_a_strip_still_says_what_it_does_not_have(textual_patches: list[str]) -> None:
    with pytest.raises(AttributeError, match="'Strip' object has no attribute 'nothing'"):
        sample().nothing  # type: ignore[attr-defined]  # noqa: B018


def test_making_an_app_patches_nothing_and_the_patches_come_undone() -> None:
    """Textual's classes are as Textual made them until the patches are applied (by ``run_app``
    or a fixture), whatever any test did before, and again after they are undone."""
    clock = Clock()
    with textual_compat.patched():
        pass
    IbtuiApp(ViewBroker([], clock, accounts=[PAPER]), clock=clock)
    assert all(made(sample(), name) for name in CACHES)  # Textual's own: made up front
    with textual_compat.patched() as applied:
        assert "strips" in applied
        assert not any(made(sample(), name) for name in CACHES)
    assert all(made(sample(), name) for name in CACHES)
