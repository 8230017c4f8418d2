"""``python -m ibtui``."""

import sys

from ibtui.cli import main

sys.exit(main())
