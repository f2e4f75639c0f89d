"""bigbird.pipeline(...) against the `bigbird` CLI: the same answers (as Python objects, exactly:
both come from the same C++ task code, so every float is the same float32), for one input and for
a list, with options given at creation or per call."""
import json

import pytest

from conftest import (MLM, PEGASUS, QA, QA_CONTEXT, SEQCLS, TAGGER, TOKENIZER, cli_json, run_cli)

TEXT = "Paris is the [MASK] of France."
TEXTS = ["Paris is the [MASK] of France.", "The [MASK] sat on the mat.", "A [MASK] day in [MASK]."]


def jsonl(tmp_path, records):
    p = tmp_path / "in.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(p)


def test_fill_mask_one_input_default_and_top_k(bigbird):
    fill_mask = bigbird.pipeline("fill-mask", model=MLM)
    assert fill_mask(TEXT) == cli_json(["fill-mask", "--model", MLM, TEXT])[0]
    assert fill_mask(TEXT, top_k=3) == cli_json(["fill-mask", "--model", MLM, "--top-k", "3", TEXT])[0]
    assert len(fill_mask(TEXT, top_k=3)) == 3
    # a per-call option lasts for that call only
    assert len(fill_mask(TEXT)) == 5
    # an option at creation
    assert bigbird.pipeline("fill-mask", model=MLM, top_k=2)(TEXT) == cli_json(
        ["fill-mask", "--model", MLM, "--top-k", "2", TEXT])[0]


def test_fill_mask_list_equals_batch_mode(bigbird, tmp_path):
    fill_mask = bigbird.pipeline("fill-mask", model=MLM, top_k=2)
    want = cli_json(["fill-mask", "--model", MLM, "--top-k", "2", "--input",
                     jsonl(tmp_path, [{"text": t} for t in TEXTS])])
    assert fill_mask(TEXTS) == want
    assert fill_mask(TEXTS, batch_size=1) == want
    # several masks: one list per mask
    assert isinstance(want[2][0], list)


def test_fill_mask_run_options(bigbird):
    fill_mask = bigbird.pipeline("fill-mask", model=MLM)
    for args, kwargs in [(["--random-plan", "hf"], {"random_plan": "hf"}),
                         (["--random-plan", "seeded", "--seed", "7"], {"random_plan": "seeded", "seed": 7}),
                         (["--attention", "original_full", "--threads", "1"],
                          {"attention": "original_full", "threads": 1})]:
        long_text = " ".join(["word"] * 150) + " [MASK] " + " ".join(["end"] * 100)
        assert fill_mask(long_text, top_k=2, **kwargs) == cli_json(
            ["fill-mask", "--model", MLM, "--top-k", "2"] + args + [long_text])[0], kwargs


def test_score(bigbird, tmp_path):
    score = bigbird.pipeline("score", model=MLM)
    plain = ["Paris is the capital of France.", "Short."]
    want = cli_json(["score", "--model", MLM, "--input", jsonl(tmp_path, [{"text": t} for t in plain])])
    assert [score(t) for t in plain] == want
    assert score(plain) == want
    assert score(plain, batch_size=1) == want
    assert set(want[0]) == {"pseudo_log_likelihood", "tokens", "bases", "bits_per_base"}
    with pytest.raises(ValueError, match="needs the text without it"):
        score("a [MASK] here")
    with pytest.raises(TypeError):
        score(plain[0], top_k=2)
    with pytest.raises(ValueError, match="masked-LM head"):
        bigbird.pipeline("score", model=SEQCLS, tokenizer=TOKENIZER)("a")


def test_text_classification(bigbird, tmp_path):
    classify = bigbird.pipeline("text-classification", model=SEQCLS, tokenizer=TOKENIZER)
    base = ["classify", "--model", SEQCLS, "--tokenizer", TOKENIZER]
    assert classify("What is a license?") == cli_json(base + ["What is a license?"])[0]
    assert classify("What is a license?", text_pair="A permission.", top_k=1) == cli_json(
        base + ["--top-k", "1", "--text-pair", "A permission.", "What is a license?"])[0]
    assert classify({"text": "What is a license?", "text_pair": "A permission."},
                    function_to_apply="none") == cli_json(
        base + ["--function-to-apply", "none", "--text-pair", "A permission.", "What is a license?"])[0]
    records = [{"text": "One."}, {"text": "Two", "text_pair": "three"}]
    assert classify(records) == cli_json(base + ["--input", jsonl(tmp_path, records)])
    assert bigbird.pipeline("sentiment-analysis", model=SEQCLS, tokenizer=TOKENIZER)("One.") == classify("One.")


def test_question_answering(bigbird, tmp_path):
    qa = bigbird.pipeline("question-answering", model=QA, tokenizer=TOKENIZER)
    context = open(QA_CONTEXT, encoding="utf-8").read().rstrip("\n")
    base = ["qa", "--model", QA, "--tokenizer", TOKENIZER]
    q = "What does the memory grow with?"
    want = cli_json(base + ["--top-k", "3", "--question", q, "--context", QA_CONTEXT])[0]
    assert qa(question=q, context=context, top_k=3) == want
    assert qa({"question": q, "context": context}, top_k=3) == want
    assert qa(question=q, context=context, max_seq_len=128, doc_stride=32, max_answer_len=5) == cli_json(
        base + ["--max-seq-len", "128", "--doc-stride", "32", "--max-answer-len", "5", "--question", q,
                "--context", QA_CONTEXT])[0]
    records = [{"question": q, "context": context}, {"question": "Who?", "context": "Ada wrote it."}]
    assert qa(records, handle_impossible_answer=True) == cli_json(
        base + ["--handle-impossible-answer", "--input", jsonl(tmp_path, records)])


def test_token_classification(bigbird, tmp_path):
    tag = bigbird.pipeline("token-classification", model=TAGGER)
    text = "My name is Wolfgang and I live in Berlin."
    assert tag(text) == cli_json(["tag", "--model", TAGGER, text])[0]
    for agg in ("none", "first", "average", "max"):
        assert tag(text, aggregation_strategy=agg, ignore_labels=[]) == cli_json(
            ["tag", "--model", TAGGER, "--aggregation", agg, "--ignore-labels", "", text])[0], agg
    texts = [text, "Ada lives in London."]
    assert bigbird.pipeline("ner", model=TAGGER, aggregation_strategy="first")(texts) == cli_json(
        ["tag", "--model", TAGGER, "--aggregation", "first", "--input", jsonl(tmp_path, [{"text": t} for t in texts])])


def test_feature_extraction(bigbird, tmp_path):
    embed = bigbird.pipeline("feature-extraction", model=MLM)
    assert embed("Hello world.") == cli_json(["embed", "--model", MLM, "Hello world."])[0]
    for pooling in ("cls", "pooler"):
        assert embed("Hello world.", text_pair="Again.", pooling=pooling) == cli_json(
            ["embed", "--model", MLM, "--pooling", pooling, "--text-pair", "Again.", "Hello world."])[0]
    records = [{"text": "a b c"}, {"text": "d", "text_pair": "e"}]
    assert embed(records) == cli_json(["embed", "--model", MLM, "--input", jsonl(tmp_path, records)])


def test_summarization(bigbird, tmp_path):
    summarize = bigbird.pipeline("summarization", model=PEGASUS)
    text = "Free software is software that respects the freedom of its users."
    assert summarize(text) == cli_json(["summarize", "--model", PEGASUS, text])[0]
    assert summarize(text, num_beams=3, num_return_sequences=2, max_length=12, no_repeat_ngram_size=2) == cli_json(
        ["summarize", "--model", PEGASUS, "--num-beams", "3", "--num-return-sequences", "2", "--max-length", "12",
         "--no-repeat-ngram-size", "2", text])[0]
    texts = [text, "Another, shorter text."]
    want = cli_json(["summarize", "--model", PEGASUS, "--min-length", "3", "--eos-token-id", "None", "--max-length",
                     "8", "--input", jsonl(tmp_path, [{"text": t} for t in texts])])
    assert bigbird.pipeline("summarization", model=PEGASUS, min_length=3, eos_token_id=None, max_length=8)(texts) == want


def test_summarization_truncation_warning(bigbird):
    summarize = bigbird.pipeline("summarization", model=PEGASUS, max_length=5)
    long_text = " ".join(["word"] * 5000)
    rc, out, err = run_cli(["summarize", "--model", PEGASUS, "--max-length", "5", long_text])
    assert rc == 0, err
    with pytest.warns(UserWarning, match="truncated to"):
        got = summarize(long_text)
    assert got == json.loads(out)
    assert "truncated to" in err


def test_long_inputs_truncation_and_stride(bigbird):
    # Issue 16's options as keywords: the CLI's --truncation / --max-length / --stride /
    # --aggregation answers, exactly (the same C++ windows and aggregation).
    long_text = " ".join(["license"] * 700 + ["permission"] * 700)  # over the models' lengths
    classify = bigbird.pipeline("text-classification", model=SEQCLS, tokenizer=TOKENIZER)
    base = ["classify", "--model", SEQCLS, "--tokenizer", TOKENIZER]
    assert classify(long_text, truncation=True) == cli_json(base + ["--truncation", "true", long_text])[0]
    assert classify(long_text, stride=32, aggregation="max") == cli_json(
        base + ["--stride", "32", "--aggregation", "max", long_text])[0]
    embed = bigbird.pipeline("feature-extraction", model=SEQCLS, tokenizer=TOKENIZER)
    assert embed(long_text, stride=16, max_length=256) == cli_json(
        ["embed", "--model", SEQCLS, "--tokenizer", TOKENIZER, "--stride", "16", "--max-length", "256",
         long_text])[0]
    tag = bigbird.pipeline("token-classification", model=TAGGER)
    assert tag(long_text, stride=64) == cli_json(["tag", "--model", TAGGER, "--stride", "64", long_text])[0]
    fill_mask = bigbird.pipeline("fill-mask", model=MLM)
    masked = "Paris is the [MASK] of France. " + long_text
    assert fill_mask(masked, truncation=True, top_k=2) == cli_json(
        ["fill-mask", "--model", MLM, "--truncation", "true", "--top-k", "2", masked])[0]
    with pytest.raises(ValueError, match="--stride"):  # over-long without either: the CLI's message
        classify(long_text)
    with pytest.raises(TypeError):
        fill_mask(masked, stride=8)  # fill-mask does not window
