#!/usr/bin/env python
"""Run the whole colorization study headless: split, every configuration, the evaluation.

    python run_all.py [--data DIR|sample] [--profile smoke|cpu|full] [--models A,B,...]
                      [--force] [--device D] [--jobs N] [--set key=value ...]

The same as ``python -m colorlib study ...``; see ``python run_all.py --help``.
"""

import sys

from colorlib.cli import main

if __name__ == "__main__":
    sys.exit(main(["study", *sys.argv[1:]], prog="run_all.py"))
