#!/usr/bin/env python3
"""Rebuilds real DNA data sets from Debian packages, for genomics experiments with bigbird.cpp.

Sources (installed by this script when missing, with apt-get; sudo when not root):
  - `bowtie2-examples`: reference/lambda_virus.fa.gz, the enterobacteria phage lambda genome
    (RefSeq NC_001416.1, 48,502 bp).
  - `bowtie-examples`: genomes/NC_008253.fna.gz, the Escherichia coli 536 chromosome
    (RefSeq NC_008253.1, 4,938,920 bp).
  - `r-cran-mlbench` (read with `Rscript` from `r-base-core`): data set `DNA`, the StatLog version
    of the UCI primate splice-junction set: 3186 sequences of 60 nt, the junction between positions
    30 and 31, classes ei (exon->intron, donor), ie (intron->exon, acceptor) and n (neither). Each
    nucleotide is stored as 3 binary indicators; `help(DNA, package="mlbench")` documents the code
    A = 100, C = 010, G = 001, T = 000, which this script decodes. The decoding is checked: the
    donor dinucleotide (positions 31-32, 1-based) of ei sequences must be GT, and the acceptor
    dinucleotide (positions 29-30) of ie sequences AG, each in at least 90% of the sequences.
  - `r-cran-kernlab`: data set `promotergene`, the UCI E. coli promoter set: 106 sequences of
    57 nt (positions -50..+7 around the transcription start), 53 promoters (+) and 53 not (-).

Outputs, in --out (default data/genomics):
  lambda_phage.fa, ecoli_536.fa   the genomes, plain FASTA (the source header, 70 nt per line)
  ecoli_train.fa                  the first 90% of the E. coli chromosome, one record
  ecoli_heldout.fa                the last 10%, one record (a contiguous held-out region for MLM
                                  pretraining; record names give the 1-based inclusive range)
  splice.jsonl                    {"sequence": "ACGT...", "label": "ei"|"ie"|"n"}, in source order
  splice_train.jsonl, splice_test.jsonl
                                  about 80/20; identical sequences always fall on the same side
  promoters.jsonl                 {"sequence": ..., "label": "+"|"-", "fold": 0..9}, in source order

Splits are deterministic and seeded (--seed, default 0) without a random number generator: a
sequence's rank is the SHA-256 of "<seed>:<sequence>". Splice: distinct sequences, taken in rank
order, go to the test side until it holds 20% of the rows; the rest is train. Promoters: within each
label, rows are taken in rank order (ties by source row) and dealt round-robin to folds 0..9, the
second label continuing where the first stopped, so folds are stratified and differ in size by at
most one. Each output file is written to a temporary name and then renamed. Deterministic: the same
packages and seed give the same bytes.

  python3 genomics/make_datasets.py [--out data/genomics] [--seed 0]
"""
import argparse
import collections
import csv
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys

import numpy as np

PACKAGES = ["bowtie2-examples", "bowtie-examples", "r-base-core", "r-cran-mlbench", "r-cran-kernlab"]
LAMBDA_FILE = "/lambda_virus.fa.gz"      # in bowtie2-examples
ECOLI_FILE = "/NC_008253.fna.gz"         # in bowtie-examples
TRAIN_FRACTION = 0.9                     # of the E. coli chromosome
TEST_FRACTION = 0.2                      # of the splice rows
FOLDS = 10                               # promoters
LINE = 70                                # FASTA line width


def log(msg):
    print(f"make_datasets: {msg}", file=sys.stderr)


def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.strip() == "install ok installed"


def ensure_packages():
    missing = [p for p in PACKAGES if not installed(p)]
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing
    log("installing " + " ".join(missing))
    if subprocess.run(install, env=env).returncode != 0:
        log("install failed; updating the package lists and trying again")
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(install, check=True, env=env)


def package_file(pkg, suffix):
    """The one file of an installed package whose path ends with suffix."""
    paths = subprocess.run(["dpkg", "-L", pkg], check=True, capture_output=True, text=True).stdout.split()
    hits = [p for p in paths if p.endswith(suffix)]
    if len(hits) != 1:
        raise SystemExit(f"make_datasets: expected one *{suffix} in {pkg}, found {hits}")
    return hits[0]


def write_atomic(path, text):
    with open(path + ".tmp", "w", newline="\n") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def read_fasta(path):
    """[(header without '>', SEQUENCE)] of a gzipped FASTA file."""
    records = []
    with gzip.open(path, "rt") as f:
        for line in f:
            line = line.strip()
            if line.startswith(">"):
                records.append([line[1:], []])
            elif line:
                if not records:
                    raise SystemExit(f"make_datasets: sequence before any header in {path}")
                records[-1][1].append(line.upper())
    return [(header, "".join(parts)) for header, parts in records]


def fasta(records):
    out = []
    for header, seq in records:
        out.append(">" + header + "\n")
        out.extend(seq[i:i + LINE] + "\n" for i in range(0, len(seq), LINE))
    return "".join(out)


def genome(pkg, suffix, path, expect_len):
    records = read_fasta(package_file(pkg, suffix))
    if len(records) != 1:
        raise SystemExit(f"make_datasets: expected one record in {pkg}:{suffix}, got {len(records)}")
    header, seq = records[0]
    if len(seq) != expect_len:
        raise SystemExit(f"make_datasets: {suffix} has {len(seq)} bp, expected {expect_len}")
    other = set(seq) - set("ACGT")
    if other:
        raise SystemExit(f"make_datasets: {suffix} has letters other than ACGT: {sorted(other)}")
    write_atomic(path, fasta(records))
    gc = (seq.count("G") + seq.count("C")) / len(seq)
    print(f"{path}: 1 record, {len(seq)} bp, GC {gc:.4f} ({header})")
    return header, seq


def accession(header):
    """'NC_008253.1' of 'gi|110640213|ref|NC_008253.1| Escherichia coli 536, complete genome'."""
    fields = header.split("|")
    return fields[3] if len(fields) > 3 and fields[2] == "ref" else header.split()[0]


def rscript(code):
    """stdout of an R program, run without site or user profiles, in the C locale."""
    return subprocess.run(["Rscript", "--vanilla", "-e", code], check=True, capture_output=True, text=True,
                          env=dict(os.environ, LC_ALL="C")).stdout


def r_dataset_csv(name, package):
    """Rows (a header row first) of an R data set exported to CSV, every column as text."""
    code = (f'e <- new.env(); utils::data("{name}", package = "{package}", envir = e); '
            f'd <- e[["{name}"]]; '
            'x <- as.data.frame(lapply(d, as.character), stringsAsFactors = FALSE); '
            'write.csv(x, stdout(), row.names = FALSE)')
    return list(csv.reader(io.StringIO(rscript(code))))


def rank(seed, seq):
    return hashlib.sha256(f"{seed}:{seq}".encode()).hexdigest()


def jsonl(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def decode_splice(rows):
    """(sequences, labels) of mlbench's DNA: 180 indicator columns V1..V180, then Class.

    help(DNA): A -> 1 0 0, C -> 0 1 0, G -> 0 0 1, T -> 0 0 0 (three indicators per position)."""
    header, body = rows[0], rows[1:]
    if header != [f"V{i}" for i in range(1, 181)] + ["Class"]:
        raise SystemExit(f"make_datasets: unexpected DNA columns {header[:3]} ... {header[-2:]}")
    bits = np.array([[int(v) for v in r[:180]] for r in body], dtype=np.int64).reshape(len(body), 60, 3)
    code = bits @ np.array([1, 2, 4])                    # A -> 1, C -> 2, G -> 4, T -> 0
    letters = np.full(8, "?")
    letters[[1, 2, 4, 0]] = ["A", "C", "G", "T"]
    if not np.isin(code, [0, 1, 2, 4]).all():
        raise SystemExit("make_datasets: DNA has an indicator triple outside the documented code")
    seqs = ["".join(row) for row in letters[code]]
    return seqs, [r[180] for r in body]


def splice(out, seed):
    seqs, labels = decode_splice(r_dataset_csv("DNA", "mlbench"))
    if len(seqs) != 3186:
        raise SystemExit(f"make_datasets: expected the 3186 sequences of DNA, got {len(seqs)}")
    if set(labels) != {"ei", "ie", "n"}:
        raise SystemExit(f"make_datasets: unexpected DNA classes {sorted(set(labels))}")

    # The check that the decoding is right: splice sites carry the canonical GT...AG.
    def fraction(label, lo, hi, pair):             # 1-based inclusive positions lo..hi
        group = [s for s, l in zip(seqs, labels) if l == label]
        return sum(s[lo - 1:hi] == pair for s in group) / len(group)
    gt, ag = fraction("ei", 31, 32, "GT"), fraction("ie", 29, 30, "AG")
    print(f"splice check: ei with GT at 31-32: {gt:.4f}; ie with AG at 29-30: {ag:.4f} "
          f"(n: GT {fraction('n', 31, 32, 'GT'):.4f}, AG {fraction('n', 29, 30, 'AG'):.4f})")
    if gt < 0.9 or ag < 0.9:
        raise SystemExit("make_datasets: the splice decoding fails the GT/AG check; the one-hot code is wrong")

    rows = [{"sequence": s, "label": l} for s, l in zip(seqs, labels)]
    copies = collections.Counter(seqs)
    label_sets = collections.defaultdict(set)
    for s, l in zip(seqs, labels):
        label_sets[s].add(l)
    repeated = [s for s, n in copies.items() if n > 1]
    conflicting = [s for s, ls in label_sets.items() if len(ls) > 1]

    # Distinct sequences in rank order fill the test side up to TEST_FRACTION of the rows.
    target, test_seqs, n_test = round(TEST_FRACTION * len(rows)), set(), 0
    for s in sorted(copies, key=lambda s: rank(seed, s)):
        if n_test >= target:
            break
        test_seqs.add(s)
        n_test += copies[s]
    split = {"train": [r for r in rows if r["sequence"] not in test_seqs],
             "test": [r for r in rows if r["sequence"] in test_seqs]}

    path = os.path.join(out, "splice.jsonl")
    write_atomic(path, jsonl(rows))
    balance = collections.Counter(labels)
    print(f"{path}: {len(rows)} sequences of {sorted(set(map(len, seqs)))} nt, "
          f"{', '.join(f'{k} {balance[k]}' for k in sorted(balance))}; {len(copies)} distinct, "
          f"{len(repeated)} sequences occur more than once ({len(rows) - len(copies)} extra copies), "
          f"{len(conflicting)} with conflicting labels")
    for name, part in split.items():
        path = os.path.join(out, f"splice_{name}.jsonl")
        write_atomic(path, jsonl(part))
        c = collections.Counter(r["label"] for r in part)
        print(f"{path}: {len(part)} sequences ({len(set(r['sequence'] for r in part))} distinct), "
              + ", ".join(f"{k} {c[k]}" for k in sorted(c)))
    assert not set(r["sequence"] for r in split["train"]) & set(r["sequence"] for r in split["test"])


def promoters(out, seed):
    rows = r_dataset_csv("promotergene", "kernlab")
    header, body = rows[0], rows[1:]
    if header != ["Class"] + [f"V{i}" for i in range(2, 59)]:
        raise SystemExit(f"make_datasets: unexpected promotergene columns {header[:3]} ... {header[-2:]}")
    seqs = ["".join(r[1:]).upper() for r in body]
    labels = [r[0] for r in body]
    if len(seqs) != 106 or set(labels) != {"+", "-"} or set("".join(seqs)) - set("ACGT"):
        raise SystemExit("make_datasets: promotergene is not 106 labelled ACGT sequences")

    folds, dealt = [None] * len(seqs), 0
    for label in ["+", "-"]:
        members = sorted((i for i in range(len(seqs)) if labels[i] == label), key=lambda i: (rank(seed, seqs[i]), i))
        for i in members:
            folds[i] = dealt % FOLDS
            dealt += 1
    rows = [{"sequence": s, "label": l, "fold": f} for s, l, f in zip(seqs, labels, folds)]

    path = os.path.join(out, "promoters.jsonl")
    write_atomic(path, jsonl(rows))
    balance = collections.Counter(labels)
    sizes = collections.Counter(folds)
    print(f"{path}: {len(rows)} sequences of {sorted(set(map(len, seqs)))} nt, + {balance['+']}, - {balance['-']}; "
          f"{len(set(seqs))} distinct; fold sizes " + " ".join(str(sizes[k]) for k in range(FOLDS)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/genomics")
    ap.add_argument("--seed", type=int, default=0, help="seed of the splice split and promoter folds (default 0)")
    args = ap.parse_args()
    ensure_packages()
    os.makedirs(args.out, exist_ok=True)

    genome("bowtie2-examples", LAMBDA_FILE, os.path.join(args.out, "lambda_phage.fa"), 48502)
    header, seq = genome("bowtie-examples", ECOLI_FILE, os.path.join(args.out, "ecoli_536.fa"), 4938920)
    cut = int(len(seq) * TRAIN_FRACTION)
    name = accession(header)
    parts = {"train": (f"{name}:1-{cut} Escherichia coli 536, first {TRAIN_FRACTION:.0%} (train)", seq[:cut]),
             "heldout": (f"{name}:{cut + 1}-{len(seq)} Escherichia coli 536, last {1 - TRAIN_FRACTION:.0%} (held out)",
                         seq[cut:])}
    for part, record in parts.items():
        path = os.path.join(args.out, f"ecoli_{part}.fa")
        write_atomic(path, fasta([record]))
        print(f"{path}: 1 record, {len(record[1])} bp ({record[0]})")

    splice(args.out, args.seed)
    promoters(args.out, args.seed)


if __name__ == "__main__":
    main()
