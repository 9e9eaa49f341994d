"""The command line on the user's own files, end to end in subprocesses: train, evaluate, predict, inspect,
export, --help/--version, and one-line errors for every mistake."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mlplab as ml

SRC = str(Path(__file__).resolve().parents[1] / "src")


def mlplab(*args, cwd, check=True):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-m", "mlplab", *map(str, args)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    if check:
        assert result.returncode == 0, result.stderr
    return result


def write_csv(path, header, rows):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def flowers(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    labels = np.where(x[:, 0] + x[:, 1] > 0.5, "setosa", np.where(x[:, 2] > 0, "versicolor", "virginica"))
    return x, labels


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A folder with train.csv (string labels), new.csv (columns reordered, an extra one) and a trained model."""
    folder = tmp_path_factory.mktemp("cli")
    x, labels = flowers(240, 0)
    write_csv(folder / "train.csv", ["petal length", "width", "z", "species"],
              [[f"{v:.5f}" for v in row] + [label] for row, label in zip(x, labels)])
    x_new, labels_new = flowers(40, 1)
    write_csv(folder / "new.csv", ["id", "z", "species", "petal length", "width"],
              [[i, row[2], label, row[0], row[1]] for i, (row, label) in enumerate(zip(x_new, labels_new))])
    result = mlplab("train", "train.csv", "--target", "species", "--epochs", "40", "--hidden", "16",
                    "--learning-rate", "0.01", "--history", "history.csv", "--out", "flowers.safetensors",
                    cwd=folder)
    assert "Saved flowers.safetensors" in result.stdout and "Epoch 40/40" in result.stdout
    return folder


def test_train_saves_model_with_preprocessing_and_history(work):
    model = ml.load_model(work / "flowers.safetensors")
    prep = model.preprocessing
    assert prep["class_labels"] == ["setosa", "versicolor", "virginica"]
    assert prep["feature_names"] == ["petal length", "width", "z"] and prep["target"] == "species"
    x = np.loadtxt(work / "train.csv", delimiter=",", skiprows=1, usecols=(0, 1, 2))
    np.testing.assert_allclose(prep["mean"], x.mean(axis=0)) and np.testing.assert_allclose(prep["scale"], x.std(0))
    rows = (work / "history.csv").read_text().splitlines()
    assert rows[0] == "epoch,loss,accuracy,val_loss,val_accuracy" and len(rows) == 41


def test_predict_matches_python_and_names_the_classes(work):
    mlplab("predict", "flowers.safetensors", "new.csv", "--out", "predictions.csv", cwd=work)
    with open(work / "predictions.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 40
    assert list(rows[0]) == ["species", "probability_setosa", "probability_versicolor", "probability_virginica"]
    model = ml.load_model(work / "flowers.safetensors")
    prep = model.preprocessing
    with open(work / "new.csv") as file:
        new = list(csv.DictReader(file))
    x = np.array([[float(r[name]) for name in prep["feature_names"]] for r in new])
    p = model.predict((x - prep["mean"]) / np.array(prep["scale"]))
    np.testing.assert_allclose([[float(r[f"probability_{c}"]) for c in prep["class_labels"]] for r in rows], p,
                               rtol=1e-5, atol=1e-6)
    assert [r["species"] for r in rows] == [prep["class_labels"][i] for i in p.argmax(axis=1)]
    accuracy = np.mean([r["species"] == n["species"] for r, n in zip(rows, new)])
    assert accuracy > 0.8


def test_evaluate_and_inspect(work):
    result = mlplab("evaluate", "flowers.safetensors", "new.csv", "--json", cwd=work)
    scores = json.loads(result.stdout)
    assert scores["rows"] == 40 and scores["accuracy"] > 0.8 and scores["loss"] > 0
    text = mlplab("evaluate", "flowers.safetensors", "new.csv", cwd=work).stdout
    assert "accuracy:" in text and "loss:" in text
    text = mlplab("inspect", "flowers.safetensors", cwd=work).stdout
    assert "Total params" in text and "Classes (3): setosa, versicolor, virginica" in text
    assert "Features (3): petal length, width, z" in text and "format mlplab 1.0" in text
    metadata = json.loads(mlplab("inspect", "flowers.safetensors", "--json", cwd=work).stdout)
    assert metadata["preprocessing"]["target"] == "species" and "weights/dense/weight" in metadata["tensors"]


def test_export_onnx_runs_in_onnxruntime_on_raw_columns(work):
    pytest.importorskip("onnx")
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    onnxruntime = pytest.importorskip("onnxruntime")
    mlplab("export", "flowers.safetensors", "--onnx", "flowers.onnx", cwd=work)
    session = onnxruntime.InferenceSession(str(work / "flowers.onnx"), providers=["CPUExecutionProvider"])
    x = np.loadtxt(work / "train.csv", delimiter=",", skiprows=1, usecols=(0, 1, 2), dtype=np.float32)
    probabilities, label = session.run(["probabilities", "label"], {"input": x})
    model = ml.load_model(work / "flowers.safetensors")
    prep = model.preprocessing
    expected = model.predict((x - np.array(prep["mean"])) / np.array(prep["scale"]))
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    np.testing.assert_array_equal(label, expected.argmax(axis=1))


def test_regression_and_npz(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 2))
    price = 3 * x[:, 0] - x[:, 1] + 0.5
    write_csv(tmp_path / "houses.csv", ["rooms", "age", "price"], np.column_stack([x, price]).tolist())
    mlplab("train", "houses.csv", "--target", "price", "--epochs", "60", "--learning-rate", "0.01",
           "--verbose", "0", "--out", "houses.safetensors", cwd=tmp_path)
    assert ml.load_model(tmp_path / "houses.safetensors").preprocessing["task"] == "regression"
    out = mlplab("predict", "houses.safetensors", "houses.csv", cwd=tmp_path).stdout.splitlines()
    assert out[0] == "price" and len(out) == 201
    assert np.corrcoef([float(v) for v in out[1:]], price)[0, 1] > 0.99
    scores = json.loads(mlplab("evaluate", "houses.safetensors", "houses.csv", "--json", cwd=tmp_path).stdout)
    assert scores["r2"] > 0.95
    np.savez(tmp_path / "data.npz", x=x, y=(price > 0.5).astype(int))
    mlplab("train", "data.npz", "--epochs", "5", "--verbose", "0", "--out", "npz.safetensors", cwd=tmp_path)
    assert ml.load_model(tmp_path / "npz.safetensors").preprocessing["class_labels"] == [0, 1]
    lines = mlplab("predict", "npz.safetensors", "data.npz", cwd=tmp_path).stdout.splitlines()
    assert lines[0] == "y,probability_0,probability_1" and len(lines) == 201


def test_closed_pipe_exits_quietly(work):
    x, _ = flowers(6000, 5)
    write_csv(work / "big.csv", ["petal length", "width", "z"], x.tolist())
    env = {**os.environ, "PYTHONPATH": SRC}
    result = subprocess.run(f"{sys.executable} -m mlplab predict flowers.safetensors big.csv | head -n 2",
                            shell=True, cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.count("\n") == 2 and result.stderr == ""


def test_help_shows_defaults_choices_and_an_example_for_every_command(tmp_path):
    from mlplab.cli.main import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"train", "evaluate", "predict", "inspect", "export", "lessons", "explain"} <= set(commands)
    for name in commands:
        text = mlplab(name, "--help", cwd=tmp_path).stdout
        assert "example" in text, name
        assert f"mlplab {name}" in text
    train = " ".join(mlplab("train", "--help", cwd=tmp_path).stdout.split())
    assert "(default: adam)" in train and "sgd" in train and "(default: 32)" in train
    assert mlplab("--version", cwd=tmp_path).stdout.strip() == f"mlplab {ml.__version__}"


@pytest.mark.parametrize("args, message", [
    (["train", "missing.csv", "--target", "species", "--out", "m.st", "--missing", "zero"], "invalid choice: 'zero'"),
    (["train", "text.csv", "--target", "Species", "--out", "m.st"], "Did you mean 'species'?"),
    (["train", "empty.csv", "--target", "y", "--out", "m.st"], "empty.csv: the file is empty"),
    (["train", "header.csv", "--target", "y", "--out", "m.st"], "no data rows"),
    (["train", "text.csv", "--target", "price", "--out", "m.st"], "no target column 'price'"),
    (["train", "text.csv", "--out", "m.st"], "Missing argument --target"),
    (["train", "text.csv", "--target", "species"], "Missing argument --out"),
    (["train", "nothing.csv", "--target", "y", "--out", "m.st"], "No data file 'nothing.csv'"),
    (["train", "--data", "text.csv"], "unrecognized arguments: --data"),
    (["train", "--hidden", "3,x"], "expected positive integers"),
    (["train", "--optimizer", "adamm"], "invalid choice: 'adamm'"),
    (["predict", "text.csv", "text.csv"], "Cannot load 'text.csv'"),
    (["predict", "flowers.pt", "text.csv"], "pickle"),
    (["export", "missing.csv"], "required: --onnx"),
    (["inspect", "nothing.safetensors"], "nothing.safetensors: No such file"),
])
def test_user_mistakes_get_one_line_and_a_nonzero_exit(tmp_path, args, message):
    write_csv(tmp_path / "missing.csv", ["a", "b", "species"], [[1, 2, "x"], [3, "", "y"]])
    write_csv(tmp_path / "text.csv", ["a", "b", "species"], [[1, "red", "x"], [3, 4, "y"]])
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("a,b,y\n")
    import pickle

    (tmp_path / "flowers.pt").write_bytes(pickle.dumps({"state_dict": [1.0]}))
    result = mlplab(*args, cwd=tmp_path, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_model_without_preprocessing_predicts_columns_by_position(tmp_path):
    model = ml.Sequential([ml.Dense(2, "softmax", input_dim=2)], seed=0)
    model.save(tmp_path / "plain.safetensors")
    write_csv(tmp_path / "x.csv", ["u", "v"], [[0.5, 1.0], [2.0, -1.0]])
    lines = mlplab("predict", "plain.safetensors", "x.csv", cwd=tmp_path).stdout.splitlines()
    assert lines[0] == "prediction,probability_0,probability_1"
    np.testing.assert_allclose([[float(v) for v in line.split(",")[1:]] for line in lines[1:]],
                               model.predict([[0.5, 1.0], [2.0, -1.0]]), rtol=1e-5)


def test_readme_section_runs_as_written(tmp_path):
    """The README's "Your own data" commands and Python lines, on a generated flowers.csv."""
    pytest.importorskip("onnx")
    onnxruntime_spec = pytest.importorskip("onnxruntime")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Your own data", 1)[1].split("\n## ", 1)[0]
    bash = section.split("```bash\n", 1)[1].split("```", 1)[0]
    python = section.split("```text\n", 1)[1].split("```", 1)[0]
    import shutil

    for name in ("penguins.csv", "new.csv", "test.csv"):  # the raw palmerpenguins table
        shutil.copy(Path(__file__).resolve().parent / "data" / "penguins.csv", tmp_path / name)
    for line in bash.strip().splitlines():
        command = line.split("#", 1)[0].split()
        if not command:  # a line of the output shown
            continue
        assert command[0] == "mlplab"
        mlplab(*command[1:], cwd=tmp_path)
    assert (tmp_path / "predictions.csv").exists() and (tmp_path / "penguins.onnx").exists()
    code = "\n".join(line[4:] for line in python.splitlines() if line.startswith(">>> "))
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    pytest.importorskip("pandas")
    namespace = {"ml": ml, "onnxruntime": onnxruntime_spec}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(code, namespace)
    finally:
        os.chdir(cwd)
    np.testing.assert_allclose(namespace["probabilities"], namespace["p"], atol=1e-5)


@pytest.mark.parametrize("loss", ["binary_crossentropy", "categorical_crossentropy"])
def test_other_classification_losses_train_predict_and_evaluate(tmp_path, loss):
    x, labels = flowers(120, 2)
    yes_no = np.where(labels == "setosa", "yes", "no")
    write_csv(tmp_path / "d.csv", ["a", "b", "c", "answer"], [list(r) + [v] for r, v in zip(x, yes_no)])
    mlplab("train", "d.csv", "--target", "answer", "--loss", loss, "--epochs", "30", "--learning-rate", "0.01",
           "--verbose", "0", "--out", "m.safetensors", cwd=tmp_path)
    lines = mlplab("predict", "m.safetensors", "d.csv", cwd=tmp_path).stdout.splitlines()
    assert lines[0] == "answer,probability_no,probability_yes"
    predicted = [line.split(",")[0] for line in lines[1:]]
    assert np.mean(np.array(predicted) == yes_no) > 0.85
    scores = json.loads(mlplab("evaluate", "m.safetensors", "d.csv", "--json", cwd=tmp_path).stdout)
    assert scores["accuracy"] > 0.85


def test_built_in_dataset_with_out_saves_a_model(tmp_path):
    result = mlplab("train", "moons", "--epochs", "20", "--samples", "200", "--verbose", "0", "--out",
                    "moons.safetensors", cwd=tmp_path, check=False)
    assert result.returncode in (0, 1) and "Decision regions" in result.stdout
    model = ml.load_model(tmp_path / "moons.safetensors")
    assert model.preprocessing["feature_names"] == ["x0", "x1"] and model.preprocessing["class_labels"] == [0, 1]
