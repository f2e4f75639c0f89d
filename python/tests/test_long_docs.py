"""experiments/long_docs.py (experiment 3): the labels, the split and the bag-of-words reference it
reports beside the fine-tuned models. The full run (the KJV from Debian, an hour of training) is the
README's command; these tests hold the parts it relies on."""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "experiments"))
import long_docs  # noqa: E402

SCRIPT = os.path.join(ROOT, "experiments", "long_docs.py")


def fake_bible(chapters_per_book=2):
    """(title, verses) for 66 books in order, named B0 .. B65 (two of them with spaces)."""
    out = []
    for b in range(66):
        name = {0: "Song of B0", 10: "1 B10"}.get(b, f"B{b}")
        for c in range(chapters_per_book):
            out.append((f"{name} {c + 1}", [f"verse one of {name}", f"verse two {c}"]))
    return out


def test_divisions_follow_book_order():
    rows = long_docs.label_chapters(fake_bible())
    assert len(rows) == 132
    # Books 0-4 law, 5-16 history, 17-21 poetry, 22-26 major, 27-38 minor, 39-43 gospels_acts,
    # 44-64 epistles, 65 revelation (the KJV's canon order).
    expect = (["law"] * 5 + ["history"] * 12 + ["poetry"] * 5 + ["major_prophets"] * 5 +
              ["minor_prophets"] * 12 + ["gospels_acts"] * 5 + ["epistles"] * 21 + ["revelation"])
    assert [r["label"] for r in rows[::2]] == expect
    assert rows[0] == {"text": "verse one of Song of B0 verse two 0", "label": "law", "chapter": "Song of B0 1"}
    assert rows[21]["chapter"] == "1 B10 2" and rows[21]["label"] == "history"


def test_wrong_book_count_and_bad_title_refused():
    with pytest.raises(SystemExit, match="expected 66 books, got 65"):
        long_docs.label_chapters(fake_bible()[:-2])
    bad = fake_bible()
    bad[5] = ("Exodus", ["no chapter number"])
    with pytest.raises(SystemExit, match="chapter title without a number"):
        long_docs.label_chapters(bad)


def test_split_every_fifth_and_heldout_flag():
    rows = [{"text": str(i)} for i in range(41)]
    split = long_docs.split_rows(rows, list(range(100, 141)), 5, 20)
    assert split["test"] == [4, 9, 14, 19, 24, 29, 34, 39]
    assert sorted(split["train"] + split["test"]) == list(range(41))
    assert [i for i, r in enumerate(rows) if r["pretrain_heldout"]] == [19, 39]
    assert rows[7]["tokens"] == 107
    # The pretraining corpus's held-out chapters (every 20th) all fall in the test split.
    assert all(i in split["test"] for i, r in enumerate(rows) if r["pretrain_heldout"])


def test_summarize_buckets():
    test = [{"tokens": n, "pretrain_heldout": h} for n, h in
            [(100, False), (512, True), (513, False), (1024, False), (1025, True), (3000, False)]]
    r = long_docs.summarize([True, False, True, True, False, True], test)
    assert r["accuracy"] == round(4 / 6, 4) and r["n"] == 6
    assert r["by_length"] == {"<=512": {"n": 2, "accuracy": 0.5}, "513-1024": {"n": 2, "accuracy": 1.0},
                              ">1024": {"n": 2, "accuracy": 0.5}}
    assert r["never_pretrained"] == {"n": 2, "accuracy": 0.0}


def test_bag_of_words_sees_only_the_first_tokens_when_cut():
    """The class is told by one token placed at position 20-29 of 40 noise tokens: cut at 10 the
    reference must fall to chance, reading everything it must be right."""
    rng = np.random.default_rng(0)
    vocab, classes = 60, 3

    def docs(n):
        ids, ys = [], []
        for _ in range(n):
            y = int(rng.integers(classes))
            t = list(rng.integers(10, vocab, 40))
            t[int(rng.integers(20, 30))] = y   # tokens 0..2 carry the class; noise uses 10..59
            ids.append(t)
            ys.append(y)
        return ids, np.array(ys)
    tr, ytr = docs(300)
    te, yte = docs(300)
    full = long_docs.bag_of_words(tr, ytr, te, 0, vocab, classes)
    cut = long_docs.bag_of_words(tr, ytr, te, 10, vocab, classes)
    assert (full == yte).mean() > 0.95
    assert (cut == yte).mean() < 0.5      # chance is 1/3; 300 draws: sd 0.027


def test_unknown_variant_and_missing_model_refused(tmp_path):
    r = subprocess.run([sys.executable, SCRIPT, "--variants", "bigbird_8192", "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "unknown variant 'bigbird_8192'" in r.stderr
    r = subprocess.run([sys.executable, SCRIPT, "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "config.json" in r.stderr
    assert not (tmp_path / "o").exists()


def test_svg_bars_one_bar_per_variant_and_group():
    import xml.etree.ElementTree as ET

    def res(acc):
        return {"accuracy": acc, "n": 10, "by_length": {b: {"n": 3, "accuracy": acc} for b, _, _ in long_docs.BUCKETS}}
    runs = [{"truncated_512": res(0.5), "bigbird_4096": res(0.9)}, {"truncated_512": res(0.7), "bigbird_4096": res(0.9)}]
    root = ET.fromstring(long_docs.svg_bars(runs, "t"))
    ns = "{http://www.w3.org/2000/svg}"
    rects = root.findall(f"{ns}rect")
    # background + 4 groups x 2 variants + 2 legend swatches
    assert len(rects) == 1 + 8 + 2
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "truncated_512 0.600" in texts and "bigbird_4096 0.900" in texts   # means over the runs
