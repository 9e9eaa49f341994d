"""The README's first example runs as written and prints what the README says it prints."""
import re
from pathlib import Path

import numpy as np
import pytest

import mlplab as ml

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_first_example_learns_xor_as_the_readme_says(capsys):
    namespace = {}
    exec(python_blocks()[0], namespace)
    model, x = namespace["model"], namespace["x"]
    np.testing.assert_allclose(model.predict(x).ravel().round(3), [0.003, 0.997, 0.998, 0.003], atol=0.002)
    result = model.evaluate(x, namespace["y"])
    assert result["accuracy"] == 1.0 and result["loss"] < 0.005
    assert "Total params: 13" in capsys.readouterr().out


def test_model_seed_is_validated():
    with pytest.raises(TypeError, match="`seed`"):
        ml.Sequential([ml.Dense(1)], seed="zero")
    with pytest.raises(ValueError, match="`seed`"):
        ml.Sequential([ml.Dense(1)], seed=-1)
