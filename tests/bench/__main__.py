"""``python -m tests.bench``: runs :func:`tests.bench.run.main`."""

import sys

from tests.bench.run import main

sys.exit(main())
