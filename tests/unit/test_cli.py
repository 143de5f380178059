"""cli.py without a subprocess: argument types (the commands as a user runs them: the smoke
tier's test_cli.py)."""

import argparse

import pytest

from colorlib.cli import seed_list


def test_seed_lists_parse_or_fail_with_usage_errors():
    assert seed_list("42,43, 44") == (42, 43, 44)
    for bad in ("", "1,1", "a,2"):
        with pytest.raises(argparse.ArgumentTypeError):
            seed_list(bad)
