"""The non-UI core of trading: order drafts and their safety checks, the order service (preview,
IBKR's questions, submit without double sends, reconciliation, cancel, modify, kill switch) and
the audit journal. No Textual here: the ticket and orders screens build on this package."""
