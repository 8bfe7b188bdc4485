"""``python -m bookingcore_adapters.sql.migrations``: see :func:`main`."""

import sys

from bookingcore_adapters.sql.migrations import main

sys.exit(main())
