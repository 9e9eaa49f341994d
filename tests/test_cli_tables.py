"""Real tables from the shell (issue 17): raw penguins and a regression table with gaps train and
predict; the saved preprocessing equals scikit-learn's transformers and the ONNX graph; a fitted
Pipeline saves to one file; every mistake is one line, exit code 2, nothing written."""
import contextlib
import io
import json
import os
import shutil
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest

import mlplab as ml
from mlplab.cli.main import main
from mlplab.datasets import tables as tabular
from mlplab.files.preprocessing import fit_table, prepare_inputs

DATA = Path(__file__).resolve().parent / "data"
PENGUINS = DATA / "penguins.csv"
DIABETES = DATA / "diabetes_missing.csv"


def run(*args, cwd):
    """(exit code, stdout, stderr) of `mlplab ARGS` run in-process in `cwd`."""
    out, err = io.StringIO(), io.StringIO()
    before = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exit:  # argparse's own errors
                code = exit.code
    finally:
        os.chdir(before)
    assert "Traceback" not in err.getvalue()
    return code, out.getvalue(), err.getvalue()


def ok(*args, cwd):
    code, out, err = run(*args, cwd=cwd)
    assert code == 0, err
    return out, err


@pytest.fixture(scope="module")
def penguins(tmp_path_factory):
    """A model trained by the CLI on the raw penguins CSV (strings, NA cells)."""
    folder = tmp_path_factory.mktemp("penguins")
    shutil.copy(PENGUINS, folder / "penguins.csv")
    ok("train", "penguins.csv", "--target", "species", "--out", "p.safetensors", "--verbose", "0", cwd=folder)
    return folder


# -- the table reader -----------------------------------------------------------------------------------
def test_csv_dialects_read_alike(tmp_path):
    rows = [["a", "b", "name"], ["1", "2.5", "x, y"], ["3", "4", 'say "hi"']]
    import csv

    for name, delimiter, newline, bom in [("c.csv", ",", "\r\n", True), ("s.csv", ";", "\n", False),
                                         ("t.tsv", "\t", "\n", False)]:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(rows)
        (tmp_path / name).write_text(("\ufeff" if bom else "") + buffer.getvalue(), encoding="utf-8", newline="")
        table = tabular.read_table(tmp_path / name)
        assert table.names == ["a", "b", "name"], name
        assert table.columns["name"] == ["x, y", 'say "hi"'], name


def test_line_numbers_count_blank_lines_and_the_header(tmp_path):
    (tmp_path / "gaps.csv").write_text("a,b,y\n1,2,x\n\n\n3,oops,y\n4,5,x\n")
    table = tabular.read_table(tmp_path / "gaps.csv")
    assert [table.line(i) for i in range(len(table))] == [2, 5, 6]
    with pytest.raises(ValueError, match="line 5"):
        tabular.numeric_column(table, "b")


def test_pandas_default_csv_index_is_recognised_and_reported():
    table = tabular.read_table(DATA / "pandas_index.csv")
    assert table.names == ["bill_length_mm", "flipper_length_mm", "species"]
    assert "pandas' index" in table.notes[0]


def test_integer_labels_beyond_2_53_stay_distinct(tmp_path):
    big = 2 ** 53
    (tmp_path / "big.csv").write_text("a,y\n" + "".join(f"{i},{big + i % 2}\n" for i in range(10)))
    values = tabular.target_values(tabular.read_table(tmp_path / "big.csv"), "y")
    assert sorted(set(values)) == [big, big + 1]


def test_parquet_and_feather_read_as_the_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.read_csv(PENGUINS)
    frame.to_parquet(tmp_path / "p.parquet")
    frame.to_feather(tmp_path / "p.feather")
    csv_table = tabular.read_table(PENGUINS)
    types = tabular.infer_types(csv_table, "species")
    expected, _, _ = fit_table(csv_table, "species", types)
    for name in ("p.parquet", "p.feather"):
        table = tabular.read_table(tmp_path / name)
        assert tabular.infer_types(table, "species") == types
        spec, _, _ = fit_table(table, "species", types)
        assert json.dumps(spec) == json.dumps(expected)


# -- training and predicting on raw tables --------------------------------------------------------------
def test_raw_penguins_train_and_predict_new_raw_rows(penguins):
    model = ml.load_model(penguins / "p.safetensors")
    prep = model.preprocessing
    assert [b["kind"] for b in prep["columns"]].count("onehot") == 2 and prep["class_labels"][0] == "Adelie"
    (penguins / "new.csv").write_text(
        "island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n"
        "Torgersen,39.1,18.7,181,3750,male,2007\n"
        "Biscoe,NA,NA,NA,NA,NA,2008\n"
        "Atlantis,46.5,14.8,217,5200,female,2009\n")
    out, _ = ok("predict", "p.safetensors", "new.csv", cwd=penguins)
    lines = out.splitlines()
    assert lines[0].startswith("species,probability_Adelie") and len(lines) == 4
    assert lines[1].split(",")[0] == "Adelie" and lines[3].split(",")[0] == "Gentoo"
    x, errors = prepare_inputs(model, tabular.read_table(penguins / "new.csv"))
    assert not errors
    expected = model.predict(x)
    got = np.array([[float(v) for v in line.split(",")[1:]] for line in lines[1:]])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_summary_reports_saved_weights_epoch_and_baseline(tmp_path):
    shutil.copy(PENGUINS, tmp_path / "penguins.csv")
    out, _ = ok("train", "penguins.csv", "--target", "species", "--out", "m.st", "--verbose", "0",
                "--epochs", "40", "--early-stopping", "3", cwd=tmp_path)
    final = next(line for line in out.splitlines() if line.startswith("Final"))
    assert "saved weights, epoch" in final and "baseline val_accuracy" in final
    accuracy = float(final.split("val_accuracy ")[1].split()[0])
    model = ml.load_model(tmp_path / "m.st")
    data = tabular.read_table(tmp_path / "penguins.csv")
    x, _ = prepare_inputs(model, data)
    order = np.random.default_rng(0).permutation(len(x))
    val = np.sort(order[:int(round(len(x) * 0.2))])
    labels = np.array(model.preprocessing["class_labels"])
    truth = np.array(data.columns["species"])[val]
    assert accuracy == pytest.approx((labels[model.predict(x[val]).argmax(1)] == truth).mean(), abs=1e-4)
    assert stat.S_IMODE(os.stat(tmp_path / "m.st").st_mode) & 0o044 == 0o044


def test_regression_with_gaps_beats_the_mean_in_target_units(tmp_path):
    shutil.copy(DIABETES, tmp_path / "d.csv")
    out, err = ok("train", "d.csv", "--target", "target", "--out", "d.st", "--verbose", "0", cwd=tmp_path)
    assert "warning" not in err
    final = next(line for line in out.splitlines() if line.startswith("Final"))
    assert float(final.split("val_r2 ")[1].split()[0]) > float(final.split("baseline val_r2 ")[1])
    model = ml.load_model(tmp_path / "d.st")
    assert model.preprocessing["target_scale"] > 10  # fitted on the standardized target
    pred, _ = ok("predict", "d.st", "d.csv", cwd=tmp_path)
    predicted = np.array([float(v) for v in pred.splitlines()[1:]])
    truth = np.array(tabular.target_values(tabular.read_table(tmp_path / "d.csv"), "target"))
    assert abs(predicted.mean() - truth.mean()) < 0.2 * truth.std()  # the target's units, not standardized ones
    out, _ = ok("evaluate", "d.st", "d.csv", "--json", cwd=tmp_path)
    r2 = 1 - np.sum((truth - predicted) ** 2) / np.sum((truth - truth.mean()) ** 2)
    assert json.loads(out)["r2"] == pytest.approx(r2, abs=1e-5)


def test_missing_rules_and_indicator_match_scikit_learn():
    pd = pytest.importorskip("pandas")
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    table = tabular.read_table(DIABETES)
    types = tabular.infer_types(table, "target")
    frame = pd.read_csv(DIABETES)
    numbers = [n for n, k in types.items() if k == "numeric"]
    for rule, strategy in [("mean", "mean"), ("median", "median"), ("most-frequent", "most_frequent")]:
        spec, x, errors = fit_table(table, "target", types, missing=rule, indicator=True, standardize=True)
        assert not errors
        filled = SimpleImputer(strategy=strategy, add_indicator=True).fit_transform(frame[numbers])
        scaled = StandardScaler().fit_transform(filled[:, :len(numbers)])
        names = [b["name"] for b in spec["columns"] if b["kind"] == "numeric"]
        positions = [i for i, b in enumerate(_inputs(spec)) if b == "numeric"]
        np.testing.assert_allclose(x[:, positions], scaled[:, [numbers.index(n) for n in names]], atol=1e-12)
        indicators = [i for i, b in enumerate(_inputs(spec)) if b == "indicator"]
        raw_indicators = filled[:, len(numbers):]
        assert np.array_equal((x[:, indicators] > 0), raw_indicators.astype(bool))
    onehot = OneHotEncoder().fit_transform(frame[["sex"]]).toarray()
    positions = [i for i, b in enumerate(_inputs(spec)) if b == "onehot"]
    np.testing.assert_array_equal(x[:, positions], onehot)


def _inputs(spec):
    kinds = []
    for block in spec["columns"]:
        kinds += [block["kind"]] * (len(block["categories"]) if block["kind"] == "onehot" else 1)
    return kinds


def test_on_error_reports_lines_and_skip_scores_the_rest(tmp_path):
    shutil.copy(PENGUINS, tmp_path / "penguins.csv")
    ok("train", "penguins.csv", "--target", "species", "--out", "m.st", "--verbose", "0", "--epochs", "3",
       "--missing", "drop", "--unknown", "error", cwd=tmp_path)
    (tmp_path / "new.csv").write_text("island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n"
                                      "Torgersen,39.1,18.7,181,3750,male,2007\n\n"
                                      "Biscoe,NA,18,190,4000,male,2008\n"
                                      "Atlantis,46.5,14.8,217,5200,female,2009\n")
    code, out, err = run("predict", "m.st", "new.csv", "--out", "pred.csv", cwd=tmp_path)
    assert code == 2 and len(err.strip().splitlines()) == 1 and not (tmp_path / "pred.csv").exists()
    assert "line 4: missing value in column 'bill_length_mm'" in err and "line 5: unknown category 'Atlantis'" in err
    out, err = ok("predict", "m.st", "new.csv", "--on-error", "skip", cwd=tmp_path)
    assert out.splitlines()[0].startswith("line,species") and out.splitlines()[1].startswith("2,")
    assert len(out.splitlines()) == 2 and "skipped 2 row(s)" in err


def test_dry_run_and_inspect_data_report_types_and_write_nothing(tmp_path):
    shutil.copy(PENGUINS, tmp_path / "penguins.csv")
    out, _ = ok("train", "penguins.csv", "--target", "species", "--dry-run", "--categorical", "year",
                "--drop", "sex", cwd=tmp_path)
    assert "island             categorical" in out and "year               categorical" in out
    assert "sex" not in out.split("columns")[1] and "Nothing was written" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["penguins.csv"]
    out, _ = ok("inspect-data", "penguins.csv", "--target", "species", cwd=tmp_path)
    assert "species            target" in out and "missing   11" in out


def test_evaluate_target_is_honoured_for_a_model_without_preprocessing(tmp_path):
    model = ml.Sequential([ml.Dense(1, input_dim=2)], seed=0)
    model.compile(loss="mse")
    model.save(tmp_path / "plain.st")
    (tmp_path / "d.csv").write_text("u,v,goal\n1,2,3\n2,0,1\n0,1,5\n")
    out, _ = ok("evaluate", "plain.st", "d.csv", "--target", "goal", "--json", cwd=tmp_path)
    predicted = model.predict(np.array([[1, 2], [2, 0], [0, 1]], dtype=np.float32))[:, 0]
    assert json.loads(out)["mse"] == pytest.approx(np.mean((predicted - [3, 1, 5]) ** 2), rel=1e-5)


@pytest.mark.parametrize("args, message", [
    (["--hidden", "100000000"], "parameters need about"),
    (["--verbose", "3"], "expected 0, 1 or 2"),
    (["--activation", "softmax"], "invalid choice: 'softmax'"),
    (["--target", "Species"], "Did you mean 'species'?"),
    (["--target", "specie"], "Did you mean 'species'?"),
    (["--drop", "islnd"], "Did you mean 'island'?"),
    (["--categorical", "nope"], "Invalid value for --categorical"),
    (["--missing", "drop", "--missing-indicator", "--learning-rate", "-1"], "Invalid value for --learning-rate"),
    (["--clipnorm", "0"], "Invalid value for --clipnorm"),
    (["--index-col", "id"], "Invalid value for --index-col"),
])
def test_train_mistakes_are_one_line_exit_2_nothing_written(tmp_path, args, message):
    shutil.copy(PENGUINS, tmp_path / "penguins.csv")
    base = ["train", "penguins.csv", "--out", "m.st", "--verbose", "0", "--epochs", "1"]
    if "--target" not in args:
        base += ["--target", "species"]
    code, _, err = run(*base, *args, cwd=tmp_path)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "m.st").exists()


def test_a_column_too_large_to_scale_is_named_before_training(tmp_path):
    (tmp_path / "big.csv").write_text("a,huge,y\n" + "".join(f"{i},{(-1) ** i}e300,{i % 2}\n" for i in range(20)))
    code, out, err = run("train", "big.csv", "--target", "y", "--out", "m.st", cwd=tmp_path)
    assert code == 2 and "column 'huge' cannot be scaled" in err and "Training on" not in out
    assert not (tmp_path / "m.st").exists()


def test_a_predict_with_a_missing_column_names_it(penguins):
    (penguins / "short.csv").write_text("island,bill_lenght_mm\nDream,40\n")
    code, _, err = run("predict", "p.safetensors", "short.csv", cwd=penguins)
    assert code == 2 and "no column 'bill_length_mm'" in err and "Did you mean 'bill_lenght_mm'" in err


# -- sweeps ---------------------------------------------------------------------------------------------
def test_sweep_has_a_baseline_row_and_names_out_on_a_second_sweep(tmp_path):
    pytest.importorskip("sklearn")
    shutil.copy(PENGUINS, tmp_path / "p.csv")
    out, _ = ok("sweep", "p.csv", "--target", "species", "--hidden", "8", "4,4", "--max-iter", "30", "--cv", "3",
                "--plot", "", "--jobs", "1", cwd=tmp_path)
    assert "hidden_layer_sizes=(8,)" in out or "hidden_layer_sizes=(4, 4)" in out
    best = float(out.split("best: ")[1].split(": ")[1].split()[0])
    baseline = float(out.split("same folds): ")[1].split()[0])
    counts = np.unique(tabular.read_table(PENGUINS).columns["species"], return_counts=True)[1]
    assert best > baseline and baseline == pytest.approx(counts.max() / counts.sum(), abs=0.01)
    assert stat.S_IMODE(os.stat(tmp_path / "sweep.csv").st_mode) & 0o044 == 0o044
    code, _, err = run("sweep", "p.csv", "--target", "species", "--hidden", "2", "--max-iter", "2", "--cv", "3",
                       "--plot", "", "--jobs", "1", cwd=tmp_path)
    assert code == 2 and "--out" in err and "results`" not in err


# -- ONNX, pipelines, and the checks of the saved preprocessing --------------------------------------------
def _onnx_feeds(session, table):
    feeds = {}
    for item in session.get_inputs():
        if item.name == "input":
            return None
        cells = table.columns[item.name]
        if item.type == "tensor(string)":
            feeds[item.name] = np.array(cells, dtype=object).reshape(-1, 1)
        else:
            feeds[item.name] = tabular_numbers(cells).astype(np.float32).reshape(-1, 1)
    return feeds


def tabular_numbers(cells):
    from mlplab.files.preprocessing import numbers

    return numbers(cells)[0]


def test_onnx_graph_replays_the_preprocessing(penguins, tmp_path):
    pytest.importorskip("onnxruntime")
    from mlplab.files.onnx import onnx_session

    ok("export", "p.safetensors", "--onnx", tmp_path / "p.onnx", cwd=penguins)
    model = ml.load_model(penguins / "p.safetensors")
    table = tabular.read_table(PENGUINS)
    x, _ = prepare_inputs(model, table)
    probabilities, label = onnx_session(tmp_path / "p.onnx").run(None, _onnx_feeds(onnx_session(tmp_path / "p.onnx"),
                                                                                  table))
    np.testing.assert_allclose(probabilities, model.predict(x), atol=1e-5)
    # a numeric table with gaps: one float input (NaN = missing), output in the target's units
    shutil.copy(DIABETES, tmp_path / "d.csv")
    ok("train", "d.csv", "--target", "target", "--drop", "sex", "--missing-indicator", "--out", "d.st",
       "--verbose", "0", "--epochs", "5", cwd=tmp_path)
    ok("export", "d.st", "--onnx", "d.onnx", cwd=tmp_path)
    model = ml.load_model(tmp_path / "d.st")
    table = tabular.read_table(tmp_path / "d.csv", drop=["sex"])
    x, _ = prepare_inputs(model, table)
    raw = np.column_stack([tabular_numbers(table.columns[n]) for n in model.preprocessing["feature_names"]])
    (output,) = onnx_session(tmp_path / "d.onnx").run(None, {"input": raw.astype(np.float32)})
    from mlplab.files.preprocessing import untransform_target

    np.testing.assert_allclose(output, untransform_target(model.preprocessing, model.predict(x)), rtol=1e-5)


def _penguin_pipeline(estimator, scaler=None):
    pd = pytest.importorskip("pandas")
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = pd.read_csv(PENGUINS)
    x, y = frame.drop(columns=["species"]), frame["species"]
    numbers = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"]
    front = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(add_indicator=True), scaler or StandardScaler()), numbers),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
         ["island", "sex"])])
    pipe = make_pipeline(front, estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(x, y)
    return pipe, x


def test_a_fitted_pipeline_saves_to_one_file_and_predicts_exactly(tmp_path):
    from mlplab.estimators import MLPClassifier

    pipe, x = _penguin_pipeline(MLPClassifier(max_iter=20, random_state=0))
    ml.save(pipe, tmp_path / "pipe.st")
    x.to_csv(tmp_path / "x.csv", index=False)
    out, _ = ok("predict", "pipe.st", "x.csv", cwd=tmp_path)
    labels = [line.split(",")[0] for line in out.splitlines()[1:]]
    assert labels == list(pipe.predict(x))
    model = ml.load_model(tmp_path / "pipe.st")
    inputs, errors = prepare_inputs(model, tabular.read_table(tmp_path / "x.csv"))
    assert not errors
    np.testing.assert_array_equal(inputs, pipe[0].transform(x))
    np.testing.assert_array_equal(model.predict(inputs), pipe.predict_proba(x).astype(model.dtype))
    pytest.importorskip("onnxruntime")
    from mlplab.files.onnx import export_onnx, onnx_session

    export_onnx(model, tmp_path / "pipe.onnx")
    session = onnx_session(tmp_path / "pipe.onnx")
    probabilities, _ = session.run(None, _onnx_feeds(session, tabular.read_table(tmp_path / "x.csv")))
    np.testing.assert_allclose(probabilities, pipe.predict_proba(x), atol=1e-5)


def test_minmax_pipeline_and_refusals_by_name(tmp_path):
    from sklearn.preprocessing import MinMaxScaler, PolynomialFeatures

    from mlplab.estimators import MLPClassifier

    pipe, x = _penguin_pipeline(MLPClassifier(max_iter=5, random_state=0), scaler=MinMaxScaler())
    ml.save(pipe, tmp_path / "mm.st")
    model = ml.load_model(tmp_path / "mm.st")
    x.to_csv(tmp_path / "x.csv", index=False)
    inputs, _ = prepare_inputs(model, tabular.read_table(tmp_path / "x.csv"))
    np.testing.assert_allclose(inputs, pipe[0].transform(x), atol=1e-12)
    bad, _ = _penguin_pipeline(MLPClassifier(max_iter=5, random_state=0), scaler=PolynomialFeatures())
    with pytest.raises(ValueError, match="PolynomialFeatures"):
        ml.save(bad, tmp_path / "bad.st")
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    forest = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=2)).fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(TypeError, match="RandomForestClassifier"):
        ml.save(forest, tmp_path / "bad.st")
    assert not (tmp_path / "bad.st").exists()


def test_an_estimator_saved_alone_records_unstandardized_input(tmp_path):
    from mlplab.estimators import MLPRegressor

    estimator = MLPRegressor(max_iter=3, random_state=0).fit(np.random.default_rng(0).normal(size=(20, 2)),
                                                             np.arange(20.0))
    ml.save(estimator, tmp_path / "e.st")
    assert ml.load_model(tmp_path / "e.st").preprocessing["standardized"] is False


@pytest.mark.parametrize("change, field", [
    ({"class_labels": ["a", "b"]}, "class_labels"),
    ({"class_labels": ["a", "a", "b"]}, "class_labels"),
    ({"scale": None}, "scale"),
    ({"feature_names": ["u"], "mean": [0.0], "scale": [1.0]}, "feature_names"),
    ({"columns": [{"name": "u", "kind": "onehot", "categories": ["p", "q", "r"]}], "feature_names": ["u"],
      "mean": None, "scale": None}, "columns"),
])
def test_preprocessing_is_checked_against_the_model_at_save_and_load(tmp_path, change, field):
    from mlplab.files import ModelFileError
    from mlplab.files.container import read_file, write_file

    model = ml.Sequential([ml.Dense(3, "softmax", input_dim=2)], seed=0)
    good = {"feature_names": ["u", "v"], "mean": [0.0, 0.0], "scale": [1.0, 1.0], "class_labels": ["a", "b", "c"],
            "task": "classification"}
    ml.save(model, tmp_path / "good.st", preprocessing=good)
    bad = {**good, **change}
    with pytest.raises(ModelFileError, match=f"bad.st.*{field}"):
        ml.save(model, tmp_path / "bad.st", preprocessing=bad)
    assert not (tmp_path / "bad.st").exists()
    tensors, metadata = read_file(tmp_path / "good.st")
    write_file(tmp_path / "bad.st", tensors, {**metadata, "preprocessing": json.dumps(bad)})
    with pytest.raises(ModelFileError, match=f"bad.st.*{field}"):
        ml.load_model(tmp_path / "bad.st")


def test_a_dataframe_with_text_fits_through_prepare_table(tmp_path):
    pd = pytest.importorskip("pandas")
    from mlplab.files.preprocessing import prepare_table

    frame = pd.read_csv(PENGUINS)
    model = ml.Sequential([ml.Dense(8, "relu"), ml.Dense(3, "softmax")], seed=0)
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(TypeError, match="prepare_table"):
        model.fit(frame.drop(columns=["species"]), frame["species"], verbose=0)
    x, y, spec = prepare_table(frame.drop(columns=["species"]), frame["species"])
    csv_spec, csv_x, _ = fit_table(tabular.read_table(PENGUINS), "species",
                                   tabular.infer_types(tabular.read_table(PENGUINS), "species"))
    np.testing.assert_allclose(x, csv_x, atol=1e-12)
    assert spec["class_labels"] == ["Adelie", "Chinstrap", "Gentoo"] and y[0] == 0
    model.fit(x, y, epochs=1, verbose=0)
    model.preprocessing = spec
    model.save(tmp_path / "df.st")
    again, errors = prepare_inputs(ml.load_model(tmp_path / "df.st"), frame.iloc[:7])
    assert not errors and np.allclose(again, x[:7])


def test_choices_get_a_did_you_mean(tmp_path):
    code, _, err = run("train", "x.csv", "--optimizer", "adamm", cwd=tmp_path)
    assert code == 2 and "Did you mean 'adam'?" in err and len(err.strip().splitlines()) == 1


def test_divergence_names_the_cli_flags_that_help(tmp_path):
    shutil.copy(DIABETES, tmp_path / "d.csv")
    code, _, err = run("train", "d.csv", "--target", "target", "--out", "m.st", "--verbose", "0",
                       "--learning-rate", "1e6", "--optimizer", "sgd", "--no-standardize-target", cwd=tmp_path)
    assert code == 2 and "--learning-rate" in err and "--clipnorm" in err and "clipnorm=" not in err
    assert not (tmp_path / "m.st").exists()


def test_predict_warns_when_a_column_is_far_from_training(penguins):
    (penguins / "kg.csv").write_text("island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n"
                                     "Dream,39.1,18.7,181,3.75,male,2007\nBiscoe,45,15,210,5.1,female,2008\n")
    _, err = ok("predict", "p.safetensors", "kg.csv", cwd=penguins)
    assert "warning" in err and "body_mass_g" in err and "bill_length_mm" not in err


def test_a_pipeline_fitted_on_an_array_reads_columns_by_position(tmp_path):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlplab.estimators import MLPRegressor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)) * [1, 10, 100]
    y = x @ [1.0, 0.1, 0.01]
    pipe = make_pipeline(ColumnTransformer([("s", StandardScaler(), [2, 0])]), MLPRegressor(max_iter=5, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(x, y)
    ml.save(pipe, tmp_path / "a.st")
    (tmp_path / "a.csv").write_text("p,q,r\n" + "".join(",".join(map(repr, row)) + "\n" for row in x.tolist()))
    out, _ = ok("predict", "a.st", "a.csv", cwd=tmp_path)
    np.testing.assert_allclose([float(v) for v in out.splitlines()[1:]], pipe.predict(x), rtol=1e-6)


def test_parquet_trains_and_predicts_as_the_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.read_csv(PENGUINS)
    frame.to_parquet(tmp_path / "p.parquet")
    shutil.copy(PENGUINS, tmp_path / "p.csv")
    for name in ("p.csv", "p.parquet"):
        ok("train", name, "--target", "species", "--out", name + ".st", "--verbose", "0", "--epochs", "3",
           cwd=tmp_path)
    from_csv, _ = ok("predict", "p.csv.st", "p.csv", cwd=tmp_path)
    from_parquet, _ = ok("predict", "p.parquet.st", "p.parquet", cwd=tmp_path)
    assert from_csv == from_parquet


def test_integer_class_labels_beyond_2_53_train_and_predict_distinct(tmp_path):
    big = 2 ** 53
    rows = "".join(f"{i % 2 + 0.1 * (i % 3)},{big + i % 2}\n" for i in range(40))
    (tmp_path / "big.csv").write_text("a,y\n" + rows)
    ok("train", "big.csv", "--target", "y", "--out", "m.st", "--verbose", "0", "--epochs", "30", cwd=tmp_path)
    assert ml.load_model(tmp_path / "m.st").preprocessing["class_labels"] == [big, big + 1]
    out, _ = ok("predict", "m.st", "big.csv", cwd=tmp_path)
    assert out.splitlines()[0] == f"y,probability_{big},probability_{big + 1}"


def test_an_id_like_text_column_is_flagged(tmp_path):
    (tmp_path / "ids.csv").write_text("name,a,y\n" + "".join(f"n{i},{i % 7},{i % 2}\n" for i in range(120)))
    out, _ = ok("train", "ids.csv", "--target", "y", "--dry-run", cwd=tmp_path)
    assert "column 'name' has 120 distinct values" in out and "--drop name" in out
