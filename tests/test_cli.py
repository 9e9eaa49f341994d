"""The `mlplab` command line: train (the README's demo), explain, lessons, and its errors."""
import re
import subprocess
import sys

import pytest

from mlplab.cli.main import main


def test_train_learns_spirals_and_reports_accuracy(capsys):
    code = main(["train", "--epochs", "60", "--samples", "300", "--verbose", "0"])
    out = capsys.readouterr().out
    assert code == 0
    match = re.search(r"Test accuracy: ([\d.]+)% before training -> ([\d.]+)% after", out)
    before, after = float(match.group(1)), float(match.group(2))
    assert after > 85.0 and after > before + 30
    assert "Decision regions" in out and "Total params" in out


def test_train_rejects_bad_hidden_units(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--hidden", "32,-1"])
    assert info.value.code == 2
    assert "positive integers" in capsys.readouterr().err


def test_train_reports_invalid_hyper_parameter_as_error(capsys):
    assert main(["train", "--learning-rate", "-1", "--epochs", "1"]) == 2
    assert "learning_rate" in capsys.readouterr().err


def test_explain_is_wired(capsys):
    assert main(["explain", "--layers", "2-3-1"]) == 0
    out = capsys.readouterr().out
    assert "FORWARD PASS" in out and "z1 = x·W1 + b1" in out


def test_lessons_list_names_every_lesson(capsys):
    from mlplab.lessons import lesson_names

    assert main(["lessons", "list"]) == 0
    out = capsys.readouterr().out
    names = lesson_names()
    assert len(names) >= 9
    for name in names:
        assert name in out


def test_lessons_run_unknown_name_lists_valid_ones(capsys, tmp_path):
    assert main(["lessons", "run", "no-such-lesson", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no-such-lesson" in err and "numpy-networks" in err


def test_console_script_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "mlplab.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "lessons" in result.stdout and "train" in result.stdout
