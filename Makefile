# nnbook: `make run` (reproduce the book's experiments) and `make test`.
# Everything goes into a local virtual environment (.venv) built from this tree.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OPENBLAS_PIN := $(shell grep -o 'scipy-openblas32==[0-9.]*' pyproject.toml)
SOURCES := pyproject.toml CMakeLists.txt $(wildcard src/nncore/*.c src/nncore/*.h src/nncore/*.pyx python/nnbook/*.py)

.PHONY: setup data run test pytest ctest bench clean

$(VENV)/.installed: $(SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet '.[book,test,plot]'
	touch $@

setup: $(VENV)/.installed data

# Fashion-MNIST from Debian's dataset-fashion-mnist package; never fatal: without it
# the Fashion-MNIST parts say how to get it and the tests skip them.
data:
	@sh scripts/install-data.sh

run: setup
	$(PY) -m nnbook reproduce --out out

test: setup ctest pytest

pytest: $(VENV)/.installed
	$(PY) -m pytest -q

# The C unit tests (CTest). They link the same OpenBLAS wheel the package vendors.
ctest: $(VENV)/.installed
	$(PY) -m pip install --quiet '$(OPENBLAS_PIN)'
	cmake -S . -B build/ctest -DNNBOOK_CTEST=ON -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE=$(abspath $(PY)) > build-ctest.log
	cmake --build build/ctest -j2 >> build-ctest.log
	ctest --test-dir build/ctest --output-on-failure
	@rm -f build-ctest.log

# Benchmarks: the C microbenchmarks, then every peer in one process (PyTorch
# and scikit-learn come from the bench extra; nnbook never depends on them).
bench: $(VENV)/.installed
	$(PY) -m pip install --quiet '.[bench]' '$(OPENBLAS_PIN)'
	cmake -S . -B build/ctest -DNNBOOK_CTEST=ON -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE=$(abspath $(PY)) > build-ctest.log
	cmake --build build/ctest -j2 >> build-ctest.log
	build/ctest/bench_kernels
	$(PY) benchmarks/train.py --readme README.md --plot benchmarks/results.png

clean:
	rm -rf build dist $(VENV) *.egg-info
