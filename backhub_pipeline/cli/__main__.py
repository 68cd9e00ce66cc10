"""``python -m backhub_pipeline.cli``: the same entry point as the ``backhub`` script."""

import sys

from backhub_pipeline.cli import main

sys.exit(main())
