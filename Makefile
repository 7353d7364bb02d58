# Two commands do everything on a fresh machine (Python 3.11):
#   make demo   -> creates .venv, installs ftjlab, opens the window on the simulated bench
#                  (no display: runs the headless job, ftjlab demo)
#   make test   -> creates .venv, installs ftjlab with test extras, runs the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# With a display: the window on the simulated bench (ftjlab gui). Without one (or GUI=0, or
# QT_QPA_PLATFORM=offscreen): the headless job (ftjlab demo), saying how to get the window.
demo: $(STAMP)
	@if [ "$(GUI)" != "0" ] && [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] \
	    && [ "$${QT_QPA_PLATFORM:-xcb}" != "offscreen" ]; then \
	  $(BIN)/ftjlab gui || { echo "make demo: the window could not open; running the headless job"; \
	    QT_QPA_PLATFORM=offscreen $(BIN)/ftjlab demo; }; \
	else \
	  echo "make demo: no display, so the headless job runs (ftjlab demo). For the window, run"; \
	  echo "  make demo on a desktop, or: xvfb-run -a $(BIN)/ftjlab gui --screenshots shots"; \
	  QT_QPA_PLATFORM=$${QT_QPA_PLATFORM:-offscreen} $(BIN)/ftjlab demo; \
	fi

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/ftjlab bench

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
