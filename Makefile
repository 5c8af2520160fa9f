# The two commands:  make demo  |  make test     (benchmarks: make bench | make bench-ansible)
# All of them bootstrap what they need: host packages and a Docker daemon (tools/hostprep.py),
# the locked tool environment (uv, pyproject.toml + uv.lock) and the example app's build.

UV_VERSION := 0.13.9
BOOTSTRAP  := .cache/bootstrap
UV         := $(BOOTSTRAP)/bin/uv
VENV       := .venv
PYTHON     := $(VENV)/bin/python
FRONTEND   := examples/app/frontend
BACKEND    := examples/app/backend
NOTES_FRONTEND := examples/notes/frontend
NOTES_BACKEND  := examples/notes/backend
UIKIT_FRONTEND := examples/uikit/frontend
# Longest first: `make molecule` runs MOLECULE_JOBS of them at once (tools/molecule_suite.py).
SCENARIOS  ?= scaleout releases default apps acme own_playbook resilience nginx_gateway python_uv gunicorn frontend
MOLECULE_JOBS ?= 2

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

# Every target runs with a home directory of its own, .cache/home (git-ignored), so that
# nothing lands in the user's: the collection ansible-lint would install, Ansible's
# temporary files (local, and "remote" ones of plays on localhost), Molecule's scenario
# state and the Docker driver's async files, ansible-test's virtual environments, and the
# caches of uv, pip and npm, and pytest's temporary directories (it keeps the last three).
# Variables a user may have pointed elsewhere are set too.
# The user's configuration is still read where it lives: pip, uv, git and yamllint
# under XDG_CONFIG_HOME, ~/.gitconfig (included by the home's own), ~/.npmrc, ~/.docker
# (contexts, registry auth), ~/.netrc.
USER_HOME := $(HOME)
export XDG_CONFIG_HOME := $(or $(XDG_CONFIG_HOME),$(USER_HOME)/.config)
export DOCKER_CONFIG := $(or $(DOCKER_CONFIG),$(USER_HOME)/.docker)
export npm_config_userconfig := $(or $(npm_config_userconfig),$(USER_HOME)/.npmrc)
ifneq ($(wildcard $(USER_HOME)/.netrc),)
export NETRC := $(or $(NETRC),$(USER_HOME)/.netrc)
endif
HOME_DIR := $(CURDIR)/.cache/home
export HOME := $(HOME_DIR)
export XDG_CACHE_HOME := $(HOME)/.cache
export XDG_DATA_HOME := $(HOME)/.local/share
export XDG_STATE_HOME := $(HOME)/.local/state
export ANSIBLE_HOME := $(HOME)/.ansible
# Ansible expands the default remote_tmp (~/.ansible/tmp) as ~USER, from the password
# database, not from HOME: on the controller (Molecule's create and destroy, the roles' tasks
# delegated to localhost) that is the user's own home. $HOME is expanded by the shell of
# each host instead: this checkout's home here, the usual ~/.ansible/tmp on the others.
export ANSIBLE_REMOTE_TMP := $$HOME/.ansible/tmp
export UV_CACHE_DIR := $(XDG_CACHE_HOME)/uv
export PIP_CACHE_DIR := $(XDG_CACHE_HOME)/pip
export npm_config_cache := $(HOME)/.npm
export PYTEST_DEBUG_TEMPROOT := $(HOME)/tmp
HOME_READY := $(HOME)/.gitconfig $(PYTEST_DEBUG_TEMPROOT)

# PyPI and npm may sit behind an HTTPS proxy whose CA only this machine's bundle holds;
# the test containers and the demo get the same bundle (python_uv_extra_ca_bundle).
export FULLSTACK_EXTRA_CA_BUNDLE ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections:$(CURDIR)/$(VENV)/lib/python3.11/site-packages
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test bench bench-ansible tools host app lint unit sanity molecule clean

demo: tools host app
	$(PYTHON) -m tools.demo

# The checks (lint, unit tests, sanity) run as the first of the MOLECULE_JOBS jobs, beside
# the first scenarios: they are mostly single-threaded (tools/molecule_suite.py).
test: tools host app
	$(PYTHON) -m tools.molecule_suite --jobs $(MOLECULE_JOBS) \
		--checks "$(MAKE) --no-print-directory lint unit sanity" $(SCENARIOS)

# Seed recipe vs collection vs Gunicorn alone, plain HTTP and HTTPS, with the CPU per request
# of each unit, in one container: benchmarks/results/latest.{md,json}. BENCH_ARGS e.g. "--rounds 5".
bench: tools host app
	$(PYTHON) -m tools.bench http $(BENCH_ARGS)

# site.yml's own run time (fresh, no change, back end, front end; 1, 4 and 8 hosts; over
# docker and ssh; Ansible's linear strategy and Mitogen's; whole runs and deploy_fast_path):
# benchmarks/results/ansible-latest.{md,json}. BENCH_ARGS e.g. "--hosts 1 --rounds 5";
# "--baseline REF" also runs site.yml of git revision REF (a worktree under .cache/bench/,
# containers *-base) step by step beside this checkout's, with the ratios current / REF.
bench-ansible: tools host app
	$(PYTHON) -m tools.bench ansible $(BENCH_ARGS)

$(HOME)/.gitconfig:
	mkdir -p $(@D)
	printf '[include]\n\tpath = %s\n' "$(USER_HOME)/.gitconfig" > $@

$(PYTEST_DEBUG_TEMPROOT):
	mkdir -p $@

$(UV): | $(HOME_READY)
	python3 -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --compile-bytecode: every ansible-playbook run and each of its forked workers would
# otherwise compile Ansible from source (PYTHONDONTWRITEBYTECODE, exported above, keeps the tree
# free of __pycache__): a no-change site.yml run spent ~2 s of CPU on it.
tools: $(UV) | $(HOME_READY)
	$(UV) sync --locked --quiet --compile-bytecode
	mkdir -p .cache/collections/ansible_collections/fullstack
	ln -sfn ../../../.. .cache/collections/ansible_collections/fullstack/webapp

host: | $(HOME_READY)
	python3 tools/hostprep.py

$(FRONTEND)/node_modules/.package-lock.json: $(FRONTEND)/package-lock.json | $(HOME_READY)
	cd $(FRONTEND) && npm ci --no-audit --no-fund

$(NOTES_FRONTEND)/node_modules/.package-lock.json: $(NOTES_FRONTEND)/package-lock.json | $(HOME_READY)
	cd $(NOTES_FRONTEND) && npm ci --no-audit --no-fund

$(UIKIT_FRONTEND)/node_modules/.package-lock.json: $(UIKIT_FRONTEND)/package-lock.json | $(HOME_READY)
	cd $(UIKIT_FRONTEND) && npm ci --no-audit --no-fund

app: $(FRONTEND)/node_modules/.package-lock.json $(NOTES_FRONTEND)/node_modules/.package-lock.json \
		$(UIKIT_FRONTEND)/node_modules/.package-lock.json | $(HOME_READY)
	cd $(FRONTEND) && npm run build
	cd $(NOTES_FRONTEND) && npm run build
	cd $(UIKIT_FRONTEND) && npm run build

lint: tools
	yamllint -s .
	ansible-lint
	ruff check .
	ruff format --check .
	mypy tools plugins tests molecule

unit: tools
	pytest
	cd $(BACKEND) && UV_PROJECT_ENVIRONMENT=$(CURDIR)/.cache/app-venv $(CURDIR)/$(UV) run --locked --quiet pytest -q -p no:cacheprovider
	cd $(NOTES_BACKEND) && UV_PROJECT_ENVIRONMENT=$(CURDIR)/.cache/notes-venv $(CURDIR)/$(UV) run --locked --quiet pytest -q -p no:cacheprovider

# ansible-test sanity (Python 3.11 controller, a virtual environment per test) on the
# collection as `ansible-galaxy collection build` makes it: tools/sanity.py says how.
# SANITY_ARGS e.g. "--test validate-modules" or "-v".
sanity: tools
	$(PYTHON) -m tools.sanity $(SANITY_ARGS)

molecule: tools host app
	$(PYTHON) -m tools.molecule_suite --jobs $(MOLECULE_JOBS) $(SCENARIOS)

clean:
	-docker rm -f fullstack-webapp-demo fullstack-webapp-bench fullstack-webapp-bench-1 \
		fullstack-webapp-bench-2 fullstack-webapp-bench-3 fullstack-webapp-bench-4 \
		fullstack-webapp-bench-1-base fullstack-webapp-bench-2-base \
		fullstack-webapp-bench-3-base fullstack-webapp-bench-4-base
	-for tree in .cache/bench/baseline-*; do [ -d "$$tree" ] && git worktree remove --force "$$tree"; done
	rm -rf .cache $(VENV) $(FRONTEND)/node_modules $(FRONTEND)/dist \
		$(NOTES_FRONTEND)/node_modules $(NOTES_FRONTEND)/dist \
		$(UIKIT_FRONTEND)/node_modules $(UIKIT_FRONTEND)/dist
