"""`python -m cli`: the operator commands (the same as the `aikings` script)."""

import sys

from cli.ops import main

sys.exit(main())
