"""Copies the pegasus-tiny fixtures the tests need from the shared fixture set (run once, by hand).

usage: /usr/bin/python3 scripts/make_pegasus_test_data.py ../shared/fixtures/bigbird/pegasus-tiny tests/data/pegasus-tiny
Model: the tied aliases (lm_head.weight, model.{encoder,decoder}.embed_tokens.weight) are dropped, as
HF's own safetensors files drop them, so the tests also exercise the loader's tying. Generate files:
`encoder.output` is kept only in generate_enc300_b2_greedy (the case files hold the enc256 one).
Everything else is copied unchanged, metadata included.
"""
import os, shutil, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tools"))
import st

src, dst = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(dst, "model"), exist_ok=True)
shutil.copy(os.path.join(src, "model", "config.json"), os.path.join(dst, "model", "config.json"))
t, m = st.read(os.path.join(src, "model", "model.safetensors"))
aliases = ["lm_head.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"]
m["note"] = "test copy: tied aliases dropped (" + ", ".join(aliases) + ")"
st.write(os.path.join(dst, "model", "model.safetensors"), {k: v for k, v in t.items() if k not in aliases}, m)
for name in sorted(os.listdir(src)):
    if not name.endswith(".safetensors"):
        continue
    t, m = st.read(os.path.join(src, name))
    if name.startswith("generate_") and name != "generate_enc300_b2_greedy.safetensors":
        t.pop("encoder.output", None)
    st.write(os.path.join(dst, name), t, m)
