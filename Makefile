# Two commands on a fresh machine: `make run` (install + start the studio), `make test` (install + every test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: install run test lint bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

# Debian's chromium drives the real-browser tests (browser downloads are blocked; playwright uses this binary)
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi

run: install
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

test: install /usr/bin/chromium
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -p no:cacheprovider

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) -m dqn_sim bench

clean:
	rm -rf $(VENV) tests/artifacts .pytest_cache
