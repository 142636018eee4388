# The course's task runner. Every target creates .venv when it is missing and reuses it otherwise.
#   make lab     install everything and open the course in JupyterLab
#   make test    install everything and run the whole test suite (unit tests + every notebook)
#   make bench   run every notebook in a fresh kernel (quick profile) and print a timing table
#   make site    build the offline site (every notebook executed, quick profile) into _build/html/
#   make release write the student copy (solutions stubbed out) to release/  [REPO=owner/name]
#   make grade DIR=submissions/   grade completed student notebooks into grades.csv
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WORKERS ?= auto
# A package index to take torch and torchvision from, e.g. PyTorch's CPU-only wheels on a machine
# without a GPU (what CI does): make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: install lab test bench site chromium release grade clean

install: $(STAMP)

# Reinstalls only when pyproject.toml or constraints.txt changed since the last install.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(TORCH_INDEX),$(BIN)/python -m pip install --quiet -c constraints.txt --index-url $(TORCH_INDEX) torch torchvision)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[lab,test,docs,instructor]"
	# torchattacks without its dependencies: see the note in pyproject.toml.
	$(BIN)/python -m pip install --quiet -c constraints.txt --no-deps torchattacks
	touch $@

lab: install
	$(BIN)/jupyter lab $(ROOT_FLAG) chapters/

test: install chromium
	scripts/offline.sh $(BIN)/python -m pytest -n $(WORKERS) --dist loadfile

# The browser tests drive the distribution's Chromium (never a downloaded browser), with a font for
# the Chinese key terms in its screenshots: installed here with apt-get, as root or through sudo.
# Elsewhere the browser tests are skipped and say why; under CI they fail instead.
chromium:
	@scripts/chromium.sh

site: install
	$(BIN)/python scripts/build_site.py

bench: install
	$(BIN)/python scripts/bench.py

release: install
	$(BIN)/python -m utils.release release $(if $(REPO),--repo $(REPO),)

grade: install
	@test -n "$(DIR)" || { echo "usage: make grade DIR=folder-of-student-notebooks"; exit 2; }
	$(BIN)/python -m utils.grading "$(DIR)" --out grades.csv

clean:
	rm -rf $(VENV) .pytest_cache test-output _build release
