# The two README commands. Both install their own dependencies (Debian packages) first.
#   make demo   build, answer fill-mask and similarity queries with the BigBird pretrained here (models/kjv-mlm), run the
#               fixtures' tiny BigBird through `bigbird forward`, check it against
#               HuggingFace's outputs, then the memory benchmark at base size
#   make test   build and run the whole test suite
# Extra: make test-sanitize (ASan + UBSan build of the suite), make bench (full sweep: table and
# SVG plot into bench/results and the README, scripts/bench_sweep.py), make bench-train (training
# step against length, scripts/bench_train.py), make bench-serve (bigbird serve under load,
# bench/bench_serve.py), make fuzz (libFuzzer targets of fuzz/, FUZZ_SECONDS
# each, scripts/run_fuzz.sh).
JOBS ?= 2
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
FIXTURE := tests/data/roberta-tiny
# A python3 with numpy (Debian's python3-numpy): the one on PATH, else Debian's own.
PYTHON ?= $(shell python3 -c "import numpy" 2>/dev/null && echo python3 || echo /usr/bin/python3)

.PHONY: deps build demo test test-sanitize fuzz bench bench-train bench-serve clean

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@echo "== bigbird fill-mask: text in, answer out (models/kjv-mlm: a BigBird pretrained here on the King James Bible)"
	$(BUILD)/bigbird fill-mask --model models/kjv-mlm --top-k 3 "Then the king [MASK] unto his servants, Bind him hand and foot."
	$(BUILD)/bigbird fill-mask --model models/kjv-mlm --top-k 3 "And Moses said unto the [MASK], Fear ye not."
	@echo "== bigbird embed: which verse is nearest to each query (cosine of models/kjv-mlm's mean-pooled vectors)"
	$(PYTHON) scripts/demo_similar.py --bigbird $(BUILD)/bigbird --model models/kjv-mlm
	@echo "== bigbird forward: roberta-tiny (BigBirdForPreTraining), batch 2 x 256 tokens, block_sparse, HF's random plan"
	$(BUILD)/bigbird forward --model $(FIXTURE)/pretraining --inputs $(FIXTURE)/case_i_b2_s256_padrow1.safetensors \
	    --outputs $(BUILD)/demo_out.safetensors --random-plan hf
	@echo "== our outputs vs HuggingFace transformers 4.27.1"
	$(BUILD)/bigbird compare $(BUILD)/demo_out.safetensors $(FIXTURE)/case_i_b2_s256_padrow1.safetensors
	@echo "== memory benchmark: base size (hidden 768, 12 layers, 12 heads, block 64, r 3), random weights"
	$(BUILD)/bigbird bench --shape base --seq-len 1024,2048,4096,8192 --attention block_sparse --repeats 1

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-sanitize: deps
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DBIGBIRD_SANITIZE=ON -DBIGBIRD_BENCH=OFF >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)
	@cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

# clang-14 with libFuzzer, ASan and UBSan (its own build of the library); exits 1 on any finding.
fuzz:
	@bash scripts/install-deps.sh --fuzz
	@CC=clang-14 CXX=clang++-14 cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug -DBIGBIRD_FUZZ=ON \
	    -DBIGBIRD_TESTS=OFF -DBIGBIRD_BENCH=OFF -DBIGBIRD_PYTHON=OFF >/dev/null
	@cmake --build $(BUILD_FUZZ) -j $(JOBS) --target bigbird_fuzz
	@bash scripts/run_fuzz.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

bench: build
	python3 scripts/bench_sweep.py --bigbird $(BUILD)/bigbird --shape base --repeats 3 --out bench/results --readme README.md

# Training step time, rate and memory against length (README's training table; minutes).
bench-train: build
	python3 scripts/bench_train.py --bigbird $(BUILD)/bigbird

# bigbird serve under load (wrk when installed): req/s, p50/p99 and peak RSS against clients and
# input length, beside the offline rate; table to stdout, JSON and SVG into bench/results (minutes).
# With 2 or more CPUs: the server (1 thread) and the offline runs on CPU 0, the load generator on the others.
SERVE_PIN = $(shell [ $$(nproc) -ge 2 ] && echo --threads 1 --server-cpus 0)
bench-serve: build
	@command -v wrk >/dev/null || bash scripts/install-deps.sh --bench
	python3 bench/bench_serve.py --bigbird $(BUILD)/bigbird --model models/tiny-mlm --clients 1,4,16,64 $(SERVE_PIN) \
	    --words 32,120,240 --seconds 3 --repeats 3 --json bench/results/serve_tiny-mlm.json --svg bench/results/serve_tiny-mlm.svg
	@if [ -d models/kjv-mlm ]; then \
	    python3 bench/bench_serve.py --bigbird $(BUILD)/bigbird --model models/kjv-mlm --clients 1,4,16,64 $(SERVE_PIN) \
	        --words 32,240,1000 --seconds 3 --repeats 3 --json bench/results/serve_kjv-mlm.json --svg bench/results/serve_kjv-mlm.svg; \
	else echo "bench-serve: models/kjv-mlm is not shipped yet (README, 'A model trained here'): its table is skipped"; fi

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
