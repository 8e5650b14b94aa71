"""``python -m jewelmask`` is the ``jewelmask`` command."""

import sys

from .cli import main

sys.exit(main())
