"""`python -m cbas_async`: the same as the `cbas` console script."""

import sys

from cbas_async.cli import main

sys.exit(main())
