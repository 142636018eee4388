# The course's task runner. Every target creates .venv when it is missing and reuses it otherwise.
#   make lab     install everything and open the course in JupyterLab
#   make test    install everything and run the whole test suite (unit tests + every notebook)
#   make bench   run every notebook in a fresh kernel (quick profile) and print a timing table
#   make release write the student copy (solutions stubbed out) to release/  [REPO=owner/name]
#   make grade DIR=submissions/   grade completed student notebooks into grades.csv
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WORKERS ?= auto
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: install lab test bench release grade clean

install: $(STAMP)

# Reinstalls only when pyproject.toml or constraints.txt changed since the last install.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[lab,test]"
	# torchattacks without its dependencies: see the note in pyproject.toml.
	$(BIN)/python -m pip install --quiet -c constraints.txt --no-deps torchattacks
	touch $@

lab: install
	$(BIN)/jupyter lab $(ROOT_FLAG) chapters/

test: install
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile

bench: install
	$(BIN)/python scripts/bench.py

release: install
	$(BIN)/python -m utils.release release $(if $(REPO),--repo $(REPO),)

grade: install
	@test -n "$(DIR)" || { echo "usage: make grade DIR=folder-of-student-notebooks"; exit 2; }
	$(BIN)/python -m utils.grading "$(DIR)" --out grades.csv

clean:
	rm -rf $(VENV) .pytest_cache test-output
