#include "train/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/temp_files.h"
#include "core/safetensors.h"
#include "layers/encoder_layer.h"
#include "layers/gradients.h"
#include "models/bigbird_model.h"
#include "sparse/plan_io.h"
#include "text/tokenizer.h"
#include "train/checkpoint.h"
#include "train/comm.h"
#include "train/data.h"
#include "train/metrics.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace bigbird::train {

namespace fs = std::filesystem;

namespace {

Architecture task_architecture(const std::string& task) {
  if (task == "mlm") return Architecture::MaskedLM;
  if (task == "text-classification") return Architecture::SequenceClassification;
  if (task == "token-classification") return Architecture::TokenClassification;
  if (task == "question-answering") return Architecture::QuestionAnswering;
  fail("unknown --task '", task, "' (mlm, text-classification, token-classification, question-answering)");
}

bool compatible(Architecture model, Architecture task) {
  return model == task || (task == Architecture::MaskedLM && model == Architecture::PreTraining);
}

}  // namespace

namespace {

void train_on_batch(const TrainArgs& a, const ThreadingContext& ctx) {
  BB_CHECK(a.max_steps > 0, "--max-steps must be given and positive with a pre-tokenised --train-file");
  const Architecture task = task_architecture(a.task);
  const LrSchedule schedule = parse_lr_schedule(a.lr_scheduler_type);
  const LabelledBatch batch = read_labelled_batch(a.train_file);
  auto model = BigBirdModel::load(a.model, a.config_overrides);
  BB_CHECK(compatible(model->architecture(), task), "--task ", a.task, " needs a ", architecture_name(task),
           " checkpoint; '", a.model, "' is a ", architecture_name(model->architecture()));
  for (const auto& [layer, p] : batch.plans)
    BB_CHECK(layer < model->config().num_hidden_layers, "'", a.train_file, "': rand_attn.layer", layer,
             " but the model has ", model->config().num_hidden_layers, " layers");
  ForwardOptions fo = a.forward;
  fo.injected_plans = batch.plans;

  const auto params = model->make_trainable();
  AdamWConfig cfg;
  cfg.beta1 = a.adam_beta1, cfg.beta2 = a.adam_beta2, cfg.eps = a.adam_epsilon, cfg.weight_decay = a.weight_decay;
  AdamW opt(cfg);
  std::vector<OutTensor> trace;
  GradientPool pool(&ctx);  // gradient buffers and activations, reused from step to step
  TrainWorkspace work;
  auto scalar = [&](const std::string& name, double v) {
    const float f = static_cast<float>(v);
    trace.push_back(OutTensor::f32(name, Shape{1}, &f));
  };
  for (int64_t step = 0; step < a.max_steps; ++step) {
    TrainingOptions to;  // training mode: dropout (the config's rates) and checkpointing as asked
    to.gradient_checkpointing = a.gradient_checkpointing;
    to.dropout = true;
    to.dropout_seed = a.seed;
    to.step = static_cast<uint64_t>(step);
    to.pool = &pool;
    to.workspace = &work;
    GradOutput g = model->loss_and_grads(batch.in, batch.labels, fo, ctx, to);
    std::vector<std::pair<float*, int64_t>> grads;
    std::vector<Param> ps;
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor& t = g.grads[i].second;
      const bool has = g.reached[i] != 0;
      if (has) grads.emplace_back(t.ptr(), t.size());
      ps.push_back(
          {params[i].first, params[i].second, has ? t.ptr() : nullptr, t.size(), hf_weight_decay(params[i].first)});
    }
    const double norm = clip_grad_norm(grads, a.max_grad_norm, ctx);
    const double lr = lr_at(schedule, a.learning_rate, step, a.warmup_steps, a.max_steps);
    opt.step(ps, lr, ctx);
    scalar("loss.step" + std::to_string(step), g.loss);
    scalar("grad_norm.step" + std::to_string(step), norm);
    for (auto& [name, t] : g.grads) pool.give(std::move(t.data));
    if (step == 0)
      for (const auto& [name, p] : model->named_parameters())
        trace.push_back(OutTensor::f32("param_step1." + name, p.shape, p.data));
    if (a.logging_steps > 0 && ((step + 1) % a.logging_steps == 0 || step + 1 == a.max_steps))
      std::fprintf(stderr, "{\"step\": %lld, \"loss\": %.7g, \"grad_norm\": %.7g, \"learning_rate\": %.7g}\n",
                   static_cast<long long>(step + 1), static_cast<double>(g.loss), norm, lr);
  }
  const float final_loss = model->loss_and_grads(batch.in, batch.labels, fo, ctx).loss;
  std::fprintf(stderr, "{\"step\": %lld, \"final_loss\": %.7g}\n", static_cast<long long>(a.max_steps),
               static_cast<double>(final_loss));

  fs::create_directories(a.output_dir);
  model->save(a.output_dir, (fs::path(a.model) / "config.json").string());
  copy_tokenizer_files(a.model, a.output_dir);
  if (!a.trace.empty()) {
    scalar("loss.final", final_loss);
    for (const auto& [name, p] : model->named_parameters())
      trace.push_back(OutTensor::f32("param." + name, p.shape, p.data));
    std::map<std::string, Shape> shapes;
    for (const auto& [name, p] : model->named_parameters()) shapes[name] = p.shape;
    for (OutTensor& t : opt.state_tensors()) {  // exp_avg.<name>, exp_avg_sq.<name>, shaped as the parameter
      if (t.name.rfind("exp_avg", 0) != 0) continue;
      t.shape = shapes.at(t.name.substr(t.name.find('.') + 1));
      trace.push_back(std::move(t));
    }
    write_safetensors(a.trace, trace);
  }
}

// ------------------------------------------------------------------------- text data

struct Data {
  std::vector<Example> examples;
  std::vector<std::string> id2label;
  std::string problem;  // HF problem_type for sequence classification
  int64_t num_labels = 0;
  std::vector<QaRecord> qa_records;  // question answering: the examples the features come from
};

// The task's row length: --max-seq-length, else HF's example scripts' defaults, never more than
// the model's positions.
int64_t resolved_max_seq_length(const TrainArgs& a, Architecture arch, const Tokenizer& tok, const BigBirdConfig& cfg) {
  int64_t len = a.max_seq_length;
  if (len <= 0) {
    switch (arch) {
      case Architecture::MaskedLM:
        len = tok.model_max_length() > 0 ? std::min<int64_t>(tok.model_max_length(), 1024) : 1024;
        break;
      case Architecture::SequenceClassification: len = 128; break;
      case Architecture::TokenClassification: len = 512; break;
      default: len = 384; break;
    }
  }
  return std::min(len, cfg.max_position_embeddings);
}

Data load_data(const TrainArgs& a, const std::string& path, Architecture arch, const Tokenizer& tok, int64_t len,
               const std::vector<std::string>& known_labels) {
  Data d;
  std::map<std::string, int64_t> label2id;
  for (size_t i = 0; i < known_labels.size(); ++i) label2id[known_labels[i]] = static_cast<int64_t>(i);
  switch (arch) {
    case Architecture::MaskedLM: d.examples = load_mlm_corpus(path, tok, len, 1000, a.text_column); break;
    case Architecture::SequenceClassification: {
      ClassificationOptions o;
      o.max_seq_length = len;
      o.text_column = a.text_column;
      o.label_column = a.label_column;
      o.label2id = label2id;
      ClassificationData cd = load_classification(path, tok, o);
      d.examples = std::move(cd.examples);
      d.id2label = cd.id2label;
      d.num_labels = cd.num_labels;
      d.problem = problem_type_name(cd.problem);
      break;
    }
    case Architecture::TokenClassification: {
      TokenClassificationOptions o;
      o.max_seq_length = len;
      o.label2id = label2id;
      TokenClassificationData td = load_token_classification(path, tok, o);
      d.examples = std::move(td.examples);
      d.id2label = td.id2label;
      d.num_labels = static_cast<int64_t>(td.id2label.size());
      break;
    }
    case Architecture::QuestionAnswering: {
      QaOptions o;
      o.max_seq_length = len;
      o.doc_stride = a.doc_stride;
      d.examples = load_qa(path, tok, o);
      d.qa_records = read_qa_records(path);
      break;
    }
    default: fail("no data loader for ", architecture_name(arch));
  }
  BB_CHECK(!d.examples.empty(), "'", path, "': no training example");
  return d;
}

// Examples idx of `ex`, padded to their longest row (pad id, mask 0, type 0, labels -100), as
// HF's collators pad.
LabelledBatch make_batch(const std::vector<Example>& ex, const std::vector<size_t>& idx, Architecture arch,
                         int64_t pad_id, const MaskingInfo* mlm, uint64_t seed, int64_t epoch) {
  const int64_t b = static_cast<int64_t>(idx.size());
  int64_t L = 1;
  for (size_t i : idx) L = std::max<int64_t>(L, static_cast<int64_t>(ex[i].input_ids.size()));
  LabelledBatch out;
  out.in.input_ids = TensorI64(Shape{b, L}, pad_id);
  out.in.attention_mask = TensorI64(Shape{b, L}, 0);
  out.in.token_type_ids = TensorI64(Shape{b, L}, 0);
  const bool per_token = arch == Architecture::MaskedLM || arch == Architecture::TokenClassification;
  if (per_token) out.labels.labels = TensorI64(Shape{b, L}, kIgnoreIndex);
  if (arch == Architecture::QuestionAnswering) {
    out.labels.start_positions = TensorI64(Shape{b});
    out.labels.end_positions = TensorI64(Shape{b});
  }
  for (int64_t r = 0; r < b; ++r) {
    const size_t i = idx[static_cast<size_t>(r)];
    const Example e = mlm ? mask_tokens(ex[i], *mlm, seed, epoch, static_cast<int64_t>(i)) : ex[i];
    const int64_t n = static_cast<int64_t>(e.input_ids.size());
    for (int64_t t = 0; t < n; ++t) {
      const size_t o = static_cast<size_t>(r * L + t), s = static_cast<size_t>(t);
      out.in.input_ids.data[o] = e.input_ids[s];
      out.in.attention_mask.data[o] = e.attention_mask.empty() ? 1 : e.attention_mask[s];
      out.in.token_type_ids.data[o] = e.token_type_ids.empty() ? 0 : e.token_type_ids[s];
      if (per_token) out.labels.labels.data[o] = e.labels[s];
    }
    if (arch == Architecture::SequenceClassification) {
      if (!e.float_labels.empty())
        out.labels.float_labels.data.insert(out.labels.float_labels.data.end(), e.float_labels.begin(),
                                            e.float_labels.end());
      else out.labels.labels.data.push_back(e.labels.at(0));
    }
    if (arch == Architecture::QuestionAnswering) {
      out.labels.start_positions.data[static_cast<size_t>(r)] = e.start_position;
      out.labels.end_positions.data[static_cast<size_t>(r)] = e.end_position;
    }
  }
  if (arch == Architecture::SequenceClassification) {
    if (!out.labels.labels.data.empty()) out.labels.labels.shape = Shape{b};
    if (!out.labels.float_labels.data.empty())
      out.labels.float_labels.shape = Shape{b, static_cast<int64_t>(out.labels.float_labels.data.size()) / b};
  }
  return out;
}

// What the loss of a batch is a mean over: labelled tokens (MLM, token classification), else rows.
// Ranks weight their gradients by their share of the global batch's count.
double loss_count(const LabelledBatch& b, Architecture arch) {
  if (arch == Architecture::MaskedLM || arch == Architecture::TokenClassification)
    return static_cast<double>(std::count_if(b.labels.labels.data.begin(), b.labels.labels.data.end(),
                                             [](int64_t v) { return v != kIgnoreIndex; }));
  return static_cast<double>(b.in.input_ids.dim(0));
}

double real_tokens(const LabelledBatch& b) {
  return static_cast<double>(std::count(b.in.attention_mask.data.begin(), b.in.attention_mask.data.end(), 1));
}

// A permutation of [0, n) that depends only on (seed, epoch): Fisher-Yates on SplitMix64.
std::vector<size_t> shuffled(size_t n, uint64_t seed, int64_t epoch) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  uint64_t state = seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(epoch) + 1;
  auto next = [&] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  for (size_t i = n; i > 1; --i) std::swap(p[i - 1], p[next() % i]);
  return p;
}

// HF's evaluation metrics on a data set (batches of 8, in order), as JSON fields: eval_loss for
// every task; MLM perplexity; sequence classification accuracy and macro F1 (single-label);
// token classification seqeval's overall precision / recall / f1 / accuracy on the words' first
// sub-tokens; question answering SQuAD exact match and F1 of run_qa's best spans.
nlohmann::json evaluate(const BigBirdModel& model, const Data& d, Architecture arch, int64_t pad_id,
                        const MaskingInfo* mlm, uint64_t seed, const ForwardOptions& fo, const ThreadingContext& ctx) {
  double loss = 0;
  int64_t batches = 0, correct = 0, total = 0;
  std::map<int64_t, std::array<int64_t, 3>> per_label;  // tp, fp, fn
  std::vector<std::vector<std::string>> gold_tags, predicted_tags;
  std::vector<Tensor> qa_rows(d.examples.size());  // QA: each feature's [L, 2] logits
  auto label_name = [&](int64_t id) {
    return id >= 0 && id < static_cast<int64_t>(d.id2label.size()) ? d.id2label[static_cast<size_t>(id)]
                                                                   : std::to_string(id);
  };
  for (size_t s = 0; s < d.examples.size(); s += 8) {
    std::vector<size_t> idx;
    for (size_t i = s; i < std::min(d.examples.size(), s + 8); ++i) idx.push_back(i);
    const LabelledBatch b = make_batch(d.examples, idx, arch, pad_id, mlm, seed, 0);
    loss += model.loss_and_grads(b.in, b.labels, fo, ctx).loss;
    ++batches;
    if (arch == Architecture::MaskedLM) continue;
    const Tensor seq = model.encode(b.in, fo, ctx).sequence_output;
    const int64_t L = seq.dim(1);
    if (arch == Architecture::SequenceClassification && !b.labels.labels.data.empty()) {
      const Tensor logits = model.sequence_classification_logits(seq, ctx);
      const int64_t nl = logits.dim(1);
      for (int64_t r = 0; r < logits.dim(0); ++r) {
        const float* row = logits.ptr() + r * nl;
        const int64_t pred = std::max_element(row, row + nl) - row, gold = b.labels.labels.data[static_cast<size_t>(r)];
        correct += pred == gold, ++total;
        if (pred == gold) ++per_label[gold][0];
        else ++per_label[pred][1], ++per_label[gold][2];
      }
    }
    if (arch == Architecture::TokenClassification) {
      const Tensor logits = model.token_classification_logits(seq, ctx);
      const int64_t nl = logits.dim(2);
      for (size_t r = 0; r < idx.size(); ++r) {
        std::vector<std::string> g, p;
        for (int64_t t = 0; t < L; ++t) {
          const int64_t gold = b.labels.labels.data[r * static_cast<size_t>(L) + static_cast<size_t>(t)];
          if (gold == kIgnoreIndex) continue;
          const float* row = logits.ptr() + (static_cast<int64_t>(r) * L + t) * nl;
          g.push_back(label_name(gold)), p.push_back(label_name(std::max_element(row, row + nl) - row));
        }
        gold_tags.push_back(std::move(g)), predicted_tags.push_back(std::move(p));
      }
    }
    if (arch == Architecture::QuestionAnswering) {
      const Tensor logits = model.qa_logits(seq, ctx);
      for (size_t r = 0; r < idx.size(); ++r) {
        Tensor t(Shape{L, 2});
        std::copy_n(logits.ptr() + static_cast<int64_t>(r) * L * 2, L * 2, t.ptr());
        qa_rows[idx[r]] = std::move(t);
      }
    }
  }
  const double mean = loss / static_cast<double>(std::max<int64_t>(batches, 1));
  nlohmann::json out = {{"eval_loss", mean}};
  if (arch == Architecture::MaskedLM) out["perplexity"] = std::exp(mean);
  if (total > 0) out["eval_accuracy"] = static_cast<double>(correct) / static_cast<double>(total);
  if (!per_label.empty()) {
    double f1 = 0;
    for (const auto& [label, c] : per_label) {
      const double p = c[0] + c[1] ? double(c[0]) / double(c[0] + c[1]) : 0,
                   r = c[0] + c[2] ? double(c[0]) / double(c[0] + c[2]) : 0;
      f1 += p + r > 0 ? 2 * p * r / (p + r) : 0;
    }
    out["eval_macro_f1"] = f1 / static_cast<double>(per_label.size());
  }
  if (arch == Architecture::TokenClassification) {
    const EntityScores e = entity_scores(gold_tags, predicted_tags);
    out["eval_precision"] = e.precision, out["eval_recall"] = e.recall, out["eval_f1"] = e.f1;
    out["eval_accuracy"] = e.accuracy;
  }
  if (arch == Architecture::QuestionAnswering) {
    // Split the logits back into start / end rows and group the features by example.
    std::vector<std::vector<float>> starts(qa_rows.size()), ends(qa_rows.size());
    std::vector<std::vector<QaFeatureView>> features(d.qa_records.size());
    for (size_t i = 0; i < qa_rows.size(); ++i) {
      const int64_t L = qa_rows[i].dim(0);
      for (int64_t t = 0; t < L; ++t)
        starts[i].push_back(qa_rows[i].data[static_cast<size_t>(2 * t)]),
            ends[i].push_back(qa_rows[i].data[static_cast<size_t>(2 * t + 1)]);
      const int64_t ex = d.examples[i].example_index;
      BB_CHECK(ex >= 0 && ex < static_cast<int64_t>(features.size()), "QA feature ", i, " has no example");
      features[static_cast<size_t>(ex)].push_back({starts[i].data(), ends[i].data(), L, &d.examples[i].offsets});
    }
    std::vector<std::string> answers;
    std::vector<std::vector<std::string>> gold;
    for (size_t e = 0; e < d.qa_records.size(); ++e) {
      if (d.qa_records[e].answer_texts.empty()) continue;  // SQuAD v1.1 scores answerable questions
      answers.push_back(best_answer(d.qa_records[e].context, features[e]));
      gold.push_back(d.qa_records[e].answer_texts);
    }
    const SquadScores q = squad_scores(answers, gold);
    out["eval_exact_match"] = q.exact_match, out["eval_f1"] = q.f1;
  }
  return out;
}

// Ctrl-C / SIGTERM / SIGHUP during training: the flag is read between optimizer steps (the run
// saves a checkpoint and stops); a second signal ends the process at once.
volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int sig) {
  if (g_stop_signal != 0) {
    remove_temp_files_on_signal(sig);  // an output being written: its temporary file
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_stop_signal = sig;
}

class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    for (size_t i = 0; i < kSignals.size(); ++i) old_[i] = std::signal(kSignals[i], on_stop_signal);
  }
  ~StopSignals() {
    for (size_t i = 0; i < kSignals.size(); ++i) std::signal(kSignals[i], old_[i] == SIG_ERR ? SIG_DFL : old_[i]);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  static constexpr std::array<int, 3> kSignals{SIGINT, SIGTERM, SIGHUP};
  std::array<void (*)(int), 3> old_{};
};

std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  const int64_t t = static_cast<int64_t>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(t / 3600),
                  static_cast<long long>(t / 60 % 60), static_cast<long long>(t % 60));
  else std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(t / 60), static_cast<long long>(t % 60));
  return buf;
}

void train_on_data(const TrainArgs& a, const ThreadingContext& ctx) {
  BB_CHECK(a.per_device_train_batch_size > 0 && a.gradient_accumulation_steps > 0,
           "--per-device-train-batch-size and --gradient-accumulation-steps must be positive");
  BB_CHECK(a.max_steps > 0 || a.num_train_epochs > 0, "give --max-steps or a positive --num-train-epochs");
  const std::unique_ptr<Communicator> comm = make_communicator();
  const int rank = comm->rank(), world = comm->size();
  const bool lead = rank == 0;
  const Architecture arch = task_architecture(a.task);

  // Where the model, its config and its tokenizer come from: a checkpoint to resume, a model
  // directory, or a config file (from scratch, with --tokenizer).
  std::optional<LoadedCheckpoint> resume;
  if (!a.resume_from_checkpoint.empty()) resume = read_checkpoint(a.resume_from_checkpoint);
  const std::string model_dir = resume ? resume->dir : a.model;
  const std::string source_config = !model_dir.empty() ? (fs::path(model_dir) / "config.json").string() : a.config;
  const std::string tokenizer_dir = !a.tokenizer.empty() ? a.tokenizer : !a.model.empty() ? a.model : model_dir;
  BB_CHECK(!tokenizer_dir.empty(), "--config needs --tokenizer DIR (a model directory with the tokenizer files)");
  auto tok = Tokenizer::load(tokenizer_dir);
  const BigBirdConfig source = load_bigbird_config(source_config, a.config_overrides);
  const Architecture source_arch = model_dir.empty() ? arch : parse_architecture(source.architectures);
  std::vector<std::string> known;  // the checkpoint's own labels, when it already has this head
  if (source_arch == arch)
    for (const auto& [i, name] : source.id2label) known.push_back(name);
  if (model_dir.empty()) known.clear();  // a config's default LABEL_0.. names are not a label set
  const int64_t len = resolved_max_seq_length(a, arch, *tok, source);
  Data train = load_data(a, a.train_file, arch, *tok, len, known);
  Data valid;
  if (!a.validation_file.empty() && lead) valid = load_data(a, a.validation_file, arch, *tok, len, train.id2label);

  std::unique_ptr<BigBirdModel> model;
  if (model_dir.empty()) {
    BigBirdConfig cfg = source;
    if (train.num_labels > 0) cfg.num_labels = train.num_labels;
    if (arch == Architecture::QuestionAnswering) cfg.num_labels = 2;
    model = BigBirdModel::random_for_training(cfg, arch, a.seed);
  } else {
    std::vector<std::string> fresh;
    model = BigBirdModel::load_for_training(model_dir, arch, train.num_labels, a.seed, &fresh, a.config_overrides);
    if (!fresh.empty() && lead)
      std::fprintf(stderr, "note: %zu weights of %s are newly initialised (e.g. %s), as HF initialises a new head\n",
                   fresh.size(), architecture_name(arch), fresh.front().c_str());
  }
  if (arch == Architecture::SequenceClassification || arch == Architecture::TokenClassification)
    model->set_labels(train.id2label, arch == Architecture::SequenceClassification ? train.problem : "");
  const int64_t pad_id = model->config().pad_token_id;
  const MaskingInfo info = MaskingInfo::from(*tok);
  const MaskingInfo* mlm = arch == Architecture::MaskedLM ? &info : nullptr;

  const int64_t n = static_cast<int64_t>(train.examples.size()), bs = a.per_device_train_batch_size;
  const int64_t global_bs = bs * world, accum = a.gradient_accumulation_steps;
  const int64_t batches_per_epoch = (n + global_bs - 1) / global_bs;
  const int64_t updates_per_epoch = std::max<int64_t>(1, batches_per_epoch / accum);
  const int64_t total =
      a.max_steps > 0 ? a.max_steps : static_cast<int64_t>(std::ceil(a.num_train_epochs * updates_per_epoch));
  const LrSchedule schedule = parse_lr_schedule(a.lr_scheduler_type);
  lr_at(schedule, a.learning_rate, 0, a.warmup_steps, total);  // HF's checks (e.g. polynomial lr_end) up front
  const auto params = model->make_trainable();
  AdamWConfig cfg;
  cfg.beta1 = a.adam_beta1, cfg.beta2 = a.adam_beta2, cfg.eps = a.adam_epsilon, cfg.weight_decay = a.weight_decay;
  AdamW opt(cfg);

  TrainerState state;
  state.identity = {a.task, a.seed, global_bs, accum, n, len};
  state.extra["lr_scheduler"] = {{"type", lr_schedule_name(schedule)},
                                 {"learning_rate", a.learning_rate},
                                 {"warmup_steps", a.warmup_steps},
                                 {"total_steps", total}};
  TrainPosition& pos = state.position;
  if (resume) {
    check_same_run(resume->state.identity, state.identity, resume->dir);
    pos = resume->state.position;
    load_optimizer_state(resume->dir, opt);
    BB_CHECK(pos.step <= total, "--resume-from-checkpoint '", resume->dir, "' is at step ", pos.step,
             ", past this run's ", total, " steps");
  }
  nlohmann::json log_history = resume && resume->state.extra.contains("log_history")
                                   ? resume->state.extra["log_history"]
                                   : nlohmann::json::array();
  const bool progress = a.progress && lead && ::isatty(STDERR_FILENO);
  auto log = [&](const nlohmann::ordered_json& line) {
    log_history.push_back(nlohmann::json::parse(line.dump()));
    if (!lead) return;
    if (progress) std::fputs("\r\033[K", stderr);
    std::fprintf(stderr, "%s\n", line.dump().c_str());
    std::fflush(stderr);
  };
  if (lead)
    log(nlohmann::ordered_json{{"examples", n},
                               {"processes", world},
                               {"global_batch_size", global_bs},
                               {"steps", total},
                               {"start_step", pos.step},
                               {"parameters", params.size()}});

  auto save = [&](const std::string& dir) {
    if (!lead) return;
    state.extra["log_history"] = log_history;
    save_checkpoint(dir, *model, source_config, tokenizer_dir, opt, state);
  };
  auto evaluate_and_log = [&](int64_t step) {
    if (!lead || valid.examples.empty()) return;
    nlohmann::ordered_json j = {{"step", step}};
    ForwardOptions efo = a.forward;
    efo.plan_source = a.eval_plan_source;
    const nlohmann::json e = evaluate(*model, valid, arch, pad_id, mlm, a.seed, efo, ctx);
    for (auto it = e.begin(); it != e.end(); ++it) j[it.key()] = *it;
    log(j);
  };

  StopSignals signals;
  std::vector<size_t> order = shuffled(static_cast<size_t>(n), a.seed, pos.epoch);
  const auto started = std::chrono::steady_clock::now();
  const int64_t first_step = pos.step;
  double tokens_here = 0;
  GradientPool pool(&ctx);  // gradient buffers and activations, reused from step to step
  TrainWorkspace work;
  for (int64_t step = pos.step; step < total; ++step) {
    std::vector<Tensor> sum(params.size());
    std::vector<float> reached(params.size(), 0.0f);
    double loss = 0;
    for (int64_t micro = 0; micro < accum; ++micro) {
      if (pos.cursor >= n) pos.cursor = 0, order = shuffled(static_cast<size_t>(n), a.seed, ++pos.epoch);
      // This rank's slice of the global batch [cursor, cursor + global_bs).
      const int64_t end = std::min(n, pos.cursor + global_bs);
      const int64_t lo = std::min(end, pos.cursor + rank * bs), hi = std::min(end, lo + bs);
      std::vector<size_t> idx(order.begin() + lo, order.begin() + hi);
      const int64_t epoch = pos.epoch;
      pos.cursor += global_bs;
      std::optional<LabelledBatch> b;
      double counts[2] = {0, 0};  // labelled count, real tokens: summed over ranks
      if (!idx.empty()) {
        b = make_batch(train.examples, idx, arch, pad_id, mlm, a.seed, epoch);
        counts[0] = loss_count(*b, arch), counts[1] = real_tokens(*b);
      }
      const double mine = counts[0];
      if (world > 1) comm->allreduce_sum(counts, 2);
      pos.tokens += counts[1], tokens_here += counts[1];
      if (!b || mine == 0) continue;
      ForwardOptions fo = a.forward;
      fo.seed = a.forward.seed + static_cast<uint64_t>(step) * 1000003ull;  // seeded plans: fresh per step
      TrainingOptions to;  // HF's training mode: dropout on, masks from (seed, step, micro-batch, rank)
      to.gradient_checkpointing = a.gradient_checkpointing;
      to.dropout = true;
      to.dropout_seed = a.seed ^ (static_cast<uint64_t>(rank) << 48);
      to.step = static_cast<uint64_t>(step * accum + micro);
      to.pool = &pool;
      to.workspace = &work;
      GradOutput g = model->loss_and_grads(b->in, b->labels, fo, ctx, to);
      // HF: each micro-batch's mean loss / accumulation steps; across ranks, weighted by the share
      // of the global batch's labelled tokens (1 in a single process).
      const float k = static_cast<float>((world > 1 ? mine / counts[0] : 1.0) / static_cast<double>(accum));
      loss += g.loss * static_cast<double>(k);
      for (size_t i = 0; i < params.size(); ++i) {
        Tensor& t = g.grads[i].second;
        if (!g.reached[i]) continue;
        reached[i] = 1.0f;
        if (sum[i].data.empty()) {
          if (k == 1.0f) {
            sum[i] = std::move(t);
            continue;
          }
          sum[i] = Tensor(t.shape);
        }
        for (size_t j = 0; j < t.data.size(); ++j) sum[i].data[j] += k == 1.0f ? t.data[j] : t.data[j] * k;
      }
      for (auto& [name, t] : g.grads) pool.give(std::move(t.data));  // what was not moved into sum
    }
    if (world > 1) {
      comm->allreduce_sum(&loss, 1);
      comm->allreduce_sum(reached.data(), static_cast<int64_t>(reached.size()));
      for (size_t i = 0; i < params.size(); ++i) {
        if (reached[i] == 0.0f) continue;
        if (sum[i].data.empty())
          sum[i] = Tensor(Shape{static_cast<int64_t>(numel(model->named_parameters()[i].second.shape))});
        comm->allreduce_sum(sum[i].ptr(), sum[i].size());
      }
    }
    std::vector<std::pair<float*, int64_t>> grads;
    std::vector<Param> ps;
    for (size_t i = 0; i < params.size(); ++i) {
      const bool has = reached[i] != 0.0f;
      if (has) grads.emplace_back(sum[i].ptr(), sum[i].size());
      ps.push_back({params[i].first, params[i].second, has ? sum[i].ptr() : nullptr,
                    static_cast<int64_t>(numel(model->named_parameters()[i].second.shape)),
                    hf_weight_decay(params[i].first)});
    }
    const double norm = clip_grad_norm(grads, a.max_grad_norm, ctx);
    const double lr = lr_at(schedule, a.learning_rate, step, a.warmup_steps, total);
    opt.step(ps, lr, ctx);
    for (Tensor& t : sum) pool.give(std::move(t.data));
    pos.step = step + 1;

    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double per_step = elapsed / static_cast<double>(pos.step - first_step);
    const double eta = per_step * static_cast<double>(total - pos.step);
    const double epoch_f = static_cast<double>(pos.epoch) + static_cast<double>(std::min(pos.cursor, n)) / n;
    if (progress) {
      const int width = 24, filled = static_cast<int>(width * pos.step / total);
      std::fprintf(stderr, "\r\033[K%lld/%lld [%s%s] loss %.4f lr %.3g %.0f tok/s ETA %s",
                   static_cast<long long>(pos.step), static_cast<long long>(total), std::string(filled, '=').c_str(),
                   std::string(width - filled, ' ').c_str(), loss, lr, tokens_here / std::max(elapsed, 1e-9),
                   format_duration(eta).c_str());
      std::fflush(stderr);
    }
    if (a.logging_steps > 0 && (pos.step % a.logging_steps == 0 || pos.step == total))
      log(nlohmann::ordered_json{{"step", pos.step},
                                 {"epoch", std::round(epoch_f * 1000) / 1000},
                                 {"loss", loss},
                                 {"grad_norm", norm},
                                 {"learning_rate", lr},
                                 {"tokens", pos.tokens},
                                 {"tokens_per_s", std::round(tokens_here / std::max(elapsed, 1e-9))},
                                 {"elapsed_s", std::round(elapsed * 10) / 10},
                                 {"eta_s", std::round(eta * 10) / 10}});
    if (a.eval_steps > 0 && pos.step % a.eval_steps == 0 && pos.step < total) evaluate_and_log(pos.step);
    const std::string ckpt = (fs::path(a.output_dir) / ("checkpoint-" + std::to_string(pos.step))).string();
    bool saved = false;
    if (a.save_steps > 0 && pos.step % a.save_steps == 0) save(ckpt), saved = true;
    double stop = g_stop_signal;
    if (world > 1) comm->allreduce_sum(&stop, 1);
    if (stop != 0 && pos.step < total) {
      if (!saved) save(ckpt);
      if (progress) std::fputs("\n", stderr);
      throw TrainingInterrupted(g_stop_signal != 0 ? g_stop_signal : SIGTERM, ckpt, pos.step, total);
    }
  }
  if (progress) std::fputs("\n", stderr);
  evaluate_and_log(total);
  if (lead) {
    fs::create_directories(a.output_dir);
    model->save(a.output_dir, source_config);
    copy_tokenizer_files(tokenizer_dir, a.output_dir);
    state.extra["log_history"] = log_history;
    write_file_atomically((fs::path(a.output_dir) / "trainer_state.json").string(), to_json(state).dump(2) + "\n");
  }
  comm->barrier();
}

}  // namespace

namespace {
TensorI64 optional_i64(const SafeTensors& st, const std::string& name) {
  return st.has(name) ? st.read_i64(name) : TensorI64{};
}
}  // namespace

LabelledBatch read_labelled_batch(const std::string& path) {
  const SafeTensors st = SafeTensors::open(path);
  BB_CHECK(st.has("input_ids"), "'", path, "' has no input_ids tensor");
  LabelledBatch b;
  b.in.input_ids = st.read_i64("input_ids");
  b.in.attention_mask = read_optional_like(st, "attention_mask", b.in.input_ids.shape);
  b.in.token_type_ids = read_optional_like(st, "token_type_ids", b.in.input_ids.shape);
  BB_CHECK(b.in.input_ids.shape.size() == 2, "'", path, "': input_ids must be [batch, length], got ",
           to_string(b.in.input_ids.shape));
  if (st.has("labels")) {
    const DType t = st.entry("labels").dtype;
    if (t == DType::F32 || t == DType::F64 || t == DType::F16 || t == DType::BF16)
      b.labels.float_labels = st.read_f32("labels");
    else b.labels.labels = st.read_i64("labels");
  }
  b.labels.start_positions = optional_i64(st, "start_positions");
  b.labels.end_positions = optional_i64(st, "end_positions");
  b.labels.next_sentence_label = optional_i64(st, "next_sentence_label");
  b.plans = plans_from_safetensors(st);
  return b;
}

void train(const TrainArgs& a, const ThreadingContext& ctx) {
  BB_CHECK(a.model.empty() || a.config.empty(),
           "give --model DIR (a checkpoint to start from) or --config FILE (a new model), not both");
  BB_CHECK(!a.model.empty() || !a.config.empty() || !a.resume_from_checkpoint.empty(),
           "give --model DIR (a checkpoint to start from) or --config FILE (a new model, with --tokenizer DIR)");
  BB_CHECK(!a.train_file.empty(), "--train-file is required");
  BB_CHECK(!a.output_dir.empty(), "--output-dir is required");
  check_output_dir(a.output_dir);
  BB_CHECK(a.learning_rate >= 0 && a.max_grad_norm >= 0 && a.weight_decay >= 0,
           "--learning-rate, --max-grad-norm and --weight-decay must be >= 0");
  task_architecture(a.task);
  if (fs::path(a.train_file).extension() == ".safetensors") {
    BB_CHECK(!a.model.empty() && a.resume_from_checkpoint.empty(),
             "a pre-tokenised .safetensors --train-file trains from --model DIR (no --config, no "
             "--resume-from-checkpoint)");
    return train_on_batch(a, ctx);
  }
  BB_CHECK(a.trace.empty(), "--trace is written for a pre-tokenised .safetensors --train-file only");
  train_on_data(a, ctx);
}

}  // namespace bigbird::train
