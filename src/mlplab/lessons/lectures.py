"""What the report says about each lesson: the lecture it reproduces (title and topic, as a student
knows it, not the notes' file name), readable labels for its numbers, and what the lecture printed."""
from __future__ import annotations

import math
import re

# The lecture notes by file: (title as the notes open, what the lessons take from them).
LECTURES = {
    "000_3254d6e8f615afdb.txt": ("ANN Theory, day 5–6",
                                 "the multilayer perceptron, XOR in PyTorch, wider and deeper networks, the "
                                 "vanishing gradient"),
    "001_80f504c630c7af8d.txt": ("[Standalone DL] #8–9: History of DL / MLP Basic",
                                 "modelling a neuron, and a PyTorch MLP trained with cross-entropy and SGD"),
    "002_2c5e88f052dc5e94.txt": ("MLP (Multi-Layer Perceptrons)",
                                 "terminology, a two-layer perceptron from zero weights, and why to vectorise"),
    "003_b3f3c4f7318a782e.txt": ("Artificial Neural Networks (ANN)", "TensorFlow/Keras programs"),
    "004_7758039311a0634e.txt": ("4. Understand how a Neural Network works",
                                 "NumPy networks trained with the delta rule (listings 4.2–4.5)"),
}
# Lessons that take one section of a long lecture: the section replaces the lecture's general topic.
SECTIONS = {
    "logistic-regression": "§3 Classification in a form of neural network",
    "hidden-space": "§3.1 Looking at parameters in nonlinear classification",
    "relu-approximation": "§4 Regression in a form of neural network",
    "mnist": "§7 ANN with MNIST",
    "overfitting-regularization": "§8 More in ANN: overfitting, batch normalization, dropout",
}


def lecture_of(seed: str, lesson_name: str) -> tuple[str, str]:
    """(lecture title, topic) for the report; unknown files keep a neutral wording."""
    title, topic = LECTURES.get(seed, ("the lecture notes", ""))
    return title, SECTIONS.get(lesson_name, topic)


# What the lectures printed, by lesson and number key (only where a lecture printed the number).
PRINTED = {
    "logic-gates-xor": {
        "xor_no_hidden_outputs": [0.5, 0.5, 0.5, 0.5],
        "xor_hidden_outputs": [0.001413, 0.9953, 0.993166, 0.0079],
    },
    "two-layer-perceptron": {"loop_ms": 515.0, "listcomp_ms": 549.0, "vectorized_ms": 1.39},
    "numpy-networks": {
        "4.2 outputs": [0.00966449, 0.00786506, 0.99358898, 0.99211957],
        "4.4 errors": [0.49641003190272537, 0.008584525653247153, 0.005789459862507809, 0.004629176776769984,
                       0.003958765280273649, 0.003510122567861676],
        "4.4 outputs": [0.00260572, 0.99672209, 0.99701711, 0.00386759],
    },
}

# Readable labels: exact keys first, then patterns ({0} is the first group).
LABELS = {
    "and_perceptron_accuracy": "AND: perceptron accuracy",
    "and_neuron_accuracy": "AND: sigmoid neuron accuracy",
    "or_perceptron_accuracy": "OR: perceptron accuracy",
    "or_neuron_accuracy": "OR: sigmoid neuron accuracy",
    "xor_no_hidden_outputs": "XOR without a hidden layer: outputs",
    "xor_no_hidden_accuracy": "XOR without a hidden layer: accuracy",
    "hand_set_hidden": "XOR, hand-set weights: hidden units (y1, y2), rounded",
    "hand_set_outputs": "XOR, hand-set weights: outputs",
    "hand_set_accuracy": "XOR, hand-set weights: accuracy",
    "xor_hidden_outputs": "XOR, 2-3-1 network: outputs",
    "xor_hidden_accuracy": "XOR, 2-3-1 network: accuracy",
    "xor_hidden_steps": "XOR, 2-3-1 network: training steps",
    "wide_cost": "wide 2-10-1 network: final cost",
    "wide_accuracy": "wide 2-10-1 network: accuracy",
    "deep_cost": "deep 2-10-10-10-1 network: final cost",
    "deep_accuracy": "deep 2-10-10-10-1 network: accuracy",
    "sigmoid_gradient_ratio": "8 sigmoid hidden layers: gradient norm, first layer ÷ last",
    "relu_gradient_ratio": "8 ReLU hidden layers: gradient norm, first layer ÷ last",
    "sigmoid_deep_accuracy": "8 sigmoid hidden layers: accuracy",
    "relu_deep_accuracy": "8 ReLU hidden layers: accuracy",
    "list_size": "array length",
    "loop_ms": "for loop: time per call (ms)",
    "listcomp_ms": "list comprehension (the lecture's, a sum): time (ms)",
    "listcomp_product_ms": "list comprehension (inner product): time (ms)",
    "vectorized_ms": "np.dot: time per call (ms)",
    "loop_value": "for loop: result",
    "listcomp_value": "list comprehension (the lecture's): result",
    "listcomp_product_value": "list comprehension (inner product): result",
    "vectorized_value": "np.dot: result",
    "sum_a_plus_sum_b": "sum(a) + sum(b)",
    "vectorized_speedup": "speed-up of np.dot over the loop (×)",
    "max_weight_difference": "largest weight difference, mlplab vs the lecture's code",
    "max_weight_difference_random_init": "largest weight difference, random start",
    "zero_init_spread": "zero start: spread between hidden units",
    "random_init_spread": "random start: spread between hidden units",
    "node": "hidden units",
    "reference_test_accuracy": "the lecture's NumPy class: test accuracy",
    "zero_init_train_accuracy": "zero start: training accuracy",
    "zero_init_test_accuracy": "zero start: test accuracy",
    "random_init_train_accuracy": "random start: training accuracy",
    "random_init_test_accuracy": "random start: test accuracy",
    "train_accuracy": "training accuracy",
    "test_accuracy": "test accuracy",
    "test_loss": "test loss",
    "slope": "learned boundary: slope",
    "intercept": "learned boundary: intercept",
    "true_slope": "true boundary: slope",
    "true_intercept": "true boundary: intercept",
    "hidden_line_accuracy": "accuracy of the output's line in the hidden space",
    "single_neuron_accuracy": "one neuron, no hidden layer: accuracy",
    "mse_predicting_zero": "MSE of predicting 0 everywhere",
    "seconds": "training time (s)",
    "seconds_per_epoch": "time per epoch (s)",
    "data_total_variation": "total variation of the data",
    "train_images": "training images",
    "sample_index": "test image shown",
    "sample_prediction": "its prediction",
    "sample_label": "its true label",
    "4.2 outputs": "4.2: outputs after 10,000 updates",
    "4.2 max |mlplab - printed|": "4.2: largest |mlplab − printed|",
    "4.2 max |mlplab - seed code here|": "4.2: largest |mlplab − the lecture's code, run here|",
    "4.4 errors": "4.4: mean |error| every 10,000 updates",
    "4.4 outputs": "4.4: outputs after 60,000 updates",
    "4.4 max relative |error - printed|": "4.4: largest relative |error − printed error|",
    "4.4 max |mlplab - seed code here|": "4.4: largest |mlplab − the lecture's code, run here|",
    "4.4 max |errors - seed code here|": "4.4: largest |errors − the lecture's code's errors|",
    "4.4 with the listing's own data": "4.4 trained on the listing's own data: outputs",
    "4.3 relu output": "4.3: output for inputs 2 and 3",
    "4.5 first loss": "4.5: loss before training",
    "4.5 final loss": "4.5: loss after 100 updates",
    "4.5 query prediction": "4.5: prediction for the query bitmap",
    "4.5 query rounded": "4.5: prediction for the query, rounded",
}
PATTERNS = [
    (r"mse_k(\d+)", "{0} ReLU {units}: training MSE"),
    (r"dead_units_k(\d+)", "{0} ReLU {units}: dead units"),
    (r"epochs_k(\d+)", "{0} ReLU {units}: epochs"),
    (r"(linear|mlp)_test_accuracy", "{0}: test accuracy"),
    (r"(linear|mlp)_final_train_loss", "{0}: final training loss"),
    (r"(linear|mlp)_final_val_loss", "{0}: final validation loss"),
    (r"(linear|mlp)_accuracy_log", "{0}: test accuracy every 200 epochs"),
    (r"mse_(\w+)", "{0}: MSE on the data"),
    (r"train_mode_loss_(\w+)", "{0}: training loss (training mode)"),
    (r"total_variation_(\w+)", "{0}: total variation of the curve"),
    (r"turning_points_(\w+)", "{0}: turning points of the curve"),
    (r"epochs_(\w+)", "{0}: epochs"),
]
_NAMES = {"linear": "linear model", "mlp": "2-200-3 MLP", "base": "plain network", "bn": "with BatchNormalization",
          "dropout": "with Dropout"}


def label(key: str) -> str:
    """A reader's label for a number key: 'mse_k4' -> '4 ReLU unit(s): training MSE'."""
    if key in LABELS:
        return LABELS[key]
    for pattern, text in PATTERNS:
        match = re.fullmatch(pattern, key)
        if match:
            groups = match.groups()
            return text.format(*(_NAMES.get(g, g) for g in groups), units="unit" if groups[0] == "1" else "units")
    text = key.replace("_", " ")
    text = re.sub(r"\bmse\b", "MSE", text)
    return text[:1].upper() + text[1:]


def _number(value, percent: bool) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if percent:
            return f"{value:.1%}".replace(".0%", "%")
        if value == 0:
            return "0"
        if abs(value) >= 1e12 or abs(value) < 1e-3:
            return f"{value:.3e}"
        if abs(value) >= 1e5:  # 250,012.3: all the digits that tell two large results apart
            return f"{value:,.1f}"
        return f"{value:.4g}"
    return str(value)


def format_value(key: str, value) -> str:
    """Sensible rounding: 4 significant digits, accuracies as percentages, lists element by element."""
    percent = "accuracy" in key and all(
        isinstance(v, (int, float)) and 0 <= v <= 1 for v in (value if isinstance(value, list) else [value]))
    if isinstance(value, list):
        if len(value) > 12:
            return "[" + ", ".join(_format_item(key, v, percent) for v in value[:12]) + f", … ({len(value)} in all)]"
        return "[" + ", ".join(_format_item(key, v, percent) for v in value) + "]"
    return _number(value, percent)


def _format_item(key, value, percent):
    if isinstance(value, list):
        return format_value(key, value)
    return _number(value, percent)
