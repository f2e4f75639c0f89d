#!/usr/bin/env python3
"""Rebuilds the English corpus the demo model (models/kjv-mlm) was trained on, from Debian packages.

Source: the King James Bible of Debian's `bible-kjv-text` (data) and `bible-kjv` (its reader,
`bible`), installed by this script when missing. Each chapter is one document (one verse per line,
verse numbers dropped); documents are separated by blank lines, the layout `bigbird train --task
mlm` reads. Held-out split: every 20th chapter (chapters 20, 40, ... in book order) goes to
valid.txt, the rest to train.txt. Deterministic: the same packages give the same bytes.

  python3 experiments/make_corpus_kjv.py [--out data/kjv]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys


def ensure_reader():
    if shutil.which("bible"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print("make_corpus_kjv: installing bible-kjv bible-kjv-text", file=sys.stderr)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "bible-kjv", "bible-kjv-text"],
                   check=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def chapters(text):
    """(title, [verse, ...]) per chapter of `bible`'s formatted output."""
    out, title, verses = [], None, []
    heading = re.compile(r"^(\S.*\S) (\d+)$")     # "Genesis 1", "1 Kings 3", "Song of Solomon 2"
    verse = re.compile(r"^\s+(\d+) (.*)$")        # "  12 And God said ..."
    for line in text.splitlines():
        if not line.strip():
            continue
        m = verse.match(line)
        if m:
            verses.append(m.group(2).strip())
            continue
        h = heading.match(line)
        if h and not line.startswith(" "):
            if title is not None:
                out.append((title, verses))
            title, verses = line.strip(), []
            continue
        if not verses:
            raise SystemExit(f"make_corpus_kjv: unexpected line before any verse: {line!r}")
        verses[-1] += " " + line.strip()          # a verse's continuation line
    if title is not None:
        out.append((title, verses))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/kjv")
    ap.add_argument("--every", type=int, default=20, help="every N-th chapter is held out (default 20)")
    args = ap.parse_args()
    ensure_reader()
    text = subprocess.run(["bible", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="100000")).stdout
    chs = chapters(text)
    if len(chs) != 1189:
        raise SystemExit(f"make_corpus_kjv: expected the 1189 chapters of the KJV, got {len(chs)}")
    os.makedirs(args.out, exist_ok=True)
    split = {"train": [], "valid": []}
    for i, (title, verses) in enumerate(chs):
        split["valid" if (i + 1) % args.every == 0 else "train"].append("\n".join(verses))
    for name, docs in split.items():
        path = os.path.join(args.out, name + ".txt")
        with open(path + ".tmp", "w") as f:
            f.write("\n\n".join(docs) + "\n")
        os.replace(path + ".tmp", path)
        words = sum(len(d.split()) for d in docs)
        print(f"{path}: {len(docs)} chapters, {words} words")


if __name__ == "__main__":
    main()
