"""``python -m colorlib``: the command line of :mod:`colorlib.cli`."""

import sys

from colorlib.cli import main

if __name__ == "__main__":
    sys.exit(main())
