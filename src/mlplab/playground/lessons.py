"""The lectures as guided pages of the playground: each lesson's setup, its steps and what the lecture printed.

A lesson is data: a title, the `mlplab lessons` lesson it comes from, steps (a short text, the settings to
load, the outcome to reach), the lecture's printed numbers (`mlplab.lessons.lectures.PRINTED`) and a probe
that computes the live numbers beside them. `lesson_page(name)` is what the page receives as JSON.
"""
from __future__ import annotations

import numpy as np

from mlplab.datasets import overfitting_points
from mlplab.lessons.lectures import PRINTED, lecture_of
from mlplab.lessons import LESSONS as COURSE, lesson_names as course_names

# The four XOR inputs of the lecture, (0,0) (0,1) (1,0) (1,1), placed at the corners of the page's square.
XOR_CORNERS = [[-4.0, -4.0], [-4.0, 4.0], [4.0, -4.0], [4.0, 4.0]]
XOR_LABELS = [0, 1, 1, 0]
# Controls a lesson does not need (element ids on the page), hidden while the lesson is open.
QUIET = ["schedule", "regularization", "regularization-rate", "dropout", "batch-norm", "noise", "n-samples",
         "seed", "upload", "click-class", "train-ratio"]


def _xor_points() -> list:
    """Each XOR corner 10 times with a small seeded jitter: 40 points, labels as the lecture's truth table."""
    rng = np.random.default_rng(0)
    rows = []
    for (a, b), label in zip(XOR_CORNERS, XOR_LABELS):
        for da, db in rng.normal(0, 0.3, (10, 2)):
            rows.append([round(a + da, 3), round(b + db, 3), label])
    return rows


def _overfitting_rows() -> list:
    x, y = overfitting_points()
    return [[float(a), 0.0, float(b)] for a, b in zip(x[:, 0], y[:, 0])]


def _deep(activation: str) -> list:
    return [{"units": 6, "activation": activation}] * 8


XOR_BASE = {"dataset": "custom", "points": _xor_points(), "features": ["x1", "x2"], "train_ratio": 90,
            "optimizer": "adam", "learning_rate": 0.03, "batch_size": 10, "loss": "binary_crossentropy"}
# The overfitting lesson's network: each step adds one regularizer to it.
OVERFITTING = {"dataset": "custom", "points": _overfitting_rows(), "features": ["x1"], "train_ratio": 90,
               "layers": [{"units": 30, "activation": "sigmoid"}, {"units": 30, "activation": "sigmoid"}],
               "optimizer": "adam", "learning_rate": 0.03, "batch_size": 9}
PAGES = {
    "logic-gates-xor": {
        "title": "XOR needs a hidden layer",
        "steps": [
            {"text": "XOR's four points: (0,0) and (1,1) are class 0, (0,1) and (1,0) class 1, drawn at the corners. "
                     "This network has no hidden layer: one neuron draws one line, and no line separates XOR. "
                     "Press Play: the outputs stay near 0.5, as the lecture printed.",
             "config": {**XOR_BASE, "layers": []}, "outcome": {"key": "train_accuracy", "at_most": 0.76, "epochs": 30}},
            {"text": "Now a hidden layer of 3 sigmoid units (the lecture's 2-3-1 network). Press Play: the outputs "
                     "go to 0, 1, 1, 0 and the training loss falls below 0.1.",
             "config": {**XOR_BASE, "layers": [{"units": 3, "activation": "sigmoid"}]},
             "outcome": {"key": "train_loss", "at_most": 0.1}},
        ],
        "printed": [["XOR without a hidden layer: outputs", PRINTED["logic-gates-xor"]["xor_no_hidden_outputs"]],
                    ["XOR, 2-3-1 network: outputs", PRINTED["logic-gates-xor"]["xor_hidden_outputs"]]],
        "probe": "xor_corners", "hide": QUIET + ["dataset"],
    },
    "hidden-space": {
        "title": "What a hidden layer does: 2-2-1 on a parabola",
        "steps": [
            {"text": "Points above a parabola are class 1. One neuron draws one line; press Play and see it stop "
                     "short of the curve.",
             "config": {"dataset": "quadratic", "n_samples": 400, "layers": [], "optimizer": "adam",
                        "learning_rate": 0.1, "batch_size": 32}, "outcome": {"key": "train_accuracy", "at_most": 0.97, "epochs": 20}},
            {"text": "Two sigmoid hidden units (the lecture's 2-2-1 network). Each draws a line; in their hidden "
                     "space the classes are split by one line. Press Play: the accuracy passes 90%.",
             "config": {"dataset": "quadratic", "n_samples": 400, "layers": [{"units": 2, "activation": "sigmoid"}],
                        "optimizer": "adam", "learning_rate": 0.1, "batch_size": 32},
             "outcome": {"key": "train_accuracy", "at_least": 0.9}},
        ],
        "printed": [], "probe": "metrics", "hide": QUIET + ["dataset"],
    },
    "relu-approximation": {
        "title": "A curve as a sum of ReLU pieces",
        "steps": [
            {"text": "The cubic x³ + 0.1x² − x + 0.1 with one ReLU unit: one hinge, a poor fit. Press Play.",
             "config": {"dataset": "cubic", "n_samples": 400, "features": ["x1"],
                        "layers": [{"units": 1, "activation": "relu"}], "optimizer": "adam", "learning_rate": 0.03,
                        "batch_size": 32}, "outcome": {"key": "train_loss", "at_least": 0.05, "epochs": 30}},
            {"text": "Eight ReLU units add eight hinges: the orange line bends at each corner and follows the "
                     "curve. Press Play until the training loss is below 0.05.",
             "config": {"dataset": "cubic", "n_samples": 400, "features": ["x1"],
                        "layers": [{"units": 8, "activation": "relu"}], "optimizer": "adam", "learning_rate": 0.03,
                        "batch_size": 32}, "outcome": {"key": "train_loss", "at_most": 0.05}},
        ],
        "printed": [], "probe": "metrics", "hide": QUIET + ["dataset", "features"],
    },
    "vanishing-gradient": {
        "lesson": "logic-gates-xor",
        "title": "The vanishing gradient: sigmoid vs ReLU",
        "steps": [
            {"text": "Eight sigmoid hidden layers. Press Step a few times and read the gradient chart: the first "
                     "layer's gradient is far below the output layer's, and the training doctor says so.",
             "config": {"dataset": "circle", "layers": _deep("sigmoid"), "optimizer": "sgd", "learning_rate": 0.1,
                        "batch_size": 10}, "outcome": {"key": "gradient_ratio", "at_most": 0.01, "epochs": 1}},
            {"text": "The same depth with ReLU: sigmoid's slope is at most 1/4, ReLU's is 1, so the gradient "
                     "reaches the first layer. Press Step.",
             "config": {"dataset": "circle", "layers": _deep("relu"), "optimizer": "sgd", "learning_rate": 0.1,
                        "batch_size": 10}, "outcome": {"key": "gradient_ratio", "at_least": 0.05, "epochs": 1}},
        ],
        "printed": [], "probe": "gradients", "hide": QUIET + ["dataset"],
    },
    "overfitting-regularization": {
        "title": "Overfitting 10 points; batch normalization and dropout",
        "steps": [
            {"text": "The lecture's 10 noisy points and a large sigmoid network. Press Play: the curve bends to pass "
                     "through the training points (training loss far below the test loss): overfitting.",
             "config": OVERFITTING,
             "outcome": {"key": "train_loss", "at_most": 0.1}},
            {"text": "The same network with batch normalization (Dense → BatchNormalization → activation), as the "
                     "lecture shows how to add it. Press Play for 100 epochs: with batch statistics from 9 points "
                     "the curve the page draws (inference mode, moving averages) is not a cure for overfitting.",
             "config": {**OVERFITTING, "batch_norm": True},
             "outcome": {"key": "epoch", "at_least": 100}},
            {"text": "Dropout 0.2 after every hidden layer: the network cannot rely on any one unit, and the curve "
                     "stays smoother. Press Play: after 100 epochs the test loss is still below 1, where step 1's "
                     "had climbed.",
             "config": {**OVERFITTING, "dropout": 0.2},
             "outcome": {"key": "test_loss", "at_most": 1.0, "epochs": 100}},
        ],
        "printed": [], "probe": "metrics", "hide": [h for h in QUIET if h not in ("dropout", "batch-norm")] + ["dataset"],
    },
}


def lesson_names() -> list[str]:
    return list(PAGES)


def lesson_page(name: str) -> dict:
    """The lesson as the page shows it: title, lecture, steps (text, settings, outcome), printed numbers."""
    if name not in PAGES:
        raise ValueError(f"lesson: expected one of {', '.join(PAGES)}; received {name!r}.")
    page = PAGES[name]
    source = page.get("lesson", name)
    course_names()  # loads the lesson modules, which register themselves
    course = COURSE[source]
    lecture, topic = lecture_of(course.seed, source)
    return {"name": name, "title": page["title"], "lesson": source, "lecture": lecture, "topic": topic,
            "steps": page["steps"], "printed": page["printed"], "hide": page["hide"]}


def menu() -> list[dict]:
    return [{"name": name, "title": page["title"]} for name, page in PAGES.items()]


def reached(outcome: dict, values: dict, epoch: int) -> bool:
    """Whether the live values meet a step's outcome (after at least `epochs` epochs of training)."""
    value = values.get(outcome["key"])
    if value is None or epoch < outcome.get("epochs", 1):
        return False
    if "at_least" in outcome and value < outcome["at_least"] - 1e-9:
        return False
    return not ("at_most" in outcome and value > outcome["at_most"] + 1e-9)


def probe(name: str, session, metrics: dict) -> list:
    """[label, value] rows of live numbers for the lesson `name` (those a lecture printed come first)."""
    kind = PAGES[name]["probe"]
    rows = []
    if kind == "xor_corners":
        outputs = session.model.predict(np.array(XOR_CORNERS))[:, 0]
        label = ("XOR without a hidden layer: outputs" if not session.config["layers"]
                 else "XOR, 2-3-1 network: outputs")
        rows.append([label, [round(float(v), 6) for v in outputs]])
    if kind == "gradients" and metrics.get("gradient_ratio") is not None:
        rows.append(["gradient norm, first layer ÷ output layer", metrics["gradient_ratio"]])
    for key, text in (("train_loss", "training loss"), ("test_loss", "test loss"),
                      ("train_accuracy", "training accuracy")):
        if metrics.get(key) is not None:
            rows.append([text, round(metrics[key], 4)])
    return rows
