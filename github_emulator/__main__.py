"""``python -m github_emulator``: the emulator's own command line, without backhub's."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
