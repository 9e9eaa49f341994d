"""`mlplab predict` on Parquet: streamed in chunks (locally or on Dask), the same numbers as in memory,
written atomically, within a memory cap that the whole table does not fit in."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import mlplab as ml
from mlplab.cli.main import main
from mlplab.files.model_files import load_model, save_model

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
FEATURES = [f"f{i}" for i in range(40)]


def _model_file(tmp_path, classifier=True):
    units, activation = (3, "softmax") if classifier else (1, "linear")
    model = ml.Sequential([ml.Dense(8, "relu", input_dim=40), ml.Dense(units, activation)], seed=0)
    prep = {"task": "classification" if classifier else "regression", "target": "y", "feature_names": FEATURES,
            "mean": [0.5] * 40, "scale": [2.0] * 40}
    if classifier:
        prep["class_labels"] = ["a", "b", "c"]
    path = tmp_path / "model.safetensors"
    save_model(model, path, preprocessing=prep)
    return path


def _parquet(path, batches, rows, seed=0):
    rng = np.random.default_rng(seed)
    schema = pa.schema([(name, pa.float64()) for name in FEATURES[::-1] + ["y"]])  # other column order
    with pq.ParquetWriter(path, schema) as writer:
        for _ in range(batches):
            values = rng.standard_normal((rows, 41))
            writer.write_table(pa.Table.from_arrays(list(values.T), schema=schema))
    return path


def _expected(model_path, data_path):
    model = load_model(model_path)
    frame = pd.read_parquet(data_path)
    return model.predict((frame[FEATURES].to_numpy() - 0.5) / 2.0)


@pytest.mark.parametrize("dask", [None, "local"])
def test_streamed_predict_equals_in_memory_predict(tmp_path, dask, capsys):
    if dask:
        pytest.importorskip("dask.distributed")
    model_path, data = _model_file(tmp_path), _parquet(tmp_path / "in.parquet", 3, 1000)
    out = tmp_path / "preds.parquet"
    args = ["predict", str(model_path), str(data), "--out", str(out), "--chunk-rows", "700"]
    assert main(args + (["--dask", dask] if dask else [])) == 0
    written, expected = pd.read_parquet(out), _expected(model_path, data)
    assert list(written.columns) == ["y", "probability_a", "probability_b", "probability_c"]
    np.testing.assert_array_equal(written.iloc[:, 1:].to_numpy(), expected)
    assert (written["y"].to_numpy() == np.array(["a", "b", "c"])[expected.argmax(axis=1)]).all()
    assert "Wrote 3000 predictions" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["in.parquet", "model.safetensors", "preds.parquet"]  # no temporary


def test_streamed_regression_to_csv_and_standard_output(tmp_path, capsys):
    model_path, data = _model_file(tmp_path, classifier=False), _parquet(tmp_path / "in.parquet", 2, 300)
    assert main(["predict", str(model_path), str(data), "--out", str(tmp_path / "p.csv"), "--chunk-rows", "250"]) == 0
    written = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_allclose(written["y"].to_numpy(), _expected(model_path, data)[:, 0], rtol=1e-7)
    capsys.readouterr()
    assert main(["predict", str(model_path), str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "y" and len(lines) == 601


def test_a_missing_column_and_a_bad_dask_address_are_named(tmp_path, capsys):
    model_path = _model_file(tmp_path)
    pd.DataFrame({"f0": [1.0]}).to_parquet(tmp_path / "narrow.parquet")
    data = _parquet(tmp_path / "in.parquet", 1, 10)
    for extra, message in [((str(tmp_path / "narrow.parquet"),), "no column 'f1'"),
                           ((str(data), "--dask", "nowhere"), "--dask"),
                           ((str(data), "--chunk-rows", "0"), "--chunk-rows")]:
        assert main(["predict", str(model_path), *extra, "--out", str(tmp_path / "p.parquet")]) != 0
        assert message in capsys.readouterr().err
    assert not (tmp_path / "p.parquet").exists()


CAPPED = textwrap.dedent("""
    import faulthandler, re, resource, sys
    faulthandler.dump_traceback_later(120, exit=True)  # a hang fails with a traceback, not a timeout
    import numpy, pandas, pyarrow, pyarrow.parquet
    pyarrow.set_cpu_count(1), pyarrow.set_io_thread_count(1)  # Arrow's pools start their threads now
    from mlplab.cli.main import main
    import mlplab.cli.stream, mlplab.files.model_files
    from mlplab.engine import compiled
    compiled.available()
    size = int(re.search(r"VmSize:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
    cap = size + int(sys.argv[1]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    if sys.argv[2] == "whole":
        print(pandas.read_parquet(sys.argv[3]).to_numpy().sum())
    else:
        sys.exit(main(sys.argv[2:]))
""")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux's")
def test_streamed_predict_runs_under_an_address_space_cap_the_whole_table_does_not_fit(tmp_path):
    """128 MB of float64 features (400,000 x 40): with 150 MB of address space above the imports, reading
    the table whole fails, streaming it in chunks of 2,000 rows succeeds and gives the same numbers."""
    model_path, data = _model_file(tmp_path), _parquet(tmp_path / "big.parquet", 10, 40000)
    env = {**os.environ, "MALLOC_ARENA_MAX": "1", "OPENBLAS_NUM_THREADS": "1", "ARROW_DEFAULT_MEMORY_POOL": "system",
           "PYTHONPATH": os.pathsep.join(p for p in [os.path.dirname(os.path.dirname(ml.__file__)),
                                                     os.environ.get("PYTHONPATH")] if p)}
    run = lambda *args: subprocess.run([sys.executable, "-c", CAPPED, "150", *args], env=env, capture_output=True,
                                       text=True, timeout=180)
    whole = run("whole", str(data))
    assert whole.returncode != 0 and "rror" in whole.stderr  # the cap binds: the table does not fit
    out = tmp_path / "preds.parquet"
    streamed = run("predict", str(model_path), str(data), "--out", str(out), "--chunk-rows", "2000")
    assert streamed.returncode == 0, streamed.stderr[-2000:]
    np.testing.assert_array_equal(pd.read_parquet(out).iloc[:, 1:].to_numpy(), _expected(model_path, data))
