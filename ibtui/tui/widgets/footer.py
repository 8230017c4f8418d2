"""The console's footer: Textual's ``Footer`` with the fix for Textualize/textual#6666 (see
:mod:`ibtui.tui.textual_compat.footer`, where it is guarded by Textual's version)."""

from __future__ import annotations

from ibtui.tui.textual_compat.footer import Footer

__all__ = ["Footer"]
