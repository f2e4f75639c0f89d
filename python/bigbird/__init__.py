"""bigbird.cpp from Python, in the shape of HuggingFace transformers' API.

    import bigbird
    fill_mask = bigbird.pipeline("fill-mask", model="models/tiny-mlm")
    fill_mask("Paris is the [MASK] of France.", top_k=3)      # [{"score", "token", "token_str", "sequence"}, ...]

    model = bigbird.Model.from_pretrained("models/tiny-mlm")
    out = model(input_ids=ids)                                 # {"sequence_output": ndarray, ...}

    tok = bigbird.Tokenizer.from_pretrained("models/tiny-mlm")
    tok("Hello world")                                         # {"input_ids", "token_type_ids", ...}

Every answer is what the `bigbird` command prints (as Python objects), computed by the same C++
task library: the defaults are the CLI's (e.g. random_plan="zeros", transformers >= 4.30 in eval
mode). Errors raise ValueError (bad input or option) or FileNotFoundError (missing model files)
with the CLI's messages; unknown keywords raise TypeError. The GIL is released while a model
runs, and one model or pipeline may be called from several threads at once.
"""

import warnings as _warnings

from . import _bigbird

__all__ = ["pipeline", "Pipeline", "Model", "Tokenizer", "TASKS"]

# The options every model-running command takes (tools/common_options.h), as keywords.
_RUN_OPTIONS = ("threads", "attention", "random_plan", "seed", "dtype")

# Each task's own options (keywords named as HF's pipelines name them) and its CLI command.
_TASK_OPTIONS = {
    "fill-mask": ("top_k", "truncation", "max_length"),
    "score": (),
    "text-classification": ("top_k", "function_to_apply", "truncation", "max_length", "stride", "aggregation"),
    "question-answering": ("top_k", "max_answer_len", "max_seq_len", "doc_stride", "max_question_len",
                           "handle_impossible_answer"),
    "token-classification": ("aggregation_strategy", "ignore_labels", "truncation", "max_length", "stride"),
    "feature-extraction": ("pooling", "truncation", "max_length", "stride", "aggregation"),
    "summarization": ("num_beams", "num_return_sequences", "length_penalty", "max_length", "max_new_tokens",
                      "min_length", "no_repeat_ngram_size", "early_stopping", "eos_token_id", "pad_token_id",
                      "forced_eos_token_id", "forced_bos_token_id", "decoder_start_token_id", "use_cache",
                      "truncation", "clean_up_tokenization_spaces"),
}
TASKS = tuple(_TASK_OPTIONS)
_ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}

# Options that the CLI checks as positive numbers (CLI11 validators, before the library sees them).
_POSITIVE = ("top_k", "max_answer_len", "max_seq_len", "doc_stride", "max_question_len", "batch_size",
             "max_length")
# Options that take a thread count (0 = all cores), a seed or a window overlap.
_NON_NEGATIVE = ("threads", "seed", "stride")


def _check_options(options, allowed, where, positive=_POSITIVE):
    for key, value in options.items():
        if key not in allowed:
            raise TypeError(f"{where}: unexpected keyword argument '{key}' (accepted: {', '.join(sorted(allowed))})")
        if value is None:
            continue
        if key in positive or key in _NON_NEGATIVE:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{key}: expected an integer, got {type(value).__name__}")
            if key in positive and value <= 0:
                raise ValueError(f"--{key.replace('_', '-')}: '{value}' is not a positive number")
            if key in _NON_NEGATIVE and value < 0:
                raise ValueError(f"--{key.replace('_', '-')}: '{value}' is not a number >= 0")


def _text_record(x, text_pair=None):
    if isinstance(x, str):
        return {"text": x, "text_pair": text_pair}
    if isinstance(x, dict) and isinstance(x.get("text"), str):
        unknown = set(x) - {"text", "text_pair"}
        if unknown:
            raise TypeError(f"an input dict has 'text' and optionally 'text_pair', not {sorted(unknown)}")
        if text_pair is not None:
            raise TypeError("give text_pair either in the input dict or as a keyword, not both")
        return {"text": x["text"], "text_pair": x.get("text_pair")}
    raise TypeError(f"expected a str or a dict with 'text', got {type(x).__name__}")


def _qa_record(x):
    if isinstance(x, dict) and set(x) == {"question", "context"}:
        if not all(isinstance(v, str) for v in x.values()):
            raise TypeError("question and context must be str")
        return dict(x)
    raise TypeError("a question-answering input is a dict {'question': ..., 'context': ...}")


class Pipeline:
    """One task on one checkpoint, like the object transformers.pipeline() returns.

    Calling it with one input returns that input's answer; with a list, a list of answers (in
    order; they run side by side, `batch_size` at a time, and each equals its answer alone).
    Keywords given to the call override those given at creation, for that call only.
    """

    def __init__(self, task, model, tokenizer=None, batch_size=None, **options):
        task = _ALIASES.get(task, task)
        if task not in _TASK_OPTIONS:
            raise ValueError(f"unknown task '{task}' (supported: {', '.join(TASKS)})")
        if not isinstance(model, str) or not model:
            raise TypeError("model must be a checkpoint directory (str)")
        self.task = task
        self._allowed = set(_TASK_OPTIONS[task]) | set(_RUN_OPTIONS) | {"batch_size"}
        # as the CLI: fill-mask's --top-k and the generation flags are checked by the library
        self._positive = {"batch_size"} if task in ("fill-mask", "score", "summarization") else set(_POSITIVE)
        self._options = {k: v for k, v in options.items()}
        if batch_size is not None:
            self._options["batch_size"] = batch_size
        _check_options(self._options, self._allowed, f"pipeline('{task}')", self._positive)
        self.model = model
        self.tokenizer = tokenizer or model
        if task == "summarization":
            self._runner = _bigbird.SummarizerRunner(model, tokenizer or "")
        else:
            self._runner = _bigbird.TaskRunner(model, tokenizer or "", True)

    def _merged(self, call_options):
        _check_options(call_options, self._allowed, f"{self.task} pipeline", self._positive)
        options = dict(self._options)
        options.update(call_options)
        return options

    def _records(self, inputs, kwargs):
        """(records, single) from the call's inputs; pops the input keywords from kwargs."""
        if self.task == "question-answering":
            question, context = kwargs.pop("question", None), kwargs.pop("context", None)
            if inputs is None and question is not None and context is not None:
                if isinstance(question, list) and isinstance(context, list):
                    if len(question) != len(context):
                        raise ValueError("question and context lists differ in length")
                    return [_qa_record({"question": q, "context": c}) for q, c in zip(question, context)], False
                return [_qa_record({"question": question, "context": context})], True
            if inputs is None or question is not None or context is not None:
                raise TypeError("give question= and context=, or a dict {'question', 'context'} (or a list of them)")
            if isinstance(inputs, list):
                return [_qa_record(x) for x in inputs], False
            return [_qa_record(inputs)], True
        text_pair = kwargs.pop("text_pair", None)
        if inputs is None:
            inputs = kwargs.pop("text", None) if "text" in kwargs else kwargs.pop("inputs", None)
        if inputs is None:
            raise TypeError(f"{self.task}: no input given")
        if self.task in ("fill-mask", "score", "token-classification", "summarization"):
            if text_pair is not None:
                raise TypeError(f"{self.task} takes no text_pair")
            texts = inputs if isinstance(inputs, list) else [inputs]
            for t in texts:
                if not isinstance(t, str):
                    raise TypeError(f"{self.task}: expected a str or a list of str, got {type(t).__name__}")
            return [{"text": t} for t in texts], not isinstance(inputs, list)
        if isinstance(inputs, list):
            if text_pair is not None:
                raise TypeError("with a list of inputs, give each text_pair in its dict")
            return [_text_record(x) for x in inputs], False
        return [_text_record(inputs, text_pair)], True

    def __call__(self, inputs=None, **kwargs):
        records, single = self._records(inputs, kwargs)
        options = self._merged(kwargs)
        if self.task == "summarization":
            answers, warnings = self._runner.run([r["text"] for r in records], options)
            for w in warnings:
                _warnings.warn(w, stacklevel=2)
        else:
            task_options = {k: v for k, v in options.items() if k in _TASK_OPTIONS[self.task]}
            run_options = {k: v for k, v in options.items() if k not in _TASK_OPTIONS[self.task]}
            answers = self._runner.run(self.task, records, task_options, run_options)
        return answers[0] if single else answers

    def __repr__(self):
        return f"bigbird.Pipeline(task={self.task!r}, model={self.model!r})"


def pipeline(task, model, tokenizer=None, **options):
    """transformers.pipeline(task, model=DIR, **options) for the tasks in TASKS.

    `model` (and `tokenizer`, default: `model`) are checkpoint directories as HF saves them.
    Options: each task's keywords (see _TASK_OPTIONS; named as HF's pipelines name them) and
    threads, attention, random_plan, seed, dtype, batch_size, with the CLI's defaults.
    """
    return Pipeline(task, model, tokenizer=tokenizer, **options)


class Tokenizer:
    """The checkpoint's tokenizer, as `bigbird tokenize` runs it (HF's rules)."""

    def __init__(self, runner, directory):
        self._runner = runner
        self.name_or_path = directory

    @classmethod
    def from_pretrained(cls, directory):
        return cls(_bigbird.TaskRunner(directory, "", False), directory)

    @property
    def model_max_length(self):
        return self._runner.model_max_length

    def __call__(self, text, text_pair=None, truncation=None, max_length=None, add_special_tokens=True):
        """The dict `bigbird tokenize` prints: input_ids, token_type_ids, attention_mask, tokens, offsets.

        A list of texts gives a list of dicts. As HF: max_length truncates (longest_first) unless
        truncation=False; truncation=True without max_length truncates to model_max_length.
        """
        if truncation not in (None, True, False, "longest_first", "do_not_truncate"):
            raise ValueError(f"truncation: '{truncation}' is not supported (True, False, 'longest_first', "
                             f"'do_not_truncate')")
        if truncation in (False, "do_not_truncate"):
            max_length = None
        elif truncation in (True, "longest_first") and max_length is None:
            max_length = self.model_max_length
        _check_options({"max_length": max_length}, {"max_length"}, "tokenizer")
        options = {"add_special_tokens": bool(add_special_tokens)}
        if max_length is not None:
            options["max_length"] = max_length
        if isinstance(text, list):
            if text_pair is not None and (not isinstance(text_pair, list) or len(text_pair) != len(text)):
                raise ValueError("text_pair must be a list as long as text")
            pairs = text_pair if text_pair is not None else [None] * len(text)
            records = [_text_record(t, p) for t, p in zip(text, pairs)]
            return self._runner.run("tokenize", records, options, {})
        return self._runner.run("tokenize", [_text_record(text, text_pair)], options, {})[0]

    def decode(self, ids, skip_special_tokens=False, clean_up_tokenization_spaces=True):
        """HF's decode: the text of `ids` (a list of ints or a 1-D array)."""
        return self._runner.decode([int(i) for i in ids], bool(skip_special_tokens), bool(clean_up_tokenization_spaces))

    def __repr__(self):
        return f"bigbird.Tokenizer({self.name_or_path!r})"


_GENERATE_OPTIONS = set(_TASK_OPTIONS["summarization"]) - {"truncation", "clean_up_tokenization_spaces"}


class Model:
    """A BigBird or BigBird-Pegasus checkpoint, run as `bigbird forward` / `bigbird generate` run it."""

    def __init__(self, runner, directory):
        self._runner = runner
        self.name_or_path = directory

    @classmethod
    def from_pretrained(cls, directory, dtype="f32", threads=0):
        """Loads config.json + model.safetensors. dtype: "f32" (exact), "bf16" or "int8" (on
        the CPU's matrix unit: AVX512-BF16 / AVX512-VNNI, else AVX2);
        threads: 0 = all cores. Both may be overridden per call."""
        options = {"dtype": dtype, "threads": threads}
        _check_options(options, set(_RUN_OPTIONS), "Model.from_pretrained")
        return cls(_bigbird.ModelRunner(directory, options), directory)

    @property
    def model_type(self):
        return self._runner.model_type

    def __call__(self, input_ids, attention_mask=None, token_type_ids=None, random_plan="zeros", seed=None,
                 attention=None, decoder_input_ids=None, decoder_attention_mask=None, generate_steps=0,
                 threads=None, dtype=None):
        """Every output tensor `bigbird forward` writes, as a dict of numpy arrays with its names
        (sequence_output, hidden_state.layer0, mlm_logits, rand_attn.layer0, ...).

        Inputs are int arrays [batch, length]. BigBird-Pegasus also takes decoder_input_ids
        (default: input_ids shifted right) and generate_steps (greedy.tokens / greedy.step_logits).
        """
        options = {"random_plan": random_plan, "seed": seed, "attention": attention}
        if threads is not None:
            options["threads"] = threads
        if dtype is not None:
            options["dtype"] = dtype
        _check_options(options, set(_RUN_OPTIONS), "Model")
        if isinstance(generate_steps, bool) or not isinstance(generate_steps, int) or generate_steps < 0:
            raise ValueError(f"generate_steps must be an integer >= 0, got {generate_steps!r}")
        return self._runner.forward(input_ids, attention_mask, token_type_ids, decoder_input_ids,
                                    decoder_attention_mask, generate_steps, options)

    forward = __call__

    def generate(self, input_ids, attention_mask=None, decoder_input_ids=None, random_plan="zeros", seed=None,
                 attention=None, threads=None, dtype=None, **generation):
        """HF generate() on a BigBird-Pegasus checkpoint, as `bigbird generate` runs it.

        Keywords: those of `bigbird generate` (num_beams, num_return_sequences, length_penalty,
        max_length, max_new_tokens, min_length, no_repeat_ngram_size, early_stopping, eos_token_id,
        pad_token_id, forced_eos_token_id, forced_bos_token_id, decoder_start_token_id, use_cache;
        None unsets an id); unset ones take the checkpoint's generation defaults. Returns
        {"sequences"} (+ "sequences_scores", "beam_indices" for beam search) as numpy arrays.
        """
        unknown = set(generation) - _GENERATE_OPTIONS
        if unknown:
            raise TypeError(f"generate: unexpected keyword argument '{sorted(unknown)[0]}' "
                            f"(accepted: {', '.join(sorted(_GENERATE_OPTIONS))})")
        options = {"random_plan": random_plan, "seed": seed, "attention": attention}
        if threads is not None:
            options["threads"] = threads
        if dtype is not None:
            options["dtype"] = dtype
        _check_options(options, set(_RUN_OPTIONS), "generate")
        options.update(generation)
        out, warnings = self._runner.generate(input_ids, attention_mask, decoder_input_ids, options)
        for w in warnings:
            _warnings.warn(w, stacklevel=2)
        return out

    def __repr__(self):
        return f"bigbird.Model({self.name_or_path!r}, model_type={self.model_type!r})"
