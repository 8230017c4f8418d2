"""The composition root's adapters: the TUI's protocols (``ibtui.tui.protocols``,
``ibtui.tui.trading``, ``ibtui.tui.market``) implemented over the IBKR client and the order
service. The only place where ``ibtui.tui`` meets ``ibtui.ibkr`` and ``ibtui.trading``."""
