"""Development tools run from a checkout (``make soak``); not part of the ibtui package."""
