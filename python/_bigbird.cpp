// The compiled half of the Python package (`bigbird._bigbird`): thin pybind11 bindings over the
// task library (src/tasks/), the models and the forward-output naming (models/forward_outputs.h)
// that the CLI uses, so Python and the CLI give the same answers by construction. The Python half
// (python/bigbird/__init__.py) shapes them like HF's pipeline / from_pretrained API.
//
// Conversions: answers are nlohmann JSON turned into Python lists/dicts; tensors leave as numpy
// arrays that own the library's buffers (no copy); input ids are copied once into the library's
// int64 tensors (they are small). The GIL is released while files load and while models run.
//
// Concurrency: a loaded model is immutable (encode/decode/generate are const and keep no state
// between calls; the bf16 weight packing is std::call_once), which is also what the task runner's
// side-by-side rows rely on, so two Python threads may call one object at once without a lock.
//
// Errors: bigbird::Error (and InputError) become ValueError with the library's message; a model
// or tokenizer directory (or one of its files) that does not exist becomes FileNotFoundError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "../tools/common_options.h"
#include "../tools/generation_flags.h"
#include "core/error.h"
#include "core/json_file.h"
#include "models/forward_outputs.h"
#include "models/pegasus_generate.h"
#include "tasks/classify.h"
#include "tasks/embed.h"
#include "tasks/fill_mask.h"
#include "tasks/question_answering.h"
#include "tasks/score.h"
#include "tasks/summarize.h"
#include "tasks/tag.h"
#include "tasks/tokenize.h"

namespace py = pybind11;
using bigbird::Error;
using json = nlohmann::ordered_json;

namespace {

// A missing directory or file: FileNotFoundError in Python (see the translator below).
class MissingFile : public Error {
 public:
  using Error::Error;
};

// ---- JSON <-> Python ---------------------------------------------------------------------------

py::object to_py(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return py::none();
    case json::value_t::boolean: return py::bool_(j.get<bool>());
    case json::value_t::number_integer: return py::int_(j.get<int64_t>());
    case json::value_t::number_unsigned: return py::int_(j.get<uint64_t>());
    case json::value_t::number_float: return py::float_(j.get<double>());
    case json::value_t::string: return py::str(j.get_ref<const std::string&>());
    case json::value_t::array: {
      py::list l(j.size());
      size_t i = 0;
      for (const auto& v : j) l[i++] = to_py(v);
      return l;
    }
    case json::value_t::object: {
      py::dict d;
      for (const auto& [k, v] : j.items()) d[py::str(k)] = to_py(v);
      return d;
    }
    default: throw Error("cannot convert this JSON value to Python");
  }
}

json from_py(const py::handle& o) {
  if (o.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(o)) return o.cast<bool>();
  if (py::isinstance<py::int_>(o)) return o.cast<int64_t>();
  if (py::isinstance<py::float_>(o)) return o.cast<double>();
  if (py::isinstance<py::str>(o)) return o.cast<std::string>();
  if (py::isinstance<py::dict>(o)) {
    json j = json::object();
    for (const auto& [k, v] : o.cast<py::dict>()) j[py::str(k).cast<std::string>()] = from_py(v);
    return j;
  }
  if (py::isinstance<py::list>(o) || py::isinstance<py::tuple>(o)) {
    json j = json::array();
    for (const auto& v : o) j.push_back(from_py(v));
    return j;
  }
  throw py::type_error("cannot pass a " + std::string(py::str(o.get_type().attr("__name__"))) + " as an option");
}

// ---- options -------------------------------------------------------------------------------------

// The common options of every model-running command (tools/common_options.h), with its checks
// and messages. `seed` is given only with random_plan "seeded", as the CLI requires.
bigbird::cli::CommonOptions common_options(const json& o) {
  bigbird::cli::CommonOptions c;
  c.command = "python";
  if (o.contains("threads") && !o["threads"].is_null()) c.threads = o["threads"].get<int>();
  if (o.contains("attention") && !o["attention"].is_null()) c.attention = o["attention"].get<std::string>();
  if (o.contains("random_plan") && !o["random_plan"].is_null()) c.random_plan = o["random_plan"].get<std::string>();
  if (o.contains("dtype") && !o["dtype"].is_null()) c.dtype = o["dtype"].get<std::string>();
  if (o.contains("seed") && !o["seed"].is_null()) {
    c.seed = o["seed"].get<uint64_t>();
    BB_CHECK(c.random_plan == "seeded", "--seed has no effect with --random-plan ", c.random_plan,
             " (it seeds --random-plan seeded only)");
  }
  BB_CHECK(c.random_plan == "zeros" || c.random_plan == "hf" || c.random_plan == "seeded", "--random-plan: '",
           c.random_plan, "' is not one of zeros, hf, seeded");
  BB_CHECK(c.attention.empty() || c.attention == "block_sparse" || c.attention == "original_full", "--attention: '",
           c.attention, "' is not block_sparse or original_full");
  c.check();
  return c;
}

bigbird::tasks::RunOptions run_options(const json& o) {
  bigbird::tasks::RunOptions r = common_options(o).run_options();
  if (o.contains("batch_size") && !o["batch_size"].is_null()) r.batch_size = o["batch_size"].get<int>();
  return r;
}

template <typename T>
void get(const json& o, const char* key, T* out) {
  if (o.contains(key) && !o[key].is_null()) *out = o[key].get<T>();
}

// The generation flags of `bigbird generate` from Python keywords (values as the CLI takes them:
// None, True/False, numbers), applied over `defaults` with the CLI's parsing and messages.
bigbird::GenerationConfig generation_config(const json& o, bigbird::GenerationConfig defaults) {
  bigbird::cli::GenerationFlags f;
  auto str = [&](const char* key, std::string* out) {
    if (!o.contains(key)) return;
    const json& v = o[key];
    if (v.is_null()) *out = "None";
    else if (v.is_boolean()) *out = v.get<bool>() ? "true" : "false";
    else if (v.is_string()) *out = v.get<std::string>();
    else *out = v.dump();
  };
  str("num_beams", &f.num_beams);
  str("num_return_sequences", &f.num_return_sequences);
  str("length_penalty", &f.length_penalty);
  str("max_length", &f.max_length);
  str("max_new_tokens", &f.max_new_tokens);
  str("min_length", &f.min_length);
  str("no_repeat_ngram_size", &f.no_repeat_ngram_size);
  str("early_stopping", &f.early_stopping);
  str("eos_token_id", &f.eos_token_id);
  str("pad_token_id", &f.pad_token_id);
  str("forced_eos_token_id", &f.forced_eos_token_id);
  str("forced_bos_token_id", &f.forced_bos_token_id);
  str("decoder_start_token_id", &f.decoder_start_token_id);
  str("use_cache", &f.use_cache);
  return bigbird::cli::apply_generation_flags(f, std::move(defaults));
}

// ---- loading -------------------------------------------------------------------------------------

// Runs a loader with the GIL released; a directory or file that is not there is MissingFile.
template <typename F>
auto load_checked(F&& load) {
  py::gil_scoped_release nogil;
  try {
    return load();
  } catch (const MissingFile&) {
    throw;
  } catch (const Error& e) {
    // The library's messages for a file that is not there ("no config.json in ...", "no
    // model.safetensors or ... in ...", "... does not exist", "...: No such file or directory"):
    // FileNotFoundError; an unreadable or malformed file stays a ValueError.
    const std::string m = e.what();
    if (m.rfind("no ", 0) == 0 || m.find("does not exist") != std::string::npos ||
        m.find("No such file or directory") != std::string::npos)
      throw MissingFile(m);
    throw;
  }
}

std::string model_type_of(const std::string& dir) {
  const auto path = std::filesystem::path(dir) / "config.json";
  if (!std::filesystem::exists(path)) throw MissingFile("no config.json in model directory '" + dir + "'");
  const nlohmann::json j = bigbird::read_json_object(path.string());
  return j.value("model_type", std::string("big_bird"));
}

// ---- numpy ---------------------------------------------------------------------------------------

// A numpy array owning `bytes` (moved, not copied).
py::array numpy_of(bigbird::DType dtype, const bigbird::Shape& shape, std::vector<uint8_t>&& bytes) {
  auto* owner = new std::vector<uint8_t>(std::move(bytes));
  py::capsule free_when_done(owner, [](void* p) { delete static_cast<std::vector<uint8_t>*>(p); });
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  switch (dtype) {
    case bigbird::DType::F32: return py::array(py::dtype::of<float>(), dims, owner->data(), free_when_done);
    case bigbird::DType::I64: return py::array(py::dtype::of<int64_t>(), dims, owner->data(), free_when_done);
    case bigbird::DType::I32: return py::array(py::dtype::of<int32_t>(), dims, owner->data(), free_when_done);
    default: throw Error("unexpected output dtype");
  }
}

template <typename T>
py::array numpy_of(std::vector<T>&& v, const bigbird::Shape& shape) {
  auto* owner = new std::vector<T>(std::move(v));
  py::capsule free_when_done(owner, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  return py::array(py::dtype::of<T>(), dims, owner->data(), free_when_done);
}

using IdArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

// An int64 [batch, length] input (any integer array converts); `like` checks the shape.
bigbird::TensorI64 ids_of(const py::object& o, const char* name, const bigbird::Shape* like = nullptr) {
  if (o.is_none()) return {};
  IdArray a = IdArray::ensure(o);
  if (!a) throw py::type_error(std::string(name) + " must be an integer array");
  bigbird::TensorI64 t;
  t.shape.assign(a.shape(), a.shape() + a.ndim());
  BB_CHECK(a.ndim() == 2, name, " must be [batch, length], got ", bigbird::to_string(t.shape));
  if (like)
    BB_CHECK(t.shape == *like, name, " has shape ", bigbird::to_string(t.shape), " but input_ids has ",
             bigbird::to_string(*like));
  t.data.assign(a.data(), a.data() + a.size());
  return t;
}

// ---- the classes -------------------------------------------------------------------------------

// A checkpoint + tokenizer for the encoder tasks (and the tokenizer alone: with_weights = false).
class TaskRunner {
 public:
  TaskRunner(const std::string& model, const std::string& tokenizer, bool with_weights) {
    tm_ = load_checked([&] { return bigbird::tasks::TaskModel::load(model, tokenizer, with_weights); });
  }

  // Answers `records` (dicts with text / text_pair or question / context) with `task`.
  py::list run(const std::string& task, const py::list& records, const py::dict& task_options,
               const py::dict& run_opts) const {
    const json to = from_py(task_options), ro = from_py(run_opts);
    std::vector<bigbird::tasks::InputRecord> in;
    for (const auto& r : records) {
      const json j = from_py(r);
      bigbird::tasks::InputRecord rec;
      if (j.contains("text")) rec.text = j["text"].get<std::string>();
      if (j.contains("text_pair") && !j["text_pair"].is_null()) rec.text_pair = j["text_pair"].get<std::string>();
      if (j.contains("question")) rec.question = j["question"].get<std::string>();
      if (j.contains("context")) rec.context = j["context"].get<std::string>();
      in.push_back(std::move(rec));
    }
    std::vector<json> answers;
    {
      py::gil_scoped_release nogil;
      const bigbird::tasks::RunOptions opt = tm_->has_model() ? run_options(ro) : bigbird::tasks::RunOptions{};
      std::unique_ptr<bigbird::tasks::Task> t = make_task(task, to);
      std::vector<std::unique_ptr<bigbird::tasks::Item>> items;
      std::vector<bigbird::tasks::Item*> ptrs;
      for (const auto& rec : in) {
        items.push_back(t->prepare(rec, opt));
        ptrs.push_back(items.back().get());
      }
      bigbird::tasks::run_items(*t, ptrs, opt);
      for (const auto& it : items) answers.push_back(t->finish(*it));
    }
    py::list out;
    for (const json& a : answers) out.append(to_py(a));
    return out;
  }

  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens, bool clean_up) const {
    py::gil_scoped_release nogil;
    return tm_->tokenizer().decode(ids, skip_special_tokens, clean_up);
  }
  int64_t model_max_length() const { return tm_->tokenizer().model_max_length(); }

 private:
  // The long-input keywords (issue: long inputs; tasks/long_input.h), as the CLI's --truncation,
  // --max-length, --stride and --aggregation: truncation=True cuts as HF's tokenizer does, stride=S
  // runs windows. A keyword the task does not take was refused by the Python layer.
  static void long_input(const json& o, bigbird::tasks::LongInputOptions* l, bool windows, bool aggregation) {
    if (o.contains("truncation") && !o["truncation"].is_null()) {
      if (!o["truncation"].is_boolean()) throw bigbird::Error("truncation: expected True or False");
      l->truncation = o["truncation"].get<bool>();
    }
    get(o, "max_length", &l->max_length);
    if (windows) get(o, "stride", &l->stride);
    if (aggregation) get(o, "aggregation", &l->aggregation);
  }

  std::unique_ptr<bigbird::tasks::Task> make_task(const std::string& task, const json& o) const {
    using namespace bigbird::tasks;
    if (task == "fill-mask") {
      FillMaskOptions f;
      get(o, "top_k", &f.top_k);
      long_input(o, &f.long_input, false, false);
      return std::make_unique<FillMaskTask>(*tm_, f);
    }
    if (task == "score") return std::make_unique<ScoreTask>(*tm_);
    if (task == "text-classification") {
      ClassifyOptions c;
      if (o.contains("top_k") && !o["top_k"].is_null()) c.top_k = o["top_k"].get<int>();
      get(o, "function_to_apply", &c.function_to_apply);
      long_input(o, &c.long_input, true, true);
      return std::make_unique<ClassifyTask>(*tm_, c);
    }
    if (task == "question-answering") {
      QaOptions q;
      get(o, "top_k", &q.top_k);
      get(o, "max_answer_len", &q.max_answer_len);
      get(o, "max_seq_len", &q.max_seq_len);
      get(o, "doc_stride", &q.doc_stride);
      get(o, "max_question_len", &q.max_question_len);
      get(o, "handle_impossible_answer", &q.handle_impossible_answer);
      return std::make_unique<QaTask>(*tm_, q);
    }
    if (task == "token-classification") {
      TagOptions t;
      get(o, "aggregation_strategy", &t.aggregation);
      get(o, "ignore_labels", &t.ignore_labels);
      long_input(o, &t.long_input, true, false);
      return std::make_unique<TagTask>(*tm_, t);
    }
    if (task == "feature-extraction") {
      EmbedOptions e;
      get(o, "pooling", &e.pooling);
      long_input(o, &e.long_input, true, true);
      return std::make_unique<EmbedTask>(*tm_, e);
    }
    if (task == "tokenize") {
      TokenizeOptions t;
      get(o, "max_length", &t.max_length);
      get(o, "add_special_tokens", &t.add_special_tokens);
      return std::make_unique<TokenizeTask>(*tm_, t);
    }
    throw Error("unknown task '" + task + "'");
  }

  std::unique_ptr<bigbird::tasks::TaskModel> tm_;
};

class SummarizerRunner {
 public:
  SummarizerRunner(const std::string& model, const std::string& tokenizer) {
    s_ = load_checked([&] { return bigbird::tasks::Summarizer::load(model, tokenizer); });
  }

  // [answers, warnings]: one [{"summary_text": ...}] per text, and HF's warnings (truncation, settings).
  py::tuple run(const std::vector<std::string>& texts, const py::dict& options) const {
    const json o = from_py(options);
    std::vector<bigbird::tasks::SummaryJob> jobs(texts.size());
    std::vector<std::string> warnings;
    {
      py::gil_scoped_release nogil;
      const bigbird::cli::CommonOptions c = common_options(o);
      bigbird::tasks::SummarizeOptions so;
      so.generation = generation_config(o, s_->default_generation());
      bigbird::validate_generation(so.generation, s_->model().config().vocab_size, 1);
      get(o, "truncation", &so.truncation);
      get(o, "clean_up_tokenization_spaces", &so.clean_up_tokenization_spaces);
      get(o, "batch_size", &so.batch_size);
      so.plan_source = c.plan_source();
      so.seed = c.seed;
      so.attention = c.attention_type();
      so.precision = c.precision();
      so.threading = c.threading();
      std::vector<bigbird::tasks::SummaryJob*> ptrs;
      for (size_t i = 0; i < texts.size(); ++i) {
        jobs[i].input = s_->prepare(texts[i], so);
        if (jobs[i].input.truncated())
          warnings.push_back("the input is " + std::to_string(jobs[i].input.full_length) + " tokens long, truncated to " +
                             std::to_string(jobs[i].input.input_ids.size()) + " (the model's limit)");
        ptrs.push_back(&jobs[i]);
      }
      bigbird::tasks::summarize_jobs(*s_, ptrs, so);
      for (const auto& j : jobs)
        for (const auto& w : j.warnings)
          if (std::find(warnings.begin(), warnings.end(), w) == warnings.end()) warnings.push_back(w);
    }
    py::list answers;
    for (const auto& j : jobs) answers.append(to_py(j.answer));
    return py::make_tuple(answers, warnings);
  }

 private:
  std::unique_ptr<bigbird::tasks::Summarizer> s_;
};

// A BigBird or BigBird-Pegasus checkpoint for `forward` and (Pegasus) `generate`.
class ModelRunner {
 public:
  ModelRunner(const std::string& dir, const py::dict& options) : dir_(dir), defaults_(from_py(options)) {
    common_options(defaults_);  // a bad dtype / threads fails here, as the CLI fails before loading
    if (!std::filesystem::is_directory(dir)) throw MissingFile("model directory '" + dir + "' does not exist");
    type_ = model_type_of(dir);
    BB_CHECK(type_ == "big_bird" || type_ == "bigbird_pegasus", "model_type '", type_,
             "' is not supported (supported: big_bird, bigbird_pegasus)");
    if (type_ == "big_bird") encoder_ = load_checked([&] { return bigbird::BigBirdModel::load(dir); });
    else pegasus_ = load_checked([&] { return bigbird::PegasusModel::load(dir); });
  }

  const std::string& model_type() const { return type_; }

  py::dict forward(const py::object& input_ids, const py::object& attention_mask, const py::object& token_type_ids,
                   const py::object& decoder_input_ids, const py::object& decoder_attention_mask,
                   int generate_steps, const py::dict& options) const {
    BB_CHECK(!input_ids.is_none(), "input_ids is required");
    bigbird::EncoderInput ei;
    ei.input_ids = ids_of(input_ids, "input_ids");
    ei.attention_mask = ids_of(attention_mask, "attention_mask", &ei.input_ids.shape);
    ei.token_type_ids = ids_of(token_type_ids, "token_type_ids", &ei.input_ids.shape);
    const bigbird::TensorI64 dec = ids_of(decoder_input_ids, "decoder_input_ids");
    const bigbird::TensorI64 dec_mask = ids_of(decoder_attention_mask, "decoder_attention_mask");
    const json o = merged(options);
    std::vector<bigbird::OutTensor> out;
    {
      py::gil_scoped_release nogil;
      const bigbird::cli::CommonOptions c = common_options(o);
      if (encoder_) {
        BB_CHECK(decoder_input_ids.is_none() && decoder_attention_mask.is_none() && generate_steps == 0,
                 "decoder inputs and generate_steps need a bigbird_pegasus checkpoint; this one is ", type_);
        out = bigbird::encoder_forward_outputs(*encoder_, std::move(ei), c.forward_options(), c.threading(), "inputs");
      } else {
        BB_CHECK(token_type_ids.is_none(), "token_type_ids: a bigbird_pegasus checkpoint takes none");
        out = bigbird::pegasus_forward_outputs(*pegasus_, ei, decoder_input_ids.is_none() ? nullptr : &dec,
                                               decoder_attention_mask.is_none() ? nullptr : &dec_mask,
                                               c.forward_options(), generate_steps, c.threading(), "inputs");
      }
    }
    py::dict d;
    for (auto& t : out) d[py::str(t.name)] = numpy_of(t.dtype, t.shape, std::move(t.bytes));
    return d;
  }

  // [outputs, warnings]: sequences (+ sequences_scores, beam_indices for beam search) as
  // `bigbird generate` writes them, and HF's warnings for the settings.
  py::tuple generate(const py::object& input_ids, const py::object& attention_mask,
                     const py::object& decoder_input_ids, const py::dict& options) const {
    BB_CHECK(pegasus_ != nullptr, "generate needs a bigbird_pegasus checkpoint; this one is ", type_);
    BB_CHECK(!input_ids.is_none(), "input_ids is required");
    bigbird::EncoderInput ei;
    ei.input_ids = ids_of(input_ids, "input_ids");
    ei.attention_mask = ids_of(attention_mask, "attention_mask", &ei.input_ids.shape);
    const bigbird::TensorI64 prompt = ids_of(decoder_input_ids, "decoder_input_ids");
    const bool has_prompt = !decoder_input_ids.is_none();
    if (has_prompt)
      BB_CHECK(prompt.dim(0) == ei.input_ids.dim(0) && prompt.dim(1) >= 1, "decoder_input_ids must be [",
               ei.input_ids.dim(0), ", length >= 1] (one row per input), got ", bigbird::to_string(prompt.shape));
    const json o = merged(options);
    bigbird::GenerationResult r;
    int64_t num_beams = 1;
    {
      py::gil_scoped_release nogil;
      const bigbird::cli::CommonOptions c = common_options(o);
      const bigbird::BigBirdPegasusConfig& cfg = pegasus_->config();
      const bigbird::GenerationConfig g =
          generation_config(o, bigbird::GenerationConfig::from_defaults(cfg.generation));
      bigbird::validate_generation(g, cfg.vocab_size, has_prompt ? prompt.dim(1) : 1);
      num_beams = g.num_beams;
      const bigbird::ThreadingContext ctx = c.threading();
      const bigbird::PegasusEncoderOutput enc = pegasus_->encode(ei, c.forward_options(), ctx);
      r = bigbird::pegasus_generate(*pegasus_, enc, g, ctx, has_prompt ? &prompt : nullptr);
    }
    py::dict d;
    const bigbird::Shape seq_shape = r.sequences.shape;
    d["sequences"] = numpy_of(std::move(r.sequences.data), seq_shape);
    if (num_beams > 1) {
      const bigbird::Shape s{static_cast<int64_t>(r.sequences_scores.size())};
      d["sequences_scores"] = numpy_of(std::move(r.sequences_scores), s);
      const bigbird::Shape b = r.beam_indices.shape;
      d["beam_indices"] = numpy_of(std::move(r.beam_indices.data), b);
    }
    return py::make_tuple(d, r.warnings);
  }

 private:
  // The call's options over from_pretrained's (dtype, threads).
  json merged(const py::dict& options) const {
    json o = defaults_;
    const json call = from_py(options);
    for (const auto& [k, v] : call.items()) o[k] = v;
    return o;
  }

  std::string dir_, type_;
  json defaults_;
  std::unique_ptr<bigbird::BigBirdModel> encoder_;
  std::unique_ptr<bigbird::PegasusModel> pegasus_;
};

}  // namespace

PYBIND11_MODULE(_bigbird, m) {
  m.doc() = "bigbird.cpp bindings (use the `bigbird` package, not this module)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const MissingFile& e) {
      PyErr_SetString(PyExc_FileNotFoundError, e.what());
    } catch (const Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const nlohmann::json::exception& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    }
  });

  py::class_<TaskRunner>(m, "TaskRunner")
      .def(py::init<const std::string&, const std::string&, bool>())
      .def("run", &TaskRunner::run)
      .def("decode", &TaskRunner::decode)
      .def_property_readonly("model_max_length", &TaskRunner::model_max_length);
  py::class_<SummarizerRunner>(m, "SummarizerRunner")
      .def(py::init<const std::string&, const std::string&>())
      .def("run", &SummarizerRunner::run);
  py::class_<ModelRunner>(m, "ModelRunner")
      .def(py::init<const std::string&, const py::dict&>())
      .def_property_readonly("model_type", &ModelRunner::model_type)
      .def("forward", &ModelRunner::forward)
      .def("generate", &ModelRunner::generate);
}
