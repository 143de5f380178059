#!/usr/bin/env python
"""Run the whole colorization study headless: split, every configuration, the evaluation.

    python run_all.py [--data DIR|sample] [--profile smoke|cpu|full] [--models A,B,...]
                      [--force] [--device D] [--jobs N]

The logic lives in colorlib.study; see `python run_all.py --help`.
"""

import sys

from colorlib.study import main

if __name__ == "__main__":
    sys.exit(main())
