"""Two Python threads on one object, the GIL released while the engine runs, and errors as Python
exceptions with the CLI's messages."""
import os
import threading
import time

import numpy as np
import pytest

from conftest import (MLM, PEGASUS, PRETRAINING, SEQCLS, TOKENIZER, cli_error, read_safetensors, run_cli,
                      write_safetensors)

TEXT = "Paris is the [MASK] of France."
LONG = " ".join(["word"] * 150) + " [MASK] " + " ".join(["end"] * 80)  # < 1024 tokens


def run_in_threads(fns):
    results, errors = [None] * len(fns), []

    def call(i):
        try:
            results[i] = fns[i]()
        except Exception as e:  # re-raised below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_two_threads_one_pipeline_same_answers(bigbird):
    fill_mask = bigbird.pipeline("fill-mask", model=MLM, threads=2)
    alone = [fill_mask(LONG, top_k=3), fill_mask(TEXT)]
    for _ in range(3):
        assert run_in_threads([lambda: fill_mask(LONG, top_k=3), lambda: fill_mask(TEXT)]) == alone
        assert run_in_threads([lambda: fill_mask(LONG, top_k=3)] * 2) == [alone[0]] * 2


def test_two_threads_one_model_same_tensors(bigbird):
    model = bigbird.Model.from_pretrained(PRETRAINING, threads=2)
    rng = np.random.RandomState(0)
    a = rng.randint(5, 500, size=(2, 512))
    b = rng.randint(5, 500, size=(1, 300))
    alone = [model(a, random_plan="hf"), model(b)]
    for _ in range(3):
        both = run_in_threads([lambda: model(a, random_plan="hf"), lambda: model(b)])
        for got, want in zip(both, alone):
            assert list(got) == list(want)
            for k in want:
                np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_two_threads_one_summarizer(bigbird):
    summarize = bigbird.pipeline("summarization", model=PEGASUS, num_beams=2, max_length=10)
    texts = ["Free software respects its users.", "A longer text about the freedom of software users and makers."]
    alone = [summarize(t) for t in texts]
    assert run_in_threads([lambda: summarize(texts[0]), lambda: summarize(texts[1])]) == alone


def test_gil_is_released_while_the_model_runs(bigbird):
    model = bigbird.Model.from_pretrained(PRETRAINING, threads=1)
    ids = np.random.RandomState(1).randint(5, 500, size=(8, 1024))
    start = time.perf_counter()
    model(ids)
    one_call = time.perf_counter() - start
    done = threading.Event()
    ticks = [0]

    def count():
        while not done.is_set():
            ticks[0] += 1

    counter = threading.Thread(target=count)
    counter.start()
    try:
        start = time.perf_counter()
        model(ids)
        during = time.perf_counter() - start
        at_end = ticks[0]
    finally:
        done.set()
        counter.join()
    # With the GIL held for the whole call the counter would stand still (a few switch intervals of
    # 5 ms at most, before the call starts); released, it runs all along: far more than 1000 ticks
    # in a call of tens of milliseconds (a Python loop does ~10^6 ticks/s).
    assert one_call > 0.02 and during > 0.02, (one_call, during)
    assert at_end > 1000, at_end


# ---- errors ----------------------------------------------------------------------------------------


def test_missing_model_directory_is_file_not_found(bigbird, tmp_path):
    missing = str(tmp_path / "no-such-model")
    want = cli_error(["fill-mask", "--model", missing, TEXT])
    with pytest.raises(FileNotFoundError) as e:
        bigbird.pipeline("fill-mask", model=missing)
    assert str(e.value) == want
    with pytest.raises(FileNotFoundError) as e:
        bigbird.Tokenizer.from_pretrained(missing)
    assert str(e.value) == cli_error(["tokenize", "--model", missing, TEXT])
    with pytest.raises(FileNotFoundError) as e:
        bigbird.Model.from_pretrained(missing)
    src = tmp_path / "in.safetensors"
    write_safetensors(src, {"input_ids": np.array([[65, 66]])})
    assert str(e.value) == cli_error(["forward", "--model", missing, "--inputs", src, "--outputs", tmp_path / "o"])


def test_missing_weights_file_is_file_not_found(bigbird, tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    for f in ("config.json", "spiece.model", "tokenizer_config.json", "special_tokens_map.json"):
        (d / f).write_bytes(open(os.path.join(MLM, f), "rb").read())
    with pytest.raises(FileNotFoundError) as e:
        bigbird.pipeline("fill-mask", model=str(d))
    assert str(e.value) == cli_error(["fill-mask", "--model", d, TEXT])


def test_bad_inputs_are_value_errors_with_the_cli_message(bigbird, tmp_path):
    fill_mask = bigbird.pipeline("fill-mask", model=MLM)
    with pytest.raises(ValueError) as e:
        fill_mask("There is no mask here.")
    assert str(e.value) == cli_error(["fill-mask", "--model", MLM, "There is no mask here."])
    with pytest.raises(ValueError) as e:
        fill_mask(TEXT, top_k=100000)
    assert str(e.value) == cli_error(["fill-mask", "--model", MLM, "--top-k", "100000", TEXT])
    with pytest.raises(ValueError) as e:
        bigbird.pipeline("fill-mask", model=SEQCLS, tokenizer=TOKENIZER)(TEXT)
    assert str(e.value) == cli_error(["fill-mask", "--model", SEQCLS, "--tokenizer", TOKENIZER, TEXT])
    with pytest.raises(ValueError) as e:
        bigbird.pipeline("text-classification", model=SEQCLS, tokenizer=TOKENIZER)("x", function_to_apply="cubic")
    with pytest.raises(ValueError, match="is not a positive number"):
        bigbird.pipeline("text-classification", model=SEQCLS, tokenizer=TOKENIZER, top_k=0)
    with pytest.raises(ValueError) as e:
        fill_mask(TEXT, random_plan="zeros", seed=3)
    assert str(e.value) == cli_error(["fill-mask", "--model", MLM, "--seed", "3", TEXT])


def test_bad_model_inputs_and_generation_settings(bigbird, tmp_path):
    model = bigbird.Model.from_pretrained(PRETRAINING)
    src, out = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    for bad in (np.array([65, 100, 66]), np.array([[65, 9999, 66]])):
        write_safetensors(src, {"input_ids": bad.astype(np.int64)})
        with pytest.raises(ValueError) as e:
            model(bad)
        assert str(e.value) == cli_error(["forward", "--model", PRETRAINING, "--inputs", src, "--outputs", out])
    with pytest.raises(ValueError, match="has shape"):
        model(np.array([[65, 66]]), attention_mask=np.array([[1, 1, 1]]))
    with pytest.raises(ValueError, match="bigbird_pegasus"):
        model.generate(np.array([[65, 66]]))

    peg_dir = os.path.join(os.environ.get("BIGBIRD_TEST_DATA", ""), "pegasus-tiny", "model") \
        if os.environ.get("BIGBIRD_TEST_DATA") else os.path.join(os.path.dirname(__file__), "..", "..", "tests",
                                                                   "data", "pegasus-tiny", "model")
    pegasus = bigbird.Model.from_pretrained(peg_dir)
    write_safetensors(src, {"input_ids": np.array([[5, 6, 7, 1]])})
    for flags, cli_flags in [({"num_beams": 2, "num_return_sequences": 3},
                              ["--num-beams", "2", "--num-return-sequences", "3"]),
                             ({"num_beams": 4, "max_length": 1}, ["--num-beams", "4", "--max-length", "1"]),
                             ({"num_beams": "abc"}, ["--num-beams", "abc"])]:
        with pytest.raises(ValueError) as e:
            pegasus.generate(np.array([[5, 6, 7, 1]]), **flags)
        assert str(e.value) == cli_error(["generate", "--model", peg_dir, "--inputs", src, "--outputs", out]
                                         + cli_flags)


def test_usage_errors_are_type_errors(bigbird):
    fill_mask = bigbird.pipeline("fill-mask", model=MLM)
    with pytest.raises(TypeError, match="unexpected keyword argument 'topk'"):
        fill_mask(TEXT, topk=3)
    with pytest.raises(TypeError):
        fill_mask(3)
    with pytest.raises(TypeError):
        bigbird.Model.from_pretrained(PRETRAINING).generate(np.array([[65, 66]]), beams=2)
    with pytest.raises(ValueError, match="unknown task"):
        bigbird.pipeline("translation", model=MLM)
