"""``python -m adapters.cli``: the same as the ``claims-ledger`` command."""

import sys

from adapters.cli import main

sys.exit(main())
