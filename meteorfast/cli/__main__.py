"""``python -m meteorfast.cli``."""

import sys

from meteorfast.cli import main

sys.exit(main())
