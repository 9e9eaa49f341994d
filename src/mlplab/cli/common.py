"""What several commands share: the layer-sizes argument and the training-curve figure."""
from __future__ import annotations

import argparse


def units(text: str) -> list[int]:
    try:
        units = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 32,32; received {text!r}")
    if not units or min(units) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 32,32; received {text!r}")
    return units


def plot_history_to(history, metric: str, path) -> None:
    """Save the loss and `metric` curves of `history` to `path` (PNG or SVG)."""
    from mlplab.plotting import plot_history, save_figure

    save_figure(plot_history(history, metrics=("loss", metric)), path)
