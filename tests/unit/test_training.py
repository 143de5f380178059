"""training.py without training: the learning-rate schedule (the runs themselves: the smoke
tier's test_training.py)."""

import pytest

from colorlib.training import LinearDecay


@pytest.mark.parametrize(
    "epochs, decay_start, factors",
    [
        # full: 25 epochs at 1, then the ramp's mean over each epoch: 0.98, 0.94, ..., 0.02
        (50, 25, [1.0] * 25 + [(50 - e + 0.5) / 25 for e in range(26, 51)]),
        (8, 4, [1, 1, 1, 1, 0.875, 0.625, 0.375, 0.125]),  # cpu
        (2, 1, [1, 0.5]),  # smoke
    ],
)
def test_learning_rate_factor_of_every_epoch(epochs, decay_start, factors):
    """The study (README): constant for decay_start epochs, then linear to zero at the end of
    the last."""
    schedule = LinearDecay(epochs, decay_start)
    got = [schedule(epoch) for epoch in range(epochs)]  # epoch counts from 0
    assert got == pytest.approx(factors, abs=1e-12)
    assert got[decay_start - 1] == 1.0 and got[decay_start] < 1.0
    # the ramp over the decay epochs is linear and would reach 0 one half-epoch after the last
    assert got[-1] == pytest.approx(0.5 / (epochs - decay_start))


def test_determinism_is_exact_on_the_cpu_and_fast_on_cuda_by_default():
    import torch

    from colorlib.runtime import set_determinism

    try:
        assert set_determinism("auto", torch.device("cuda")) == "fast"
        assert torch.backends.cudnn.benchmark and not torch.are_deterministic_algorithms_enabled()
        assert set_determinism("exact", torch.device("cuda")) == "exact"
        assert set_determinism("fast", torch.device("cpu")) == "fast"
        assert set_determinism("auto", torch.device("cpu")) == "exact"
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    finally:
        set_determinism("auto", torch.device("cpu"))
