#include "train/trainer.h"

#include <cstdio>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/safetensors.h"
#include "models/bigbird_model.h"
#include "sparse/plan_io.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace bigbird::train {

namespace fs = std::filesystem;

namespace {

struct Batch {
  EncoderInput in;
  TrainLabels labels;
  std::map<int, RandomPlan> plans;
};

TensorI64 optional_i64(const SafeTensors& st, const std::string& name) {
  return st.has(name) ? st.read_i64(name) : TensorI64{};
}

Batch read_batch(const std::string& path) {
  const SafeTensors st = SafeTensors::open(path);
  BB_CHECK(st.has("input_ids"), "'", path, "' has no input_ids tensor");
  Batch b;
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

void train(const TrainArgs& a, const ThreadingContext& ctx) {
  BB_CHECK(!a.model.empty(), "--model is required (a checkpoint directory)");
  BB_CHECK(!a.train_file.empty(), "--train-file is required");
  BB_CHECK(!a.output_dir.empty(), "--output-dir is required");
  BB_CHECK(a.max_steps > 0, "--max-steps must be given and positive with a pre-tokenised --train-file");
  BB_CHECK(fs::path(a.train_file).extension() == ".safetensors",
           "--train-file '", a.train_file, "': only a pre-tokenised batch (.safetensors) is supported so far");
  BB_CHECK(a.learning_rate >= 0 && a.max_grad_norm >= 0 && a.weight_decay >= 0,
           "--learning-rate, --max-grad-norm and --weight-decay must be >= 0");
  const Architecture task = task_architecture(a.task);
  const LrSchedule schedule = parse_lr_schedule(a.lr_scheduler_type);
  const Batch batch = read_batch(a.train_file);
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
      ps.push_back({params[i].first, params[i].second, has ? t.ptr() : nullptr, t.size(), hf_weight_decay(params[i].first)});
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

}  // namespace bigbird::train
