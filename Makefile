# musicnn: `make demo` installs and runs the main job, `make test` installs and runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch pinned here is installed first where it can be (it lies on the
# project machines' disk); pyproject.toml only asks for a range.
TORCH_SPEC ?= torch==2.13.0
DEMO_DATA ?= data/instruments
RUNS ?= runs
JOBS ?= 2

MULTI_DATA ?= data/multi
PRETRAINED ?= musicnn/pretrained/instrument-families.safetensors
ENSEMBLE ?= 3

.PHONY: install demo test bench pretrained examples clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)" || echo "note: $(TORCH_SPEC) unavailable; pyproject.toml's torch range applies"
	$(BIN)/python -m pip install -q -e ".[test,bench,soundfonts,styles,download,examples]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/musicnn datasets build instruments --out $(DEMO_DATA) --jobs $(JOBS)
	$(BIN)/musicnn classify $$(ls $(DEMO_DATA)/*/*_n060_v120.wav | head -n 6) --top-k 3
	$(BIN)/musicnn train --data $(DEMO_DATA) --model mlp --out $(RUNS)/mlp.safetensors --jobs $(JOBS)
	$(BIN)/musicnn train --data $(DEMO_DATA) --model cnn --out $(RUNS)/cnn.safetensors --jobs $(JOBS)
	$(BIN)/musicnn evaluate $(RUNS)/cnn.safetensors --data $(DEMO_DATA) --split test --confusion $(RUNS)/cnn.test-confusion.png
	$(BIN)/musicnn classify $(RUNS)/cnn.safetensors $$(ls $(DEMO_DATA)/*/*_n060_v120.wav | head -n 6) --top-k 3

test: install
	$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

bench: install
	$(BIN)/python benchmarks/features_throughput.py --n 200
	$(BIN)/python benchmarks/decode_fft_bound.py
	$(BIN)/python benchmarks/cold_start.py
	$(BIN)/python benchmarks/accuracy.py --data $(DEMO_DATA)
	$(BIN)/python benchmarks/accuracy.py --data $(DEMO_DATA) --seeds 0 1 2 --models deep
	$(BIN)/python benchmarks/classify_throughput.py --n 60
	$(BIN)/python benchmarks/training_throughput.py
	$(BIN)/python benchmarks/long_file_memory.py

# Executes every course notebook and writes an HTML copy with its outputs into examples/_build/.
examples: install
	mkdir -p examples/_build
	cd examples && ls [0-9][0-9]-*.ipynb >/dev/null 2>&1 || { echo "no notebooks in examples/ yet" >&2; exit 1; }; \
	  for nb in [0-9][0-9]-*.ipynb; do \
	  MPLBACKEND=Agg ../$(BIN)/jupyter nbconvert --to html --execute --output-dir _build "$$nb" || exit 1; done

# Retrains the shipped instrument-family model from scratch: an ensemble of ENSEMBLE CNNs
# (see the README's model card for its time on 2 cores; ENSEMBLE=1 trains one CNN in a
# third of it); PRETRAINED=runs/x.safetensors writes elsewhere.
pretrained: install
	$(BIN)/musicnn datasets build instruments --soundfont timgm6mb --soundfont merlin --out $(MULTI_DATA) --jobs $(JOBS)
	$(BIN)/musicnn train --data $(MULTI_DATA) --model cnn --out $(PRETRAINED) \
	  --preset logmel --hop-length 256 --top-db 80 --duration 1.5 --test-size 0 --val-size 0 --epochs 15 \
	  --param channels=[16,32,64,128] --param global_pool=avg --param batch_size=32 \
	  --param patience=100 --param validation_fraction=0 --audio-augment eq,reverb,gain --augment-copies 1 --ensemble $(ENSEMBLE) --jobs $(JOBS)

clean:
	rm -rf $(VENV) $(DEMO_DATA) $(RUNS) .pytest_cache examples/_build
