"""Sweeps: the same table on joblib's local backend and on a Dask cluster, resume after an
interruption, the results file and the `mlplab sweep` command."""
import csv

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402

import mlplab as ml  # noqa: E402
from mlplab import sweeps as sweep_module  # noqa: E402
from mlplab.estimators import MLPClassifier  # noqa: E402

GRID = {"hidden_layer_sizes": [(1,), (2,), (4,)], "activation": ["logistic", "relu"]}


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=120, n_features=5, n_informative=3, random_state=0)


def small():
    return MLPClassifier(max_iter=20, learning_rate_init=0.01)


def without_times(rows):
    return [{k: v for k, v in row.items() if k != "fit_time"} for row in rows]


def test_sweep_rows_cover_the_grid_with_spawned_seeds(data, tmp_path):
    x, y = data
    rows = ml.sweep(x, y, GRID, estimator=small(), cv=3, seed=7, results=tmp_path / "r.csv")
    assert [(r["hidden_layer_sizes"], r["activation"]) for r in rows] == [
        (h, a) for a in GRID["activation"] for h in GRID["hidden_layer_sizes"]]
    children = np.random.SeedSequence(7).spawn(1 + len(rows))[1:]
    assert [r["seed"] for r in rows] == [int(c.generate_state(1)[0]) for c in children]
    assert all(0 <= r["mean_score"] <= 1 and r["std_score"] >= 0 and r["fit_time"] > 0 for r in rows)
    with open(tmp_path / "r.csv", newline="") as file:
        table = list(csv.DictReader(file))
    assert len(table) == len(rows) and table[0]["hidden_layer_sizes"] == "[1]"
    assert float(table[-1]["mean_score"]) == rows[-1]["mean_score"]


def test_trials_do_not_depend_on_the_number_of_workers(data):
    x, y = data
    one = ml.sweep(x, y, GRID, estimator=small(), cv=3, n_jobs=1)
    two = ml.sweep(x, y, GRID, estimator=small(), cv=3, n_jobs=2)
    assert without_times(one) == without_times(two)


class Interrupting(ClassifierMixin, BaseEstimator):
    """Stands in for Ctrl-C during the third trial."""

    def __init__(self, hidden_layer_sizes=(1,), activation="relu", random_state=None):
        self.hidden_layer_sizes, self.activation, self.random_state = hidden_layer_sizes, activation, random_state

    def fit(self, x, y):
        if self.hidden_layer_sizes == (4,):
            raise KeyboardInterrupt
        self.classes_ = np.unique(y)
        return self

    def predict(self, x):
        return np.full(len(x), self.classes_[0])


def test_an_interrupted_sweep_resumes_without_rerunning_finished_trials(data, tmp_path, monkeypatch):
    x, y = data
    path = tmp_path / "sweep.csv"
    grid = {"hidden_layer_sizes": [(1,), (2,), (4,)], "activation": ["relu"]}
    with pytest.raises(KeyboardInterrupt):
        ml.sweep(x, y, grid, estimator=Interrupting(), cv=2, n_jobs=1, results=path)
    with open(path, newline="") as file:
        assert [row["trial"] for row in csv.DictReader(file)] == ["0", "1"]

    ran = []
    real = sweep_module.run_trial
    monkeypatch.setattr(sweep_module, "run_trial", lambda est, trial, *a, **k: ran.append(trial["trial"]) or
                        real(est, trial, *a, **k))
    resumed = ml.sweep(x, y, grid, estimator=small(), cv=2, n_jobs=1, results=path)
    assert ran == [2]
    assert [r["trial"] for r in resumed] == [0, 1, 2]
    monkeypatch.setattr(sweep_module, "run_trial", real)
    fresh = ml.sweep(x, y, grid, estimator=small(), cv=2, n_jobs=1)
    assert without_times(resumed)[2] == without_times(fresh)[2]


def test_a_results_file_of_another_sweep_is_refused(data, tmp_path):
    x, y = data
    path = tmp_path / "sweep.csv"
    ml.sweep(x, y, {"hidden_layer_sizes": [(1,)]}, estimator=small(), cv=2, results=path)
    with pytest.raises(ValueError, match="another sweep"):
        ml.sweep(x, y, {"hidden_layer_sizes": [(2,)]}, estimator=small(), cv=2, results=path)


def test_bad_parameters_fail_before_any_trial(data):
    x, y = data
    with pytest.raises(ValueError, match="hidden_units"):
        ml.sweep(x, y, {"hidden_units": [1]}, estimator=small())
    with pytest.raises(ValueError, match="swish"):
        ml.sweep(x, y, {"activation": ["relu", "swish"]}, estimator=small())
    with pytest.raises(ValueError, match="`params`"):
        ml.sweep(x, y, {}, estimator=small())


def test_a_pipelines_nested_random_state_gets_the_trial_seed(data):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = data
    pipe = make_pipeline(StandardScaler(), small())
    rows = ml.sweep(x, y, {"mlpclassifier__hidden_layer_sizes": [(2,)]}, estimator=pipe, standardize=False, cv=2)
    direct = ml.sweep(x, y, {"hidden_layer_sizes": [(2,)]}, estimator=small(), cv=2)
    assert rows[0]["mean_score"] == direct[0]["mean_score"] and rows[0]["seed"] == direct[0]["seed"]


def test_random_search_samples_n_iter_points(data):
    x, y = data
    rows = ml.sweep(x, y, {"hidden_layer_sizes": [(1,), (2,), (3,), (4,)], "alpha": [1e-4, 1e-2]},
                    estimator=small(), n_iter=3, cv=2)
    assert len(rows) == 3 and len({(r["hidden_layer_sizes"], r["alpha"]) for r in rows}) == 3


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_table(data, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    x, y = data
    local = ml.sweep(x, y, GRID, estimator=small(), cv=3, n_jobs=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  local_directory=str(tmp_path)) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:
            on_dask = ml.sweep(x, y, GRID, estimator=small(), cv=3, dask=cluster.scheduler_address)
    assert without_times(on_dask) == without_times(local)
    assert len(stream.data) >= len(local)  # the trials ran on the cluster's workers


def test_sweep_command_reads_a_csv_and_writes_the_table_and_plot(data, tmp_path, capsys):
    x, y = data
    path = tmp_path / "data.csv"
    header = ",".join([f"f{i}" for i in range(x.shape[1])] + ["label"])
    labels = np.where(y == 1, "yes", "no")
    lines = [header] + [",".join([*map(repr, row), label]) for row, label in zip(x.tolist(), labels)]
    path.write_text("\n".join(lines) + "\n")
    out, plot = tmp_path / "out.csv", tmp_path / "out.png"
    code = ml.cli.main([ "sweep", str(path), "--target", "label", "--hidden", "1", "4", "--activation", "sigmoid",
                        "relu", "--cv", "2", "--max-iter", "10", "--out", str(out), "--plot", str(plot)])
    assert code == 0
    with open(out, newline="") as file:
        assert len(list(csv.DictReader(file))) == 4
    assert plot.stat().st_size > 1000
    assert "best: hidden_layer_sizes=" in capsys.readouterr().out


def test_sweep_command_names_a_missing_target_column(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    assert ml.cli.main(["sweep", str(path), "--target", "c"]) == 2
    assert "no target column 'c'" in capsys.readouterr().err


# -- faults: a worker killed by a trial, results files that are damaged -------------------------------------

class KillsItsWorker(Interrupting):
    """Stands in for a trial that runs out of memory: hidden_layer_sizes=(4,) ends its process at once."""

    def fit(self, x, y):
        if self.hidden_layer_sizes == (4,):
            import os

            os._exit(1)
        self.classes_ = np.unique(y)
        return self


@pytest.mark.slow
@pytest.mark.parametrize("cluster", ["own", "local"])
def test_a_trial_that_kills_its_dask_worker_is_an_error_and_the_finished_trials_are_kept(data, tmp_path, cluster):
    """"own": a LocalCluster of the caller's, whose scheduler retries a killed task 3 times (the default);
    "local": sweep's own (dask="local"), which does not retry. Both on loopback, bounded in time."""
    import threading

    import cloudpickle

    distributed = pytest.importorskip("dask.distributed")
    cloudpickle.register_pickle_by_value(__import__(__name__))  # the workers need not import this test file
    x, y = data
    path = tmp_path / "sweep.csv"
    grid = {"hidden_layer_sizes": [(1,), (2,), (4,)], "activation": ["relu"]}
    outcome = {}

    def sweep(address):
        ml.sweep(x, y, grid, estimator=KillsItsWorker(), cv=2, n_jobs=1, results=path, dask=address)

    def run():
        try:
            if cluster == "local":
                sweep("local")
                return
            with distributed.LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                          local_directory=str(tmp_path), silence_logs=50) as own:
                sweep(own.scheduler_address)
        except BaseException as err:  # noqa: BLE001 - handed to the test's thread
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=240)  # a bound on a hang, not a speed claim
    assert not thread.is_alive(), "ml.sweep hung on a killed worker"
    error = outcome.get("error")
    assert isinstance(error, RuntimeError), repr(error)
    assert "Trial 2 (hidden_layer_sizes=(4,), activation=relu) killed the Dask worker" in str(error)
    with open(path, newline="") as file:
        assert [row["trial"] for row in csv.DictReader(file)] == ["0", "1"]  # the finished trials were kept


@pytest.fixture()
def results_file(data, tmp_path):
    x, y = data
    path = tmp_path / "sweep.csv"
    ml.sweep(x, y, GRID, estimator=small(), cv=2, results=path)
    return path


def damage(path, how):
    data = path.read_bytes()
    lines = data.split(b"\r\n")  # csv's line ends
    if how == "truncated":
        path.write_bytes(data[:-5])  # a copy cut short: the last row loses the end of its last field
        return len(lines) - 1
    if how == "cut-row":
        path.write_bytes(b"\r\n".join(lines[:-2] + [lines[-2].rsplit(b",", 3)[0], b""]))
        return len(lines) - 1
    if how == "not-utf8":
        lines[3] = lines[3][:5] + b"\xe9" + lines[3][5:]
    elif how == "extra-field":
        lines[2] += b",1.0"
    elif how == "not-a-number":
        lines[4] = lines[4].rsplit(b",", 1)[0] + b",fast"
    elif how == "huge-field":
        lines[2] = b"x" * 200_000 + lines[2]
    elif how == "open-quote":
        lines[5] = b'"' + lines[5]
    elif how == "no-header":
        lines[0] = lines[0].replace(b"mean_score", b"mean")
    path.write_bytes(b"\r\n".join(lines))
    return {"not-utf8": 4, "extra-field": 3, "not-a-number": 5, "open-quote": 6, "huge-field": 3, "no-header": 1}[how]


@pytest.mark.parametrize("how, problem", [
    ("truncated", "no line end"), ("cut-row", "fields, the header"), ("not-utf8", "not UTF-8"),
    ("extra-field", "fields, the header"),
    ("not-a-number", "fit_time 'fast' is not a number"), ("open-quote", "fields, the header"),
    ("huge-field", "not valid CSV"),
    ("no-header", "no 'mean_score' column")])
def test_a_damaged_results_file_is_refused_naming_the_file_and_line(data, results_file, how, problem):
    x, y = data
    line = damage(results_file, how)
    before = results_file.read_bytes()
    with pytest.raises(ValueError) as info:
        ml.sweep(x, y, GRID, estimator=small(), cv=2, results=results_file)
    message = str(info.value)
    assert f"{str(results_file)!r}: line {line}: " in message and problem in message, message
    assert results_file.read_bytes() == before  # nothing was run or written over it
