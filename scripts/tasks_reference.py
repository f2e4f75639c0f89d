#!/usr/bin/env python3
"""A numpy re-implementation of transformers 4.27.1's FillMaskPipeline, TextClassificationPipeline
(top_k=None) and QuestionAnsweringPipeline (slow-tokenizer path: SquadExample,
squad_convert_example_to_features, select_starts_ends, decode_spans, numpy quirks included) for the
fixtures' roberta-tiny models and the tokenizer-hf/bigbird tokenizer, written from HF's code, with
the model logits from `build/bigbird forward --random-plan hf`. The expected answers in
tests/test_tasks_cli.cpp come from it. Needs numpy and python3-sentencepiece (Debian), and a build.
  python3 scripts/tasks_reference.py qa '{"question": "...", "context": "...", "top_k": 3}'
  python3 scripts/tasks_reference.py fill_mask '{"text": "Paris is the [MASK] of France."}'
  python3 scripts/tasks_reference.py classify '{"text": "a", "pair": "b"}'
"""
import json, os, re, subprocess, struct, sys, tempfile
import numpy as np
import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXE = ROOT + "/build/bigbird"
TOK = ROOT + "/tests/data/tokenizer-hf/bigbird"
sp = spm.SentencePieceProcessor(model_file=TOK + "/spiece.model")
SPECIAL = {"<s>": 2, "</s>": 1, "<unk>": 100, "[SEP]": 66, "<pad>": 0, "[CLS]": 65, "[MASK]": 67}
SPECIAL_IDS = set(SPECIAL.values())
PAD, CLS, SEP, MASK, UNK = 0, 65, 66, 67, 100

def tokenize(text):
    # split on special strings (left to right)
    out = []
    chunks = []
    i = 0; last = 0
    while i < len(text):
        hit = None
        for s in SPECIAL:
            if text.startswith(s, i):
                hit = s; break
        if hit:
            chunks.append(text[last:i]); chunks.append((hit,)); i += len(hit); last = i
        else:
            i += 1
    chunks.append(text[last:])
    for k, c in enumerate(chunks):
        if isinstance(c, tuple) and c[0] == "[MASK]" and k > 0 and not isinstance(chunks[k-1], tuple):
            chunks[k-1] = chunks[k-1].rstrip()
    for c in chunks:
        if isinstance(c, tuple): out.append(c[0])
        elif c: out.extend(sp.encode(c, out_type=str))
    return out

def to_id(t):
    return SPECIAL[t] if t in SPECIAL else sp.piece_to_id(t)

def encode(text, pair=None):
    a = [to_id(t) for t in tokenize(text)]
    if pair is None: return [CLS] + a + [SEP]
    b = [to_id(t) for t in tokenize(pair)]
    return [CLS] + a + [SEP] + b + [SEP]

def decode(ids, skip_special_tokens=False):
    toks = [sp.id_to_piece(i) if i not in SPECIAL_IDS else [k for k, v in SPECIAL.items() if v == i][0] for i in ids
            if not (skip_special_tokens and i in SPECIAL_IDS)]
    cur = []; out = ""; prev_special = False
    for t in toks:
        if t in SPECIAL:
            if not prev_special: out += " "
            out += sp.decode_pieces(cur) + t
            prev_special = True; cur = []
        else:
            cur.append(t); prev_special = False
    out += sp.decode_pieces(cur)
    text = out.strip()
    text = re.sub(r" (\[(MASK|SEP)\])", r"\1", text)
    for a, b in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]:
        text = text.replace(a, b)
    return text

def write_st(path, tensors):
    header = {}; off = 0; blobs = []
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr.astype(np.int64))
        b = arr.tobytes(); header[name] = {"dtype": "I64", "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        off += len(b); blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h); [f.write(b) for b in blobs]

def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(n)); data = f.read()
    out = {}
    for k, v in h.items():
        if k == "__metadata__": continue
        dt = {"F32": np.float32, "I64": np.int64, "I32": np.int32}[v["dtype"]]
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype=dt).reshape(v["shape"])
    return out

def forward(model, ids, mask=None):
    d = tempfile.mkdtemp()
    t = {"input_ids": np.array([ids])}
    if mask is not None: t["attention_mask"] = np.array([mask])
    write_st(d + "/in.st", t)
    subprocess.run([EXE, "forward", "--model", model, "--inputs", d + "/in.st", "--outputs", d + "/out.st", "--random-plan", "hf", "--threads", "1"], check=True, capture_output=True)
    return read_st(d + "/out.st")

M = ROOT + "/tests/data/roberta-tiny/"

def fill_mask(text, top_k=5):
    ids = encode(text)
    out = forward(M + "pretraining", ids)
    logits = out["mlm_logits"][0]
    masked = [i for i, x in enumerate(ids) if x == MASK]
    res = []
    single = len(masked) == 1
    for i, p in enumerate(masked):
        l = logits[p]; e = np.exp(l - l.max()); pr = e / e.sum()
        order = np.argsort(-pr, kind="stable")[:top_k]
        row = []
        for tkn in order:
            tokens = np.array(ids); tokens[p] = tkn; tokens = tokens[tokens != PAD]
            row.append({"score": float(pr[tkn]), "token": int(tkn), "token_str": decode([int(tkn)]), "sequence": decode(list(map(int, tokens)), skip_special_tokens=single)})
        res.append(row)
    return res[0] if single else res

def classify(text, pair=None):
    out = forward(M + "seqcls", encode(text, pair))
    l = out["seqcls.logits"][0]; e = np.exp(l - l.max()); s = e / e.sum()
    d = [{"label": "LABEL_%d" % i, "score": float(x)} for i, x in enumerate(s)]
    d.sort(key=lambda x: x["score"], reverse=True)
    return d

def is_ws(c): return c in " \t\r\n" or ord(c) == 0x202F

def qa(question, context, top_k=1, max_answer_len=15, max_seq_len=384, doc_stride=128, max_question_len=64):
    doc_tokens = []; c2w = []; prev = True
    for c in context:
        if is_ws(c): prev = True
        else:
            if prev: doc_tokens.append(c)
            else: doc_tokens[-1] += c
            prev = False
        c2w.append(len(doc_tokens) - 1)
    tok2orig = []; all_doc = []
    for i, w in enumerate(doc_tokens):
        for t in tokenize(w): tok2orig.append(i); all_doc.append(t)
    q = [to_id(t) for t in tokenize(question)][:max_question_len]
    spans = []
    span_doc = all_doc
    C = max_seq_len - len(q) - 3
    stride = max_seq_len - doc_stride - len(q) - 3
    while len(spans) * doc_stride < len(all_doc):
        pair = [to_id(t) for t in span_doc]
        total = len(q) + len(pair) + 3
        over = []
        if total > max_seq_len:
            r = total - max_seq_len
            wl = min(len(pair), stride + r)
            over = pair[-wl:]; pair = pair[:-r]
        ids = [CLS] + q + [SEP] + pair + [SEP]
        am = [1] * len(ids) + [0] * (max_seq_len - len(ids))
        ids = ids + [PAD] * (max_seq_len - len(ids))
        plen = min(len(all_doc) - len(spans) * doc_stride, C)
        t2o = {len(q) + 2 + i: tok2orig[len(spans) * doc_stride + i] for i in range(plen)}
        spans.append((ids, am, t2o))
        if not over: break
        span_doc = [sp.id_to_piece(i) if i not in SPECIAL_IDS else [k for k, v in SPECIAL.items() if v == i][0] for i in over]
    answers = []
    for ids, am, t2o in spans:
        p_mask = np.ones(len(ids), dtype=np.int64); p_mask[len(q) + 2:] = 0
        for i, x in enumerate(ids):
            if x in SPECIAL_IDS: p_mask[i] = 1
        p_mask[ids.index(CLS)] = 0
        out = forward(M + "qa", ids, am)
        start = out["qa.start_logits"][None, 0][0][None]; end = out["qa.end_logits"][0][None]
        und = np.abs(p_mask[None] - 1) & np.array(am)[None]
        m = und == 0
        start = np.where(m, -10000.0, start).astype(np.float32); end = np.where(m, -10000.0, end).astype(np.float32)
        start = np.exp(start - start.max(axis=-1, keepdims=True)); start = start / start.sum()
        end = np.exp(end - end.max(axis=-1, keepdims=True)); end = end / end.sum()
        start[0, 0] = end[0, 0] = 0.0
        outer = np.matmul(np.expand_dims(start, -1), np.expand_dims(end, 1))
        cand = np.tril(np.triu(outer), max_answer_len - 1)
        flat = cand.flatten()
        if top_k == 1: idx = [np.argmax(flat)]
        elif len(flat) < top_k: idx = np.argsort(-flat)
        else:
            idx = np.argpartition(-flat, top_k)[0:top_k]; idx = idx[np.argsort(-flat[idx])]
        ss, ee = np.unravel_index(idx, cand.shape)[1:]
        ok = np.isin(ss, und.nonzero()) & np.isin(ee, und.nonzero())
        ss = ss[ok]; ee = ee[ok]; sc = cand[0, ss, ee]
        c2wa = np.array(c2w)
        for s, e, score in zip(ss, ee, sc):
            answers.append({"score": score.item(), "start": np.where(c2wa == t2o[s])[0][0].item(), "end": np.where(c2wa == t2o[e])[0][-1].item(),
                            "answer": " ".join(doc_tokens[t2o[s]: t2o[e] + 1])})
    answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
    return answers

if __name__ == "__main__":
    task = sys.argv[1]; args = json.loads(sys.argv[2])
    print(json.dumps(globals()[task](**args)))
