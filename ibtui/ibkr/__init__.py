"""The IBKR Web API client: OAuth, the live session token, typed endpoints, errors."""

import logging

# Without a handler of their own, ibtui's warnings would reach Python's last-resort handler and
# be printed over the console or a command's output; ibtui.logfile adds the real one.
logging.getLogger("ibtui").addHandler(logging.NullHandler())
