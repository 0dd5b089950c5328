# poselift: `make book` executes every notebook on the bundled sample and builds the HTML book;
# `make test` runs the test suite. Both create the virtual environment on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Passive OpenMP waiting: spinning threads slow small models down badly when anything else shares the cores.
export OMP_WAIT_POLICY := PASSIVE

# The book's notebooks run in a kernel of the venv's own Python, registered inside the venv.
KERNEL := poselift
KERNEL_SPEC := $(VENV)/share/jupyter/kernels/$(KERNEL)/kernel.json
NB_TIMEOUT ?= 600

# JupyterLab for `make lab` only (not needed by tests or the book build, so not in requirements-dev.txt).
JUPYTERLAB ?= jupyterlab==4.6.6
LAB_ARGS ?=

.PHONY: venv test book book-html vendor check-book bench clean lab

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints-ci.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -c constraints-ci.txt -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

test: venv
	$(PY) -m pytest -q

$(KERNEL_SPEC): $(VENV)/.installed
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (poselift)" > /dev/null

# plotly.js, require.js, the widget manager and MathJax into _vendor/ (not committed): the book loads no CDN.
vendor: venv
	$(PY) tools/vendor_js.py --out _vendor

# Execute every notebook of _toc.yml (papermill, quick profile, sample data), then the HTML into _build/html.
book: venv $(KERNEL_SPEC) vendor
	$(PY) tools/build_book.py --kernel $(KERNEL) --timeout $(NB_TIMEOUT)

# Rebuild the HTML only, reusing the notebooks executed by the last `make book` (prose changes).
book-html: venv vendor
	$(PY) tools/build_book.py --skip-execute

# Headless Chromium: every chapter renders, plotly and MathJax drew, no request leaves 127.0.0.1.
check-book: venv
	$(PY) tools/check_book.py --html _build/html --screenshots _build/screenshots

# Open the chapters in JupyterLab from the venv (installed into it on first use); their "python3" kernel is the
# venv's own Python, so `import poselift_core` finds this checkout. More options: make lab LAB_ARGS="--port 8890".
lab: venv
	$(PY) -c "import jupyterlab" 2>/dev/null || $(PY) -m pip install -q -c constraints-ci.txt "$(JUPYTERLAB)"
	$(PY) -m jupyter lab notebooks/ $(LAB_ARGS)

clean:
	rm -rf _build _vendor
