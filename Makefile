# Dossier: `make demo` exports the sample person; `make test` runs the whole suite.
# Both install what they need on Debian (as root) when it is missing.

SWIFT      ?= swift
PYTHON     ?= python3
VENV       := .build-venv
DOSSIER    := .build/debug/dossier
DEMO_OUT   := .build-demo

# Debian packages: C libraries (linked), the readers the tests use, Python for samples and tests.
APT_PACKAGES := pkg-config libarchive-dev libxml2-dev libsqlite3-dev libphonenumber-dev libprotobuf-dev \
                libarchive-tools unzip libxml2-utils p7zip-full chromium sqlite3 python3 python3-venv systemd postgresql \
                libreoffice-calc-nogui

PREFIX     ?= /usr/local

.PHONY: all deps build install uninstall samples venv demo test unit integration bench bench-postgres bench-export fuzz embed holidays clean

all: build

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing Debian packages:$$missing"; \
	    echo "Run 'sudo apt-get install$$missing' (or run make as root), then try again."; exit 1; \
	  fi; \
	fi
	@command -v $(SWIFT) >/dev/null || { echo "Swift 6 is needed (https://www.swift.org/install/linux/), then try again."; exit 1; }

build: deps embed
	$(SWIFT) build --product dossier

# One file: a release build with the Swift runtime linked in (its resources are embedded), copied to
# $(DESTDIR)$(PREFIX)/bin. At run time it needs only the C libraries it links (see the README).
install: deps embed
	$(SWIFT) build -c release --static-swift-stdlib --product dossier
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 .build/release/dossier $(DESTDIR)$(PREFIX)/bin/dossier
	@echo "Installed $(DESTDIR)$(PREFIX)/bin/dossier ($$($(DESTDIR)$(PREFIX)/bin/dossier --version)). Try: dossier --help"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/dossier

# index.html's template, stylesheet and translations, embedded in the binary from
# Sources/DossierReport/Resources (rewritten only when a resource changed).
embed:
	@$(PYTHON) Sources/DossierReport/embed.py

samples: deps
	$(PYTHON) Samples/build.py

$(VENV)/.installed: Tests/integration/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r Tests/integration/requirements.txt
	touch $@

venv: deps $(VENV)/.installed

demo: build samples
	@rm -rf $(DEMO_OUT) && mkdir -p $(DEMO_OUT)
	$(DOSSIER) validate --config Samples/dossier.yaml
	$(DOSSIER) index --config Samples/dossier.yaml
	@echo "Exporting the sample person (zofia.wisniewska@example.pl):"
	@archive=$$($(DOSSIER) export --config Samples/dossier.yaml --email zofia.wisniewska@example.pl --out $(DEMO_OUT)) && \
	  echo "$$archive" && mkdir -p $(DEMO_OUT)/zofia && bsdtar -xf "$$archive" -C $(DEMO_OUT)/zofia
	@echo "Exporting the second company's sample person (jonas.tamm@example.ee) through a CSV, a log, an HTTP API and a script:"
	@DOSSIER=$(CURDIR)/$(DOSSIER) OUT=$(DEMO_OUT) PYTHON=$(PYTHON) bash Samples/wss/demo.sh
	@echo
	@echo "Next: open $(CURDIR)/$(DEMO_OUT)/zofia/index.html in a browser (xdg-open on a desktop):"
	@echo "the page the person receives, unpacked from the first archive above. Each archive holds it,"
	@echo "the data as JSON, CSV and XML, and manifest.json. The binary is $(CURDIR)/$(DOSSIER)"
	@echo "('make install' puts a release build on the PATH)."

unit: deps embed
	$(SWIFT) test

integration: build samples venv
	DOSSIER=$(CURDIR)/$(DOSSIER) $(VENV)/bin/python -m pytest -q Tests/integration

test: build samples venv
	$(SWIFT) test
	DOSSIER=$(CURDIR)/$(DOSSIER) $(VENV)/bin/python -m pytest -q Tests/integration

# The benchmark of record: a generated data set of BENCH_PEOPLE people (default 10,000; about
# 1,000,000 source records, reused) through dossier index, dossier batch, the bsdtar floor, single
# exports, peak memory and Chinook, with a release build (the Swift runtime and Foundation linked in
# statically: 16 -> 11 ms to start); prints the table and which targets are met.
bench: deps venv embed
	@for p in time hyperfine; do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || \
	  { [ "$$(id -u)" = 0 ] && apt-get install -y -qq $$p >/dev/null; } || { echo "Install the Debian package '$$p'."; exit 1; }; done
	$(SWIFT) build -c release --static-swift-stdlib --product dossier
	DOSSIER=release Tests/bench/batch.sh
	$(VENV)/bin/python Tests/bench/postgres.py
	$(VENV)/bin/python Tests/bench/ledger_load.py

# The PostgreSQL part alone: Chinook as a source, and the queue with 1, 2 and 4 workers.
bench-postgres: deps venv embed
	$(SWIFT) build -c release --static-swift-stdlib --product dossier
	$(VENV)/bin/python Tests/bench/postgres.py

# The earlier benchmark: single exports of a 77,001-record subject on 650 MiB of generated sources.
bench-export: deps embed
	@command -v /usr/bin/time >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq time >/dev/null; } || { echo "Install the Debian package 'time'."; exit 1; }
	$(SWIFT) build -c release --product dossier
	DOSSIER=release Tests/bench/run.sh

# libFuzzer over the readers (Sources/DossierFuzz): each target for FUZZ_SECONDS (default 60), built
# with -sanitize=fuzzer in .build-fuzz; a crash, a hang or 2 GB of memory fails it (Tests/fuzz/run.sh).
FUZZ_SECONDS ?= 60
fuzz: deps venv embed
	$(SWIFT) build --product dossier-fuzz --build-path .build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DDOSSIER_FUZZING
	FUZZ_SECONDS=$(FUZZ_SECONDS) Tests/fuzz/run.sh

# The public holiday table of the EU and EEA states (Sources/DossierModel/Holidays), regenerated from
# the pinned PyPI package `holidays` (Tests/integration/requirements.txt); make test checks it is current.
holidays: venv
	$(VENV)/bin/python Sources/DossierModel/Holidays/generate.py

clean:
	rm -rf .build $(VENV) $(DEMO_OUT) Samples/crm/*.sqlite Samples/index
