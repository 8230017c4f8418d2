"""Price, move, P&L and fill alerts without Textual: the rules (:mod:`.rules`: the alerts, when
one fires, the hysteresis) and their file (:mod:`.store`: ``alerts.json``, 0600, atomic). The
console feeds them the prices it shows and tells the firings (``ibtui.tui.alerts``)."""
