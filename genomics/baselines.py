#!/usr/bin/env python3
"""Non-neural baselines for the genomics classification sets that DNA BigBird is compared against.

Data (written by genomics/make_datasets.py into --data, default data/genomics):
  splice_train.jsonl, splice_test.jsonl   UCI primate splice junctions, 60 nt, labels ei/ie/n (the
                                          StatLog version: its 4 sequences with ambiguity codes were
                                          dropped, so it is pure ACGT; the script still reports the
                                          characters it finds)
  promoters.jsonl                         UCI E. coli promoters, 57 nt, labels +/-, field fold 0..9

Models, all in numpy:
  majority      the most frequent label of the training side (ties: the first label in sorted order)
  k-mer k=1..6  bag of overlapping k-mer counts (4^k features; a k-mer holding a character other than
                ACGT is not counted), multinomial logistic regression
  k-mer (CV k)  the k of k=1..6 with the best cross-validated accuracy on the training side
  one-hot       4 indicators per position (A, C, G, T; any other character gives four zeros),
                multinomial logistic regression

Logistic regression: softmax over all classes, an unpenalized bias per class, objective
  mean cross-entropy + (lambda / 2) * ||W||^2,
minimized by full-batch L-BFGS (memory 10, backtracking Armijo line search) from zeros (features
centered on the training rows' mean, which leaves the model unchanged), until the
largest gradient component is below 1e-6 (or 3000 iterations; fits that stop short are counted and
reported). lambda comes from the grid LAMBDAS by 5-fold cross-validation on the training side only
(criterion: pooled CV accuracy; ties go to the larger lambda). The CV folds are stratified by label
and grouped by sequence (identical sequences share a fold, as the splice train/test split keeps
them on one side): distinct sequences sorted by (label, SHA-256 of "cv:<sequence>") are dealt
round-robin to the folds. The best k is chosen the same way (CV accuracy at each k's chosen lambda;
ties go to the smaller k), never by test accuracy.

Splice: fit on splice_train, report accuracy on splice_test, per-class accuracy (recall) and the
confusion matrix. Promoters: 10-fold cross-validation over the given `fold` field; in each outer
fold every choice (lambda, k) is made by 5-fold CV inside the 9 training folds. Reported: mean and
sample standard deviation (ddof=1) of the 10 fold accuracies, and the pooled accuracy (correct/106).

Deterministic (no random numbers; single-threaded BLAS is forced before numpy is imported).

  python3 genomics/baselines.py [--data data/genomics] [--json out.json]
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
             "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import collections  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

BASES = "ACGT"
KS = [1, 2, 3, 4, 5, 6]
LAMBDAS = [1.0, 1e-1, 1e-2, 1e-3, 1e-4]   # fitted in this order (warm starts go from strong to weak)
CV_FOLDS = 5
PROMOTER_FOLDS = 10
GTOL = 1e-6
MAX_ITER = 3000
MEMORY = 10


def log(msg):
    print(f"baselines: {msg}", file=sys.stderr, flush=True)


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


# ---------------------------------------------------------------------------------------------
# Features. Both feature maps are sums of indicator vectors, so a data set is stored as an index
# array idx (n x m): row i's feature vector is the count of each feature index in idx[i]. The
# index d (one past the last feature) is a padding slot that always carries weight zero; it
# stands for k-mers or positions holding a character other than ACGT.

def base_codes(seqs):
    """(n x L) int array, A C G T -> 0 1 2 3, anything else -> -1. All sequences must share L."""
    lengths = set(map(len, seqs))
    if len(lengths) != 1:
        raise SystemExit(f"baselines: sequences of several lengths {sorted(lengths)}")
    table = np.full(256, -1, dtype=np.int64)
    for i, ch in enumerate(BASES):
        table[ord(ch)] = i
    raw = np.frombuffer("".join(seqs).encode("latin-1"), dtype=np.uint8).reshape(len(seqs), -1)
    return table[raw]


def kmer_features(seqs, k):
    code = base_codes(seqs)
    n, L = code.shape
    d = 4 ** k
    m = L - k + 1
    idx = np.zeros((n, m), dtype=np.int64)
    bad = np.zeros((n, m), dtype=bool)
    for t in range(k):
        part = code[:, t:t + m]
        idx = idx * 4 + np.maximum(part, 0)
        bad |= part < 0
    idx[bad] = d
    return idx, d


def onehot_features(seqs):
    code = base_codes(seqs)
    n, L = code.shape
    d = 4 * L
    idx = np.arange(L, dtype=np.int64)[None, :] * 4 + code
    idx[code < 0] = d
    return idx, d


def feature_sets(seqs):
    """[(name, idx, d)] for k = 1..6 and one-hot, computed over all rows at once (the maps use no
    statistics of the data, so this leaks nothing between train and test)."""
    sets = [(f"k={k}", *kmer_features(seqs, k)) for k in KS]
    sets.append(("one-hot", *onehot_features(seqs)))
    return sets


# ---------------------------------------------------------------------------------------------
# Multinomial logistic regression with an L2 penalty, full-batch L-BFGS.

def feature_mean(idx, d):
    """Mean feature vector of the rows idx (the padding slot dropped)."""
    return np.bincount(idx.ravel(), minlength=d + 1)[:d] / len(idx)


def scores(idx, W, b, mu):
    """(x - mu) W + b for every row. Centering on the training mean mu is a reparametrization only
    (the unpenalized bias absorbs mu W: the fitted model is the same as without it), but it makes
    the problem far better conditioned (k-mer counts of one length sum to a constant)."""
    Wp = np.vstack([W, np.zeros((1, W.shape[1]))])       # padding row d has weight zero
    return Wp[idx].sum(axis=1) - mu @ W + b


def objective(theta, idx, d, y, C, lam, mu):
    n = len(y)
    W = theta[:d * C].reshape(d, C)
    b = theta[d * C:]
    Z = scores(idx, W, b, mu)
    zmax = Z.max(axis=1, keepdims=True)
    E = np.exp(Z - zmax)
    S = E.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(S[:, 0]) + zmax[:, 0] - Z[np.arange(n), y])) + 0.5 * lam * float(np.sum(W * W))
    G = E / S
    G[np.arange(n), y] -= 1.0
    G /= n
    flat = idx.ravel()
    gW = np.empty((d, C))
    for c in range(C):
        gW[:, c] = np.bincount(flat, weights=np.repeat(G[:, c], idx.shape[1]), minlength=d + 1)[:d]
    gb = G.sum(axis=0)
    gW += lam * W - np.outer(mu, gb)
    return loss, np.concatenate([gW.ravel(), gb])


def lbfgs(fun, x0):
    """Minimizes fun (returning (f, grad)); returns (x, info)."""
    x = x0.copy()
    f, g = fun(x)
    S, Y, R = [], [], []
    it = 0
    evals = 1
    while it < MAX_ITER and np.max(np.abs(g)) > GTOL:
        # Two-loop recursion.
        q = g.copy()
        alphas = []
        for s, yv, rho in zip(reversed(S), reversed(Y), reversed(R)):
            a = rho * s.dot(q)
            alphas.append(a)
            q -= a * yv
        if S:
            q *= S[-1].dot(Y[-1]) / Y[-1].dot(Y[-1])
        else:
            q /= max(1.0, np.linalg.norm(g))
        for (s, yv, rho), a in zip(zip(S, Y, R), reversed(alphas)):
            q += s * (a - rho * yv.dot(q))
        p = -q
        slope = g.dot(p)
        if slope >= 0:                                   # not a descent direction: restart
            S, Y, R = [], [], []
            p = -g / max(1.0, np.linalg.norm(g))
            slope = g.dot(p)
        step = 1.0
        while True:
            x_new = x + step * p
            f_new, g_new = fun(x_new)
            evals += 1
            if f_new <= f + 1e-4 * step * slope or step < 1e-20:
                break
            step *= 0.5
        s = x_new - x
        yv = g_new - g
        sy = s.dot(yv)
        if sy > 1e-12 * max(1.0, np.linalg.norm(s) * np.linalg.norm(yv)):
            S.append(s)
            Y.append(yv)
            R.append(1.0 / sy)
            if len(S) > MEMORY:
                S.pop(0), Y.pop(0), R.pop(0)
        converged_f = abs(f - f_new) <= 1e-15 * max(1.0, abs(f))
        x, f, g = x_new, f_new, g_new
        it += 1
        if converged_f and step < 1e-20:
            break
    gmax = float(np.max(np.abs(g)))
    return x, {"iterations": it, "evaluations": evals, "loss": f, "grad_max": gmax, "converged": gmax <= GTOL}


class Fits:
    """Counts the fits and how many stopped short of the gradient tolerance."""

    def __init__(self):
        self.n = 0
        self.not_converged = []
        self.max_iterations = 0

    def record(self, info, what):
        self.n += 1
        self.max_iterations = max(self.max_iterations, info["iterations"])
        if not info["converged"]:
            self.not_converged.append({"what": what, **info})


FITS = Fits()


def fit(idx, d, y, C, lam, model0=None, what=""):
    """A fitted model (theta, mu); model0, when given, is a warm start fitted on the same rows."""
    mu = feature_mean(idx, d)
    theta0 = np.zeros(d * C + C) if model0 is None else model0[0]
    theta, info = lbfgs(lambda t: objective(t, idx, d, y, C, lam, mu), theta0)
    FITS.record(info, what)
    return theta, mu


def predict(model, idx, d, C):
    theta, mu = model
    W = theta[:d * C].reshape(d, C)
    return np.argmax(scores(idx, W, theta[d * C:], mu), axis=1)     # ties: the first class


# ---------------------------------------------------------------------------------------------
# Cross-validation and selection.

def cv_folds(seqs, y, nfold):
    """Fold of each row: stratified by label, grouped by sequence, deterministic."""
    first = {}
    for s, lab in zip(seqs, y):
        first.setdefault(s, int(lab))
    order = sorted(first, key=lambda s: (first[s], hashlib.sha256(f"cv:{s}".encode()).hexdigest()))
    fold_of = {s: i % nfold for i, s in enumerate(order)}
    return np.array([fold_of[s] for s in seqs])


def cv_accuracy(idx, d, y, C, folds, what):
    """{lambda: pooled CV accuracy} over LAMBDAS, warm-starting each fold's path."""
    correct = {lam: 0 for lam in LAMBDAS}
    for f in range(folds.max() + 1):
        tr, va = folds != f, folds == f
        model = None
        for lam in LAMBDAS:
            model = fit(idx[tr], d, y[tr], C, lam, model, what=f"{what} cv fold {f} lambda {lam:g}")
            correct[lam] += int(np.sum(predict(model, idx[va], d, C) == y[va]))
    return {lam: correct[lam] / len(y) for lam in LAMBDAS}


def best_lambda(cv):
    return max(LAMBDAS, key=lambda lam: (cv[lam], lam))           # ties: larger lambda


def select_and_fit(sets, seqs, y, C, train, what):
    """For each feature set: CV over LAMBDAS on the rows `train`, then a refit there with the chosen
    lambda. Returns {name: {"cv": {lambda: acc}, "lambda", "cv_accuracy", "model"}} and the chosen k."""
    folds = cv_folds([seqs[i] for i in np.flatnonzero(train)], y[train], CV_FOLDS)
    out = {}
    for name, idx, d in sets:
        cv = cv_accuracy(idx[train], d, y[train], C, folds, f"{what} {name}")
        lam = best_lambda(cv)
        model = fit(idx[train], d, y[train], C, lam, what=f"{what} {name} refit lambda {lam:g}")
        out[name] = {"cv": cv, "lambda": lam, "cv_accuracy": cv[lam], "model": model}
    best_k = max(KS, key=lambda k: (out[f"k={k}"]["cv_accuracy"], -k))   # ties: smaller k
    return out, best_k


def majority(y_train, C):
    return int(np.argmax(np.bincount(y_train, minlength=C)))            # ties: first label


def per_class(y_true, y_pred, C):
    return [float(np.mean(y_pred[y_true == c] == c)) if np.any(y_true == c) else None for c in range(C)]


def confusion(y_true, y_pred, C):
    m = np.zeros((C, C), dtype=int)
    np.add.at(m, (y_true, y_pred), 1)
    return m.tolist()


def longest_common_substrings(seqs):
    """(n x n) lengths of the longest common substring of every pair of equal-length sequences."""
    code = base_codes(seqs)
    code = np.where(code < 0, 4 + np.arange(code.shape[1]), code)    # other characters never match
    n, L = code.shape
    out = np.zeros((n, n), dtype=int)
    for i in range(n):
        match = code[:, None, :] == code[i][None, :, None]              # (n, L of others, L of seq i)
        run = np.zeros((n, L), dtype=int)
        best = np.zeros(n, dtype=int)
        for r in range(L):
            new = np.zeros((n, L), dtype=int)
            new[:, 0] = match[:, r, 0]
            new[:, 1:] = (run[:, :-1] + 1) * match[:, r, 1:]
            run = new
            best = np.maximum(best, run.max(axis=1))
        out[i] = best
    return out


def overlap_report(seqs, y, fold, labels):
    """Per class: how long a stretch each sequence shares with a sequence of another fold, of its own
    class and of the other class (the promoter negatives are overlapping windows of one fragment)."""
    lcs = longest_common_substrings(seqs)
    other_fold = fold[:, None] != fold[None, :]
    report = {}
    for c, lab in enumerate(labels):
        rows = np.flatnonzero(y == c)
        same = np.array([lcs[i][other_fold[i] & (y == c)].max() for i in rows])
        diff = np.array([lcs[i][other_fold[i] & (y != c)].max() for i in rows])
        report[lab] = {"median_same_class": float(np.median(same)), "median_other_class": float(np.median(diff)),
                       "max_other_class": int(diff.max()), "at_least_20_same_class": int(np.sum(same >= 20)),
                       "n": int(len(rows))}
    return report


def alphabet(rows):
    c = collections.Counter()
    for r in rows:
        c.update(r["sequence"])
    return dict(sorted(c.items()))


# ---------------------------------------------------------------------------------------------

def run_splice(data):
    train_rows = load(os.path.join(data, "splice_train.jsonl"))
    test_rows = load(os.path.join(data, "splice_test.jsonl"))
    labels = sorted({r["label"] for r in train_rows} | {r["label"] for r in test_rows})
    C = len(labels)
    seqs = [r["sequence"] for r in train_rows + test_rows]
    y = np.array([labels.index(r["label"]) for r in train_rows + test_rows])
    train = np.zeros(len(seqs), dtype=bool)
    train[:len(train_rows)] = True
    test = ~train
    y_te = y[test]
    chars = {"train": alphabet(train_rows), "test": alphabet(test_rows)}
    other = sorted((set(chars["train"]) | set(chars["test"])) - set(BASES))
    log(f"splice: {len(train_rows)} train, {len(test_rows)} test; characters {chars}")

    models = {}
    maj = majority(y[train], C)
    pred = np.full(len(y_te), maj)
    models["majority"] = {"predicts": labels[maj], "test_accuracy": float(np.mean(pred == y_te)),
                          "per_class": per_class(y_te, pred, C), "confusion": confusion(y_te, pred, C)}

    sets = feature_sets(seqs)
    t0 = time.process_time()
    chosen, best_k = select_and_fit(sets, seqs, y, C, train, "splice")
    for name, idx, d in sets:
        r = chosen[name]
        pred = predict(r["model"], idx[test], d, C)
        models[name] = {"features": d, "lambda": r["lambda"], "cv_accuracy": r["cv_accuracy"],
                        "cv_by_lambda": {f"{lam:g}": a for lam, a in r["cv"].items()},
                        "test_accuracy": float(np.mean(pred == y_te)), "per_class": per_class(y_te, pred, C),
                        "confusion": confusion(y_te, pred, C)}
    models["k-mer (CV k)"] = dict(models[f"k={best_k}"], k=best_k)
    log(f"splice: fits done in {time.process_time() - t0:.1f} s CPU")
    return {"labels": labels, "n_train": len(train_rows), "n_test": len(test_rows),
            "test_class_counts": [int(np.sum(y_te == c)) for c in range(C)],
            "characters": chars, "non_acgt_characters": other, "chosen_k": best_k, "models": models}


def run_promoters(data):
    rows = load(os.path.join(data, "promoters.jsonl"))
    labels = sorted({r["label"] for r in rows})
    C = len(labels)
    seqs = [r["sequence"] for r in rows]
    y = np.array([labels.index(r["label"]) for r in rows])
    fold = np.array([r["fold"] for r in rows])
    chars = alphabet(rows)
    other = sorted(set(chars) - set(BASES))
    log(f"promoters: {len(rows)} rows, folds {np.bincount(fold).tolist()}; characters {chars}")
    sets = feature_sets(seqs)
    names = ["majority"] + [name for name, _, _ in sets] + ["k-mer (CV k)"]
    per_fold = {name: [] for name in names}
    chosen_lambda = {name: [] for name, _, _ in sets}
    chosen_k = []
    correct = {name: 0 for name in names}
    t0 = time.process_time()
    for f in range(PROMOTER_FOLDS):
        train, test = fold != f, fold == f
        y_te = y[test]
        preds = {"majority": np.full(len(y_te), majority(y[train], C))}
        chosen, best_k = select_and_fit(sets, seqs, y, C, train, f"promoters outer fold {f}")
        for name, idx, d in sets:
            preds[name] = predict(chosen[name]["model"], idx[test], d, C)
            chosen_lambda[name].append(chosen[name]["lambda"])
        preds["k-mer (CV k)"] = preds[f"k={best_k}"]
        chosen_k.append(best_k)
        for name in names:
            per_fold[name].append(float(np.mean(preds[name] == y_te)))
            correct[name] += int(np.sum(preds[name] == y_te))
    log(f"promoters: fits done in {time.process_time() - t0:.1f} s CPU")
    models = {}
    for name in names:
        acc = np.array(per_fold[name])
        models[name] = {"mean_accuracy": float(acc.mean()), "std_accuracy": float(acc.std(ddof=1)),
                        "pooled_accuracy": correct[name] / len(rows), "fold_accuracy": per_fold[name]}
        if name in chosen_lambda:
            models[name]["lambda_per_fold"] = chosen_lambda[name]
    models["k-mer (CV k)"]["k_per_fold"] = chosen_k
    return {"labels": labels, "n": len(rows), "length": len(seqs[0]), "fold_sizes": np.bincount(fold).tolist(),
            "characters": chars, "non_acgt_characters": other, "models": models,
            "longest_common_substring_with_other_folds": overlap_report(seqs, y, fold, labels)}


def table(splice, prom):
    lines = []
    sl = splice["labels"]
    lines.append(f"Splice junctions: train {splice['n_train']}, test {splice['n_test']} "
                 f"(test classes " + ", ".join(f"{l} {n}" for l, n in zip(sl, splice["test_class_counts"])) + ")")
    lines.append(f"  characters other than ACGT: {', '.join(splice['non_acgt_characters']) or 'none'}")
    head = f"  {'model':<16}{'features':>9}{'lambda':>8}{'CV acc':>9}{'test acc':>10}" + "".join(f"{l:>8}" for l in sl)
    lines.append(head)
    lines.append("  " + "-" * (len(head) - 2))
    for name, m in splice["models"].items():
        label = name if name != "k-mer (CV k)" else f"k-mer (CV k={m['k']})"
        feats = f"{m['features']:>9}" if "features" in m else f"{'-':>9}"
        lam = f"{m['lambda']:>8g}" if "lambda" in m else f"{'-':>8}"
        cv = f"{m['cv_accuracy']:>9.4f}" if "cv_accuracy" in m else f"{'-':>9}"
        pc = "".join(f"{a:>8.4f}" for a in m["per_class"])
        lines.append(f"  {label:<16}{feats}{lam}{cv}{m['test_accuracy']:>10.4f}{pc}")
    lines.append("  (CV acc: 5-fold CV on the training side at the chosen lambda; per-class columns: test recall)")
    lines.append("")
    lines.append(f"E. coli promoters: {prom['n']} sequences, 10-fold CV over the given folds "
                 f"(sizes {' '.join(map(str, prom['fold_sizes']))}), lambda and k chosen inside the training folds")
    lines.append(f"  characters other than ACGT: {', '.join(prom['non_acgt_characters']) or 'none'}")
    head = f"  {'model':<16}{'mean acc':>10}{'std':>8}{'pooled':>9}   chosen lambda per fold / k per fold"
    lines.append(head)
    lines.append("  " + "-" * (len(head) - 2))
    for name, m in prom["models"].items():
        extra = ""
        if "lambda_per_fold" in m:
            extra = " ".join(f"{lam:g}" for lam in m["lambda_per_fold"])
        if "k_per_fold" in m:
            extra = "k = " + " ".join(map(str, m["k_per_fold"]))
        lines.append(f"  {name:<16}{m['mean_accuracy']:>10.4f}{m['std_accuracy']:>8.4f}"
                     f"{m['pooled_accuracy']:>9.4f}   {extra}")
    lines.append(f"  (mean and sample std (ddof=1) of the 10 fold accuracies; pooled: correct / {prom['n']})")
    lines.append(f"  longest stretch a sequence shares with a sequence in another fold (median over the class, "
                 f"nt of {prom['length']}):")
    for lab, r in prom["longest_common_substring_with_other_folds"].items():
        lines.append(f"    {lab}: same class {r['median_same_class']:g}, other class {r['median_other_class']:g} "
                     f"(max {r['max_other_class']}); {r['at_least_20_same_class']} of {r['n']} share >= 20 nt "
                     f"with a same-class sequence")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/genomics")
    ap.add_argument("--json", help="write every number here")
    args = ap.parse_args()
    t_wall, t_cpu = time.time(), time.process_time()
    splice = run_splice(args.data)
    prom = run_promoters(args.data)
    cpu, wall = time.process_time() - t_cpu, time.time() - t_wall
    print(table(splice, prom))
    print(f"\n{FITS.n} logistic-regression fits (L-BFGS, at most {FITS.max_iterations} iterations each), "
          f"{len(FITS.not_converged)} stopped before max|grad| <= {GTOL:g}; CPU {cpu:.1f} s, wall {wall:.1f} s")
    for nc in FITS.not_converged[:10]:
        print(f"  not converged: {nc['what']}: {nc['iterations']} iterations, max|grad| {nc['grad_max']:.2e}")
    if args.json:
        out = {"splice": splice, "promoters": prom,
               "settings": {"lambdas": LAMBDAS, "ks": KS, "cv_folds": CV_FOLDS, "gtol": GTOL, "max_iter": MAX_ITER,
                            "lbfgs_memory": MEMORY,
                            "objective": "mean cross-entropy + lambda/2 ||W||^2 (bias unpenalized)"},
               "fits": {"count": FITS.n, "max_iterations": FITS.max_iterations, "not_converged": FITS.not_converged},
               "cpu_seconds": cpu, "wall_seconds": wall}
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
