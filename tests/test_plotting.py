"""mlplab.plotting: every picture renders headless, saves as a real PNG/SVG, and shows the right numbers.

Each content check recomputes what the plot should contain from the model's public weights
(or from the model's own predict) and compares it with the data inside the matplotlib artists.
"""
import os
import subprocess
import sys
import textwrap

os.environ.setdefault("MPLBACKEND", "Agg")  # before matplotlib is imported anywhere in this process

import numpy as np
import pytest

import mlplab as ml

pytest.importorskip("matplotlib")  # an optional extra: pip install "mlplab[plot]"
import matplotlib.pyplot as plt  # noqa: E402

from mlplab import plotting  # noqa: E402
from mlplab.plotting import (plot_decision_boundary, plot_gradient_norms, plot_hidden_space, plot_history,  # noqa: E402
                             plot_mnist_prediction, plot_regression_fit, plot_relu_pieces, plot_relu_shapes,
                             plot_scatter_panels, save_figure)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def relu(z):
    return np.maximum(0.0, z)


def assert_saves(fig, tmp_path, stem):
    """Save as PNG and SVG and check both are real, non-trivial images."""
    png = save_figure(fig, tmp_path / f"{stem}.png")
    data = png.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 5_000
    svg = save_figure(fig, tmp_path / f"{stem}.svg")
    text = svg.read_text()
    assert "<svg" in text and len(text) > 5_000
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary debris


def xor_model():
    """The textbook XOR network (seed 000): hidden OR and NAND units, output AND."""
    model = ml.Sequential([ml.Dense(2, "sigmoid", input_dim=2), ml.Dense(1, "sigmoid")], dtype="float64")
    model.set_weights([np.array([[20.0, -20.0], [20.0, -20.0]]), np.array([-10.0, 30.0]),
                       np.array([[20.0], [20.0]]), np.array([-30.0])])
    return model


def mesh_class_at(mesh, points):
    """The class a QuadMesh shows under each point (cells located from the mesh's own edge coordinates)."""
    coords = mesh.get_coordinates()
    x_edges, y_edges = coords[0, :, 0], coords[:, 0, 1]
    regions = np.asarray(mesh.get_array()).reshape(len(y_edges) - 1, len(x_edges) - 1)
    cols = np.searchsorted(x_edges, points[:, 0]) - 1
    rows = np.searchsorted(y_edges, points[:, 1]) - 1
    return regions[rows, cols], regions


# -- infrastructure --------------------------------------------------------------------------------
def test_import_is_lazy_and_plots_headless(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.join(os.path.dirname(__file__), "..", "src"),
                                                      env.get("PYTHONPATH")]))
    code = textwrap.dedent(f"""
        import sys
        import mlplab, mlplab.plotting
        assert "matplotlib" not in sys.modules, "import mlplab.plotting must not import matplotlib"
        fig = mlplab.plotting.plot_relu_shapes()
        mlplab.plotting.save_figure(fig, {str(tmp_path / 'shapes.png')!r})
        import matplotlib
        print(matplotlib.get_backend())
    """)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().lower() == "agg"
    assert (tmp_path / "shapes.png").read_bytes()[:8] == PNG_SIGNATURE


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(ImportError, match=r'pip install "mlplab\[plot\]"'):
        plotting.plot_relu_shapes()


def test_save_figure_formats_errors_and_overwrite(tmp_path):
    fig = plot_relu_shapes()
    with pytest.raises(ValueError, match="path") as info:
        save_figure(fig, tmp_path / "picture.jpgx")
    assert "picture.jpgx" in str(info.value)
    with pytest.raises(ValueError, match="path"):
        save_figure(fig, tmp_path / "missing-folder" / "picture.png")
    target = tmp_path / "picture.PNG"  # suffix is case-insensitive; an existing file is replaced
    target.write_bytes(b"old")
    save_figure(fig, target)
    assert target.read_bytes()[:8] == PNG_SIGNATURE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["picture.PNG"]


def test_ax_argument_draws_on_given_axes_and_rejects_wrong_count():
    fig, ax = plt.subplots()
    assert plot_relu_shapes(ax=ax) is fig and len(ax.get_lines()) == 4 and ax.get_legend() is not None
    with pytest.raises(ValueError, match="ax"):
        plot_history({"loss": [1.0, 0.5], "accuracy": [0.5, 0.9]}, metrics=("loss", "accuracy"), ax=ax)


# -- decision boundary -------------------------------------------------------------------------------
def test_decision_boundary_xor_regions_match_labels(tmp_path):
    model = xor_model()
    fig = plot_decision_boundary(model, XOR_X, XOR_Y, resolution=101, title="XOR")
    ax = fig.axes[0]
    (mesh,) = [c for c in ax.collections if type(c).__name__ == "QuadMesh"]
    under_points, regions = mesh_class_at(mesh, XOR_X)
    assert regions.shape == (101, 101)
    assert set(np.unique(regions)) == {0, 1}
    np.testing.assert_array_equal(under_points, XOR_Y)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["C0", "C1"]
    assert ax.get_title() == "XOR"
    # The figure's pixels show at least two region colours, not a blank canvas.
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 10
    assert_saves(fig, tmp_path, "xor")


def test_decision_boundary_multiclass_callable_and_predict_objects():
    centres = np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -1.0]])
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    x = centres[y] + 0.3 * rng.standard_normal((60, 2))
    def nearest(points):  # 3 scores: minus the squared distance to each centre
        return -((points[:, None, :] - centres[None]) ** 2).sum(axis=2)
    fig = plot_decision_boundary(nearest, x, np.eye(3)[y], resolution=80)  # one-hot labels
    ax = fig.axes[0]
    (mesh,) = [c for c in ax.collections if type(c).__name__ == "QuadMesh"]
    under_points, regions = mesh_class_at(mesh, x)
    assert set(np.unique(regions)) == {0, 1, 2}
    np.testing.assert_array_equal(under_points, y)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["C0", "C1", "C2"]

    class Thresholded:  # not an mlplab model: just `predict` returning 1-D scores
        def predict(self, points):
            return sigmoid(4 * points[:, 0])
    x = x[np.abs(x[:, 0]) > 0.2]  # away from the boundary, where a grid cell cannot straddle it
    fig = plot_decision_boundary(Thresholded(), x, (x[:, 0] > 0).astype(int), resolution=50)
    (mesh,) = [c for c in fig.axes[0].collections if type(c).__name__ == "QuadMesh"]
    under_points, _ = mesh_class_at(mesh, x)
    np.testing.assert_array_equal(under_points, (x[:, 0] > 0).astype(int))


def test_decision_boundary_rejects_bad_inputs():
    with pytest.raises(ValueError, match="`x`"):
        plot_decision_boundary(xor_model(), np.zeros((4, 3)), XOR_Y)
    with pytest.raises(ValueError, match="`y`"):
        plot_decision_boundary(xor_model(), XOR_X, [0, 1, 1])
    with pytest.raises(TypeError, match="model"):
        plot_decision_boundary(42, XOR_X, XOR_Y)


# -- history -----------------------------------------------------------------------------------------
def test_history_lines_equal_history_lists(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 2))
    y = (x[:, 0] + x[:, 1] > 0).astype(float)[:, None]
    model = ml.Sequential([ml.Dense(4, "tanh", input_dim=2), ml.Dense(1, "sigmoid")], seed=0)
    model.compile(ml.SGD(0.5), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=4, batch_size=16, validation_split=0.25, verbose=0)
    fig = plot_history(history, metrics=("loss", "accuracy"))
    assert len(fig.axes) == 2
    for ax, name in zip(fig.axes, ("loss", "accuracy")):
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == {f"train_{name}", f"val_{name}"}
        np.testing.assert_allclose(lines[f"train_{name}"].get_ydata(), history.history[name])
        np.testing.assert_allclose(lines[f"val_{name}"].get_ydata(), history.history[f"val_{name}"])
        np.testing.assert_array_equal(lines[f"train_{name}"].get_xdata(), [1, 2, 3, 4])
        assert lines[f"val_{name}"].get_linestyle() == "--"
        assert ax.get_xlabel() == "epoch" and ax.get_title() == f"epoch vs {name}"
    assert_saves(fig, tmp_path, "history")


def test_history_accepts_dict_and_names_missing_metric():
    fig = plot_history({"loss": [3.0, 2.0, 1.0]}, metrics="loss")
    (line,) = fig.axes[0].get_lines()
    np.testing.assert_array_equal(line.get_ydata(), [3.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="metrics") as info:
        plot_history({"loss": [1.0]}, metrics=("accuracy",))
    assert "loss" in str(info.value)  # lists what is available
    with pytest.raises(TypeError, match="history"):
        plot_history([1.0, 2.0])


# -- hidden space --------------------------------------------------------------------------------------
def hidden_data():
    rng = np.random.default_rng(2)
    x = np.column_stack([10 * rng.random(200) - 5, 8 * rng.random(200) - 4])
    y = (-0.5 * (x[:, 0] - 1) ** 2 + 2 * x[:, 1] + 5 >= 0).astype(int)  # seed 003 §3.1
    return x, y


def test_hidden_space_points_and_lines_match_weights(tmp_path):
    x, y = hidden_data()
    model = ml.Sequential([ml.Dense(2, "sigmoid", input_dim=2), ml.Dense(1, "sigmoid")], dtype="float64")
    w1, b1 = np.array([[1.5, -2.0], [2.0, 1.0]]), np.array([1.0, -0.5])
    w2, b2 = np.array([[3.0], [-4.0]]), np.array([0.5])
    model.set_weights([w1, b1, w2, b2])
    fig = plot_hidden_space(model, x, y)
    ax_hidden, ax_input = fig.axes
    z = sigmoid(x @ w1 + b1)  # the hidden activations, by hand
    for k, collection in enumerate(ax_hidden.collections[:2]):
        np.testing.assert_allclose(collection.get_offsets(), z[y == k])
    assert ax_hidden.get_xlim() == (0.0, 1.0) and ax_hidden.get_ylim() == (0.0, 1.0)
    (boundary,) = ax_hidden.get_lines()
    for point in boundary.get_xydata():
        assert point @ w2[:, 0] + b2[0] == pytest.approx(0.0, abs=1e-9)
    unit_lines = ax_input.get_lines()
    assert len(unit_lines) == 2
    for j, line in enumerate(unit_lines):
        for point in line.get_xydata():
            assert point @ w1[:, j] + b1[j] == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(ax_input.collections[0].get_offsets(), x[y == 0])
    assert_saves(fig, tmp_path, "hidden")


def test_hidden_space_deeper_layer_uses_forward_through_earlier_layers():
    x, y = hidden_data()
    model = ml.Sequential([ml.Dense(4, "relu", input_dim=2), ml.Dense(2, "tanh"), ml.Dense(1, "sigmoid")],
                          seed=3, dtype="float64")
    w1, b1, w2, b2, _, _ = model.get_weights()
    fig = plot_hidden_space(model, x, y, layer=1)
    ax_hidden, ax_input = fig.axes
    z = np.tanh(relu(x @ w1 + b1) @ w2 + b2)
    np.testing.assert_allclose(ax_hidden.collections[1].get_offsets(), z[y == 1])
    assert ax_hidden.get_xlim() == (-1.0, 1.0)
    assert len(ax_input.get_legend().get_texts()) == 4  # C0, C1 and the two units' zero contours


def test_hidden_space_softmax_head_draws_equal_probability_line():
    x, y = hidden_data()
    model = ml.Sequential([ml.Dense(2, "sigmoid", input_dim=2), ml.Dense(2, "softmax")], seed=1, dtype="float64")
    _, _, w2, b2 = model.get_weights()
    fig = plot_hidden_space(model, x, np.eye(2)[y])
    (boundary,) = fig.axes[0].get_lines()
    for point in boundary.get_xydata():  # p0 = p1  ⇔  (w₁ − w₀)·z + (b₁ − b₀) = 0
        assert point @ (w2[:, 1] - w2[:, 0]) + (b2[1] - b2[0]) == pytest.approx(0.0, abs=1e-9)


def test_hidden_space_errors():
    x, y = hidden_data()
    wide = ml.Sequential([ml.Dense(3, "sigmoid", input_dim=2), ml.Dense(1, "sigmoid")], seed=0)
    with pytest.raises(ValueError, match="exactly 2 units") as info:
        plot_hidden_space(wide, x, y)
    assert "3 units" in str(info.value)
    three_d = ml.Sequential([ml.Dense(2, "sigmoid", input_dim=3), ml.Dense(1, "sigmoid")], seed=0)
    with pytest.raises(ValueError, match=r"\(n_samples, 2\)"):
        plot_hidden_space(three_d, np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="layer"):
        plot_hidden_space(wide, x, y, layer=5)


# -- ReLU pieces and shapes ----------------------------------------------------------------------------
@pytest.mark.parametrize("use_bias", [False, True])
def test_relu_pieces_lines_are_pieces_sum_and_target(tmp_path, use_bias):
    model = ml.Sequential([ml.Dense(3, "relu", input_dim=1), ml.Dense(1, use_bias=use_bias)], dtype="float64")
    w1, b1, w2 = np.array([[1.0, -2.0, 0.5]]), np.array([-0.5, 0.3, 0.0]), np.array([[1.5], [-1.0], [2.0]])
    model.set_weights([w1, b1, w2] + ([np.array([0.25])] if use_bias else []))
    target = lambda x: x ** 3 + 0.1 * x ** 2 - x + 0.1  # noqa: E731  (seed 003's function)
    fig = plot_relu_pieces(model, x_range=(-2, 2), target=target)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3 + 2  # k pieces + sum + target
    by_label = {line.get_label(): line for line in lines}
    for i in range(3):
        piece = by_label[f"piece {i + 1}"]
        np.testing.assert_allclose(piece.get_ydata(), w2[i, 0] * relu(w1[0, i] * piece.get_xdata() + b1[i]))
    total = by_label["sum (model output)"]
    np.testing.assert_allclose(total.get_ydata(), model.predict(total.get_xdata()[:, None])[:, 0], atol=1e-12)
    assert by_label["target"].get_linestyle() == "--"
    np.testing.assert_allclose(by_label["target"].get_ydata(), target(by_label["target"].get_xdata()))
    if use_bias:
        assert_saves(fig, tmp_path, "pieces")


def test_relu_pieces_target_pairs_and_no_sum():
    model = ml.Sequential([ml.Dense(2, "relu", input_dim=1), ml.Dense(1, use_bias=False)], seed=0)
    tx, ty = np.linspace(-1, 1, 7), np.linspace(0, 1, 7)
    fig = plot_relu_pieces(model, target=(tx, ty), show_sum=False, ylim=(-1.7, 2.2))
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2 + 1 and ax.get_ylim() == (-1.7, 2.2)
    target = ax.get_lines()[-1]  # drawn last, on top of the model's lines
    np.testing.assert_array_equal(target.get_ydata(), ty)
    assert target.get_label() == "target" and target.get_zorder() > max(l.get_zorder() for l in ax.get_lines()[:-1])


@pytest.mark.parametrize("layers, match", [
    (lambda: [ml.Dense(3, "sigmoid", input_dim=1), ml.Dense(1)], "relu"),
    (lambda: [ml.Dense(3, "relu", input_dim=1), ml.Dense(1, "sigmoid")], "linear output"),
    (lambda: [ml.Dense(3, "relu", input_dim=2), ml.Dense(1)], "1-D input"),
    (lambda: [ml.Dense(3, "relu", input_dim=1), ml.Dense(2)], "Dense\\(1\\)"),
    (lambda: [ml.Dense(3, "relu", input_dim=1), ml.Dense(3, "relu"), ml.Dense(1)], "exactly two Dense"),
])
def test_relu_pieces_rejects_other_architectures(layers, match):
    model = ml.Sequential(layers(), seed=0)
    with pytest.raises(ValueError, match=match):
        plot_relu_pieces(model)


def test_relu_shapes_match_seed_formulas(tmp_path):
    fig = plot_relu_shapes()
    assert len(fig.axes) == 4
    formulas = [lambda x: relu(x), lambda x: relu(x - 0.5), lambda x: relu(-2 * x), lambda x: -relu(-2 * x - 1)]
    for ax, formula in zip(fig.axes, formulas):
        (line,) = ax.get_lines()
        x = line.get_xdata()
        assert x.min() == -1.5 and x.max() == 1.5
        np.testing.assert_allclose(line.get_ydata(), formula(x))
    assert [ax.get_title() for ax in fig.axes] == ["$h(x)$", "$h(x - 0.5)$", "$h(-2x)$", "$-h(-2x - 1)$"]
    assert_saves(fig, tmp_path, "shapes")


# -- gradient norms ---------------------------------------------------------------------------------------
def test_gradient_norms_from_histories_and_dicts(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((32, 2))
    y = (x[:, 0] > 0).astype(float)[:, None]
    histories = {}
    for activation in ("sigmoid", "relu"):
        model = ml.Sequential([ml.Dense(8, activation, input_dim=2)] + [ml.Dense(8, activation) for _ in range(4)]
                              + [ml.Dense(1, "sigmoid")], seed=0)
        model.compile(ml.SGD(0.1), "binary_crossentropy")
        histories[activation] = model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    fig = plot_gradient_norms(list(histories.values()), labels=list(histories))
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    for line, (name, history) in zip(ax.get_lines(), histories.items()):
        assert line.get_label() == name
        np.testing.assert_allclose(line.get_ydata(), list(history.gradient_norms[-1].values()))
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 7))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4", "5", "6"]  # as `explain` numbers
    assert_saves(fig, tmp_path, "gradients")

    first = plot_gradient_norms(histories["sigmoid"], epoch=0).axes[0].get_lines()[0]
    np.testing.assert_allclose(first.get_ydata(), list(histories["sigmoid"].gradient_norms[0].values()))
    (line,) = plot_gradient_norms({"a": 1.0, "b": 0.1, "c": 0.01}).axes[0].get_lines()
    np.testing.assert_array_equal(line.get_ydata(), [1.0, 0.1, 0.01])
    with pytest.raises(ValueError, match="epoch"):
        plot_gradient_norms(histories["relu"], epoch=5)
    with pytest.raises(ValueError, match="labels"):
        plot_gradient_norms(list(histories.values()), labels=["one"])
    with pytest.raises(ValueError, match="gradient norms"):
        plot_gradient_norms(ml.History())


# -- MNIST, regression, scatter panels ------------------------------------------------------------------
def test_mnist_prediction_image_stem_and_title(tmp_path):
    rng = np.random.default_rng(5)
    image = rng.random(784)
    probabilities = rng.dirichlet(np.ones(10))[None, :]
    fig = plot_mnist_prediction(image, probabilities)
    ax_image, ax_probs = fig.axes
    expected = int(probabilities.argmax())
    assert ax_image.get_title() == f"Prediction: {expected}"
    np.testing.assert_array_equal(ax_image.get_images()[0].get_array(), image.reshape(28, 28))
    stem = ax_probs.containers[0]
    np.testing.assert_allclose(stem.markerline.get_ydata(), probabilities[0])
    assert_saves(fig, tmp_path, "mnist")
    with pytest.raises(ValueError, match="image"):
        plot_mnist_prediction(np.zeros(780), probabilities)
    with pytest.raises(ValueError, match="probabilities"):
        plot_mnist_prediction(image, np.zeros((2, 10)))


def test_regression_fit_curve_is_model_prediction(tmp_path):
    data_x = np.linspace(-4.5, 4.5, 10)  # seed 003 §8
    data_y = np.array([0.9819, 0.7973, 1.9737, 0.1838, 1.3180, -0.8361, -0.6591, -2.4701, -2.8122, -6.2512])
    model = ml.Sequential([ml.Dense(8, "sigmoid", input_dim=1), ml.Dense(1)], seed=0, dtype="float64")
    grid = np.linspace(-4.5, 4.5, 100)
    fig = plot_regression_fit(model, data_x, data_y, x_grid=grid)
    points, curve = fig.axes[0].get_lines()
    np.testing.assert_array_equal(points.get_xdata(), data_x)
    np.testing.assert_array_equal(points.get_ydata(), data_y)
    np.testing.assert_array_equal(curve.get_xdata(), grid)
    np.testing.assert_allclose(curve.get_ydata(), model.predict(grid[:, None])[:, 0])
    assert_saves(fig, tmp_path, "regression")
    (_, curve) = plot_regression_fit(lambda x: 2 * x, data_x[:, None], data_y).axes[0].get_lines()
    np.testing.assert_allclose(curve.get_ydata(), 2 * curve.get_xdata())
    assert curve.get_xdata().min() == -4.5 and curve.get_xdata().max() == 4.5
    with pytest.raises(ValueError, match="`x`"):
        plot_regression_fit(model, np.zeros((10, 2)), data_y)
    with pytest.raises(ValueError, match="`y`"):
        plot_regression_fit(model, data_x, data_y[:5])


def test_scatter_panels_titles_and_class_colours(tmp_path):
    rng = np.random.default_rng(6)
    x_train, x_test = rng.standard_normal((40, 2)), rng.standard_normal((15, 2))
    y_test = rng.integers(0, 3, 15)
    scores_test, scores_train = rng.random((15, 3)), rng.random((40, 3))
    fig = plot_scatter_panels(x_test, y_test, scores_test, x_train, scores_train)
    assert [ax.get_title() for ax in fig.axes] == ["True test y", "Predicted test y", "Prediction on train set"]
    expected = [(x_test, y_test), (x_test, scores_test.argmax(1)), (x_train, scores_train.argmax(1))]
    for ax, (points, labels) in zip(fig.axes, expected):
        (dots,) = ax.collections
        np.testing.assert_allclose(dots.get_offsets(), points)
        np.testing.assert_array_equal(dots.get_array(), labels)
        assert dots.get_clim() == (-0.5, 2.5)  # same colour per class in every panel
    assert_saves(fig, tmp_path, "panels")
    with pytest.raises(ValueError, match="pred_train"):
        plot_scatter_panels(x_test, y_test, scores_test, x_train, scores_train[:10])
