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
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: install lab test bench site chromium release grade clean

install: $(STAMP)

# Reinstalls only when pyproject.toml or constraints.txt changed since the last install.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[lab,test,docs]"
	# torchattacks without its dependencies: see the note in pyproject.toml.
	$(BIN)/python -m pip install --quiet -c constraints.txt --no-deps torchattacks
	touch $@

lab: install
	$(BIN)/jupyter lab $(ROOT_FLAG) chapters/

test: install chromium
	scripts/offline.sh $(BIN)/python -m pytest -n $(WORKERS) --dist loadfile

# The browser test drives Debian's Chromium (never a downloaded browser), with a font for the
# Chinese key terms in its screenshots. Installed here where we can (root with apt-get); elsewhere
# the test is skipped and says why.
chromium:
	@{ command -v chromium && [ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ]; } >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; } \
	  || echo "Chromium is not installed and could not be installed here: the browser test will be skipped."

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
