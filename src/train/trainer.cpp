#include "train/trainer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/safetensors.h"
#include "models/bigbird_model.h"
#include "sparse/plan_io.h"
#include "text/tokenizer.h"
#include "train/data.h"
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

void copy_tokenizer_files(const std::string& from, const std::string& to) {
  for (const char* f : {"spiece.model", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"}) {
    const fs::path src = fs::path(from) / f;
    if (!fs::exists(src)) continue;
    std::error_code ec;
    fs::copy_file(src, fs::path(to) / f, fs::copy_options::overwrite_existing, ec);
    BB_CHECK(!ec, "cannot copy '", src.string(), "' to '", to, "': ", ec.message());
  }
}

}  // namespace

namespace {

void train_on_batch(const TrainArgs& a, const ThreadingContext& ctx) {
  BB_CHECK(a.max_steps > 0, "--max-steps must be given and positive with a pre-tokenised --train-file");
  const Architecture task = task_architecture(a.task);
  const LrSchedule schedule = parse_lr_schedule(a.lr_scheduler_type);
  const LabelledBatch batch = read_labelled_batch(a.train_file);
  auto model = BigBirdModel::load(a.model);
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
  auto scalar = [&](const std::string& name, double v) {
    const float f = static_cast<float>(v);
    trace.push_back(OutTensor::f32(name, Shape{1}, &f));
  };
  for (int64_t step = 0; step < a.max_steps; ++step) {
    GradOutput g = model->loss_and_grads(batch.in, batch.labels, fo, ctx);
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
};

Data load_data(const TrainArgs& a, const std::string& path, Architecture arch, const Tokenizer& tok,
               const BigBirdConfig& cfg, const std::vector<std::string>& known_labels) {
  Data d;
  std::map<std::string, int64_t> label2id;
  for (size_t i = 0; i < known_labels.size(); ++i) label2id[known_labels[i]] = static_cast<int64_t>(i);
  switch (arch) {
    case Architecture::MaskedLM: {
      int64_t len = a.max_seq_length;
      if (len <= 0) len = std::min<int64_t>({tok.model_max_length() > 0 ? tok.model_max_length() : 1024, 1024});
      len = std::min(len, cfg.max_position_embeddings);
      d.examples = load_mlm_corpus(path, tok, len);
      break;
    }
    case Architecture::SequenceClassification: {
      ClassificationOptions o;
      if (a.max_seq_length > 0) o.max_seq_length = a.max_seq_length;
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
      o.max_seq_length = a.max_seq_length > 0 ? a.max_seq_length : std::min<int64_t>(512, cfg.max_position_embeddings);
      o.label2id = label2id;
      TokenClassificationData td = load_token_classification(path, tok, o);
      d.examples = std::move(td.examples);
      d.id2label = td.id2label;
      d.num_labels = static_cast<int64_t>(td.id2label.size());
      break;
    }
    case Architecture::QuestionAnswering: {
      QaOptions o;
      if (a.max_seq_length > 0) o.max_seq_length = a.max_seq_length;
      o.doc_stride = a.doc_stride;
      d.examples = load_qa(path, tok, o);
      break;
    }
    default: fail("no data loader for ", architecture_name(arch));
  }
  BB_CHECK(!d.examples.empty(), "'", path, "': no training example");
  return d;
}

// Examples [first, first + n) of `order`, padded to their longest row (pad id, mask 0, type 0,
// labels -100), as HF's collators pad.
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

// Loss and accuracy-type metrics on a data set (batches of 8, in order), as JSON fields.
std::string evaluate(const BigBirdModel& model, const Data& d, Architecture arch, int64_t pad_id,
                     const MaskingInfo* mlm, uint64_t seed, const ForwardOptions& fo, const ThreadingContext& ctx) {
  double loss = 0;
  int64_t batches = 0, correct = 0, total = 0;
  std::map<int64_t, std::array<int64_t, 3>> per_label;  // tp, fp, fn
  for (size_t s = 0; s < d.examples.size(); s += 8) {
    std::vector<size_t> idx;
    for (size_t i = s; i < std::min(d.examples.size(), s + 8); ++i) idx.push_back(i);
    const LabelledBatch b = make_batch(d.examples, idx, arch, pad_id, mlm, seed, 0);
    loss += model.loss_and_grads(b.in, b.labels, fo, ctx).loss;
    ++batches;
    if (arch == Architecture::SequenceClassification && !b.labels.labels.data.empty()) {
      const Tensor logits = model.sequence_classification_logits(model.encode(b.in, fo, ctx).sequence_output, ctx);
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
      const Tensor logits = model.token_classification_logits(model.encode(b.in, fo, ctx).sequence_output, ctx);
      const int64_t nl = logits.dim(2);
      for (size_t t = 0; t < b.labels.labels.data.size(); ++t) {
        const int64_t gold = b.labels.labels.data[t];
        if (gold == kIgnoreIndex) continue;
        const float* row = logits.ptr() + static_cast<int64_t>(t) * nl;
        correct += (std::max_element(row, row + nl) - row) == gold, ++total;
      }
    }
  }
  char buf[256];
  const double mean = loss / std::max<int64_t>(batches, 1);
  std::string out;
  std::snprintf(buf, sizeof buf, "\"eval_loss\": %.7g", mean);
  out = buf;
  if (arch == Architecture::MaskedLM) {
    std::snprintf(buf, sizeof buf, ", \"perplexity\": %.7g", std::exp(mean));
    out += buf;
  }
  if (total > 0) {
    std::snprintf(buf, sizeof buf, ", \"eval_accuracy\": %.7g", static_cast<double>(correct) / total);
    out += buf;
  }
  if (!per_label.empty()) {
    double f1 = 0;
    for (const auto& [label, c] : per_label) {
      const double p = c[0] + c[1] ? double(c[0]) / (c[0] + c[1]) : 0,
                   r = c[0] + c[2] ? double(c[0]) / (c[0] + c[2]) : 0;
      f1 += p + r > 0 ? 2 * p * r / (p + r) : 0;
    }
    std::snprintf(buf, sizeof buf, ", \"eval_macro_f1\": %.7g", f1 / static_cast<double>(per_label.size()));
    out += buf;
  }
  return out;
}

void train_on_data(const TrainArgs& a, const ThreadingContext& ctx) {
  BB_CHECK(a.per_device_train_batch_size > 0 && a.gradient_accumulation_steps > 0,
           "--per-device-train-batch-size and --gradient-accumulation-steps must be positive");
  BB_CHECK(a.max_steps > 0 || a.num_train_epochs > 0, "give --max-steps or a positive --num-train-epochs");
  Architecture arch = task_architecture(a.task);
  auto tok = Tokenizer::load(a.model);
  const BigBirdConfig source = load_bigbird_config((fs::path(a.model) / "config.json").string());
  const Architecture source_arch = parse_architecture(source.architectures);
  std::vector<std::string> known;  // the checkpoint's own labels, when it already has this head
  if (source_arch == arch)
    for (const auto& [i, name] : source.id2label) known.push_back(name);
  Data train = load_data(a, a.train_file, arch, *tok, source, known);
  Data valid;
  if (!a.validation_file.empty()) valid = load_data(a, a.validation_file, arch, *tok, source, train.id2label);
  std::vector<std::string> fresh;
  auto model = BigBirdModel::load_for_training(a.model, arch, train.num_labels, a.seed, &fresh);
  if (!fresh.empty())
    std::fprintf(stderr, "note: %zu weights of %s are newly initialised (e.g. %s), as HF initialises a new head\n",
                 fresh.size(), architecture_name(arch), fresh.front().c_str());
  if (arch == Architecture::SequenceClassification || arch == Architecture::TokenClassification)
    model->set_labels(train.id2label, arch == Architecture::SequenceClassification ? train.problem : "");
  const int64_t pad_id = model->config().pad_token_id;
  const MaskingInfo info = MaskingInfo::from(*tok);
  const MaskingInfo* mlm = arch == Architecture::MaskedLM ? &info : nullptr;

  const int64_t n = static_cast<int64_t>(train.examples.size()), bs = a.per_device_train_batch_size;
  const int64_t batches_per_epoch = (n + bs - 1) / bs;
  const int64_t updates_per_epoch = std::max<int64_t>(1, batches_per_epoch / a.gradient_accumulation_steps);
  const int64_t total =
      a.max_steps > 0 ? a.max_steps : static_cast<int64_t>(std::ceil(a.num_train_epochs * updates_per_epoch));
  const LrSchedule schedule = parse_lr_schedule(a.lr_scheduler_type);
  const auto params = model->make_trainable();
  AdamWConfig cfg;
  cfg.beta1 = a.adam_beta1, cfg.beta2 = a.adam_beta2, cfg.eps = a.adam_epsilon, cfg.weight_decay = a.weight_decay;
  AdamW opt(cfg);
  std::fprintf(stderr, "{\"examples\": %lld, \"batch_size\": %lld, \"steps\": %lld, \"parameters\": %zu}\n",
               static_cast<long long>(n), static_cast<long long>(bs), static_cast<long long>(total), params.size());

  int64_t epoch = 0, cursor = 0;
  std::vector<size_t> order = shuffled(static_cast<size_t>(n), a.seed, epoch);
  double tokens = 0;
  for (int64_t step = 0; step < total; ++step) {
    std::vector<Tensor> sum(params.size());
    std::vector<uint8_t> reached(params.size(), 0);
    double loss = 0;
    for (int64_t micro = 0; micro < a.gradient_accumulation_steps; ++micro) {
      if (cursor >= n) cursor = 0, order = shuffled(static_cast<size_t>(n), a.seed, ++epoch);
      std::vector<size_t> idx(order.begin() + cursor, order.begin() + std::min(n, cursor + bs));
      cursor += bs;
      const LabelledBatch b = make_batch(train.examples, idx, arch, pad_id, mlm, a.seed, epoch);
      tokens += static_cast<double>(b.in.input_ids.data.size());
      ForwardOptions fo = a.forward;
      fo.seed = a.forward.seed + static_cast<uint64_t>(step) * 1000003ull;  // seeded plans: fresh per step
      GradOutput g = model->loss_and_grads(b.in, b.labels, fo, ctx);
      loss += g.loss / static_cast<double>(a.gradient_accumulation_steps);
      const float k = 1.0f / static_cast<float>(a.gradient_accumulation_steps);
      for (size_t i = 0; i < params.size(); ++i) {
        Tensor& t = g.grads[i].second;
        if (!g.reached[i]) continue;
        reached[i] = 1;
        if (sum[i].data.empty()) sum[i] = Tensor(t.shape);
        for (size_t j = 0; j < t.data.size(); ++j) sum[i].data[j] += k == 1.0f ? t.data[j] : t.data[j] * k;
      }
    }
    std::vector<std::pair<float*, int64_t>> grads;
    std::vector<Param> ps;
    for (size_t i = 0; i < params.size(); ++i) {
      if (reached[i]) grads.emplace_back(sum[i].ptr(), sum[i].size());
      ps.push_back({params[i].first, params[i].second, reached[i] ? sum[i].ptr() : nullptr,
                    static_cast<int64_t>(numel(model->named_parameters()[i].second.shape)),
                    hf_weight_decay(params[i].first)});
    }
    const double norm = clip_grad_norm(grads, a.max_grad_norm, ctx);
    const double lr = lr_at(schedule, a.learning_rate, step, a.warmup_steps, total);
    opt.step(ps, lr, ctx);
    if (a.logging_steps > 0 && ((step + 1) % a.logging_steps == 0 || step + 1 == total))
      std::fprintf(stderr,
                   "{\"step\": %lld, \"epoch\": %.3f, \"loss\": %.7g, \"grad_norm\": %.7g, \"learning_rate\": %.7g, "
                   "\"tokens\": %.0f}\n",
                   static_cast<long long>(step + 1), epoch + static_cast<double>(std::min(cursor, n)) / n, loss, norm,
                   lr, tokens);
    if (!valid.examples.empty() && a.eval_steps > 0 && (step + 1) % a.eval_steps == 0 && step + 1 < total)
      std::fprintf(stderr, "{\"step\": %lld, %s}\n", static_cast<long long>(step + 1),
                   evaluate(*model, valid, arch, pad_id, mlm, a.seed, a.forward, ctx).c_str());
    if (a.save_steps > 0 && (step + 1) % a.save_steps == 0 && step + 1 < total) {
      const std::string dir = (fs::path(a.output_dir) / ("checkpoint-" + std::to_string(step + 1))).string();
      model->save(dir, (fs::path(a.model) / "config.json").string());
      copy_tokenizer_files(a.model, dir);
    }
  }
  fs::create_directories(a.output_dir);
  model->save(a.output_dir, (fs::path(a.model) / "config.json").string());
  copy_tokenizer_files(a.model, a.output_dir);
  if (!valid.examples.empty())
    std::fprintf(stderr, "{\"step\": %lld, %s}\n", static_cast<long long>(total),
                 evaluate(*model, valid, arch, pad_id, mlm, a.seed, a.forward, ctx).c_str());
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
  b.in = {st.read_i64("input_ids"), optional_i64(st, "attention_mask"), optional_i64(st, "token_type_ids")};
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
  BB_CHECK(!a.model.empty(), "--model is required (a checkpoint directory)");
  BB_CHECK(!a.train_file.empty(), "--train-file is required");
  BB_CHECK(!a.output_dir.empty(), "--output-dir is required");
  BB_CHECK(a.learning_rate >= 0 && a.max_grad_norm >= 0 && a.weight_decay >= 0,
           "--learning-rate, --max-grad-norm and --weight-decay must be >= 0");
  task_architecture(a.task);
  if (fs::path(a.train_file).extension() == ".safetensors") return train_on_batch(a, ctx);
  BB_CHECK(a.trace.empty(), "--trace is written for a pre-tokenised .safetensors --train-file only");
  train_on_data(a, ctx);
}

}  // namespace bigbird::train
