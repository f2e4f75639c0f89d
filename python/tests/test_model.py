"""bigbird.Model and bigbird.Tokenizer against `bigbird forward`, `bigbird generate` and
`bigbird tokenize`: the same tensors (bit for bit: the same C++ code runs), names and dtypes."""
import os

import numpy as np
import pytest

from conftest import (MLM, PEGASUS_FIXTURES, PRETRAINING, QA, TOKENIZER, cli_json, read_safetensors, run_cli,
                      write_safetensors)

PEGASUS_MODEL = os.path.join(PEGASUS_FIXTURES, "model")


def fixture_inputs(path, names=("input_ids", "attention_mask", "token_type_ids")):
    tensors, _ = read_safetensors(path)
    return {n: tensors[n] for n in names if n in tensors}


def cli_forward(tmp_path, model, inputs, *args):
    src, dst = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    write_safetensors(src, inputs)
    rc, out, err = run_cli(["forward", "--model", model, "--inputs", src, "--outputs", dst] + list(args))
    assert rc == 0, err
    return read_safetensors(dst)[0]


def assert_same_tensors(got, want):
    assert list(got) == list(want)
    for name, w in want.items():
        assert got[name].dtype == w.dtype, name
        assert got[name].shape == w.shape, name
        np.testing.assert_array_equal(got[name], w, err_msg=name)


def test_forward_matches_cli(bigbird, tmp_path):
    inputs = fixture_inputs(os.path.join(PRETRAINING, "..", "case_i_b2_s256_padrow1.safetensors"))
    model = bigbird.Model.from_pretrained(PRETRAINING)
    assert model.model_type == "big_bird"
    assert_same_tensors(model(**inputs), cli_forward(tmp_path, PRETRAINING, inputs))
    got = model(**inputs, random_plan="hf", threads=1)
    assert_same_tensors(got, cli_forward(tmp_path, PRETRAINING, inputs, "--random-plan", "hf", "--threads", "1"))
    # the output names of the fixture README
    assert {"embedding_output", "hidden_state.layer0", "sequence_output", "pooler_output", "mlm_logits",
            "nsp_logits", "rand_attn.layer0"} <= set(got)
    assert_same_tensors(model(**inputs, random_plan="seeded", seed=3, attention="original_full"),
                        cli_forward(tmp_path, PRETRAINING, inputs, "--random-plan", "seeded", "--seed", "3",
                                    "--attention", "original_full"))


def test_forward_qa_head_and_int32_inputs(bigbird, tmp_path):
    inputs = fixture_inputs(os.path.join(QA, "..", "case_ii_b1_s250.safetensors"), ("input_ids", "attention_mask"))
    want = cli_forward(tmp_path, QA, inputs)
    got = bigbird.Model.from_pretrained(QA)(input_ids=inputs["input_ids"].astype(np.int32),
                                            attention_mask=inputs["attention_mask"].tolist())
    assert_same_tensors(got, want)
    assert "qa.start_logits" in got


def test_forward_outputs_are_numpy_arrays_that_own_their_data(bigbird):
    ids = np.array([[65, 100, 101, 66]], dtype=np.int64)
    out = bigbird.Model.from_pretrained(PRETRAINING)(ids)
    seq = out["sequence_output"]
    assert isinstance(seq, np.ndarray) and seq.dtype == np.float32 and seq.shape == (1, 4, 64)
    assert seq.flags["C_CONTIGUOUS"] and seq.flags["WRITEABLE"]
    assert seq.base is not None  # wraps the library's buffer (no copy)
    del out
    assert np.isfinite(seq).all()


def test_pegasus_forward_matches_cli(bigbird, tmp_path):
    inputs = fixture_inputs(os.path.join(PEGASUS_FIXTURES, "case_enc256_dec12.safetensors"),
                            ("input_ids", "attention_mask", "decoder_input_ids"))
    model = bigbird.Model.from_pretrained(PEGASUS_MODEL)
    assert model.model_type == "bigbird_pegasus"
    assert_same_tensors(model(**inputs, generate_steps=4), cli_forward(tmp_path, PEGASUS_MODEL, inputs, "--generate", "4"))
    no_dec = {k: v for k, v in inputs.items() if k != "decoder_input_ids"}
    assert_same_tensors(model(**no_dec), cli_forward(tmp_path, PEGASUS_MODEL, no_dec))


@pytest.mark.parametrize("flags", [
    {},
    {"num_beams": 4, "length_penalty": 0.8, "max_length": 24, "early_stopping": True},
    {"num_beams": 4, "num_return_sequences": 2, "no_repeat_ngram_size": 3, "min_length": 10, "max_new_tokens": 12},
    {"num_beams": 3, "eos_token_id": None, "forced_eos_token_id": None, "max_length": 9, "use_cache": False},
])
def test_generate_matches_cli(bigbird, tmp_path, flags):
    inputs = fixture_inputs(os.path.join(PEGASUS_FIXTURES, "generate_enc300_b2_greedy.safetensors"),
                            ("input_ids", "attention_mask"))
    src, dst = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    write_safetensors(src, inputs)
    args = []
    for k, v in flags.items():
        if v is True:  # a flag: --early-stopping
            args.append("--" + k.replace("_", "-"))
            continue
        args += ["--" + k.replace("_", "-"), "None" if v is None else str(v).lower() if isinstance(v, bool) else str(v)]
    rc, out, err = run_cli(["generate", "--model", PEGASUS_MODEL, "--inputs", src, "--outputs", dst] + args)
    assert rc == 0, err
    want = read_safetensors(dst)[0]
    got = bigbird.Model.from_pretrained(PEGASUS_MODEL).generate(**inputs, **flags)
    assert_same_tensors(got, want)


def test_generate_with_decoder_prompt(bigbird, tmp_path):
    inputs = fixture_inputs(os.path.join(PEGASUS_FIXTURES, "case_enc256_dec12.safetensors"),
                            ("input_ids", "attention_mask", "decoder_input_ids"))
    inputs["decoder_input_ids"] = inputs["decoder_input_ids"][:, :3]
    src, dst = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    write_safetensors(src, inputs)
    rc, out, err = run_cli(["generate", "--model", PEGASUS_MODEL, "--inputs", src, "--outputs", dst,
                            "--max-length", "10"])
    assert rc == 0, err
    got = bigbird.Model.from_pretrained(PEGASUS_MODEL).generate(**inputs, max_length=10)
    assert_same_tensors(got, read_safetensors(dst)[0])


def test_tokenizer_matches_cli(bigbird):
    tok = bigbird.Tokenizer.from_pretrained(MLM)
    text, pair = "Hello world, this is BigBird!", "A second text."
    assert tok(text) == cli_json(["tokenize", "--model", MLM, text])[0]
    assert tok(text, text_pair=pair) == cli_json(["tokenize", "--model", MLM, "--text-pair", pair, text])[0]
    assert tok(text, text_pair=pair, max_length=8) == cli_json(
        ["tokenize", "--model", MLM, "--text-pair", pair, "--max-length", "8", text])[0]
    assert tok(text, max_length=6, truncation=True) == cli_json(
        ["tokenize", "--model", MLM, "--max-length", "6", text])[0]
    assert tok(text, max_length=6, truncation=False) == tok(text)
    assert tok(text, add_special_tokens=False) == cli_json(["tokenize", "--model", MLM, "--no-special-tokens", text])[0]
    assert tok([text, pair]) == [tok(text), tok(pair)]
    assert set(tok(text)) == {"input_ids", "token_type_ids", "attention_mask", "tokens", "offsets"}


def test_tokenizer_decode(bigbird):
    tok = bigbird.Tokenizer.from_pretrained(TOKENIZER)
    ids = tok("Paris is the capital of France.")["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == "Paris is the capital of France."
    assert tok.decode(np.array(ids)).startswith("[CLS]")
    # the fill-mask pipeline's "sequence" is the same decode
    answer = bigbird.pipeline("fill-mask", model=MLM, top_k=1)("Paris is the [MASK] of France.")[0]
    filled = tok("Paris is the [MASK] of France.")["input_ids"]
    filled[filled.index(tok("[MASK]", add_special_tokens=False)["input_ids"][0])] = answer["token"]
    assert tok.decode(filled, skip_special_tokens=True) == answer["sequence"]
