"""Shared fixtures for the test suite (append new fixtures below; keep this file small)."""
import copy

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fresh, seeded Generator: tests never touch NumPy's global random state."""
    return np.random.default_rng(0)


@pytest.fixture
def model_snapshot():
    """`snap = model_snapshot(model, x)` records weights, rng state, optimizer step count and
    predictions on x; `snap.assert_unchanged()` checks that all of them are exactly as before."""

    class Snapshot:
        def __init__(self, model, x=None):
            self.model, self.x = model, x
            self.weights = model.get_weights()
            self.rng_state = copy.deepcopy(model.rng.bit_generator.state)
            self.iterations = getattr(getattr(model, "optimizer", None), "iterations", None)
            self.predictions = None if x is None else model.predict(x)

        def assert_unchanged(self):
            model = self.model
            after = model.get_weights()
            assert len(after) == len(self.weights)
            for before, now in zip(self.weights, after):
                assert np.array_equal(before, now)
            assert model.rng.bit_generator.state == self.rng_state
            assert getattr(getattr(model, "optimizer", None), "iterations", None) == self.iterations
            if self.x is not None:
                assert np.array_equal(model.predict(self.x), self.predictions)

    return Snapshot
