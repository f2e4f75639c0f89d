#include "tasks/jsonl.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "text/utf8.h"

namespace bigbird::tasks {

namespace fs = std::filesystem;

namespace {

std::string field(const nlohmann::json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) input_fail("missing \"", key, "\"");
    return {};
  }
  if (!it->is_string()) input_fail("\"", key, "\" must be a string, got ", it->type_name());
  return it->get<std::string>();  // emptiness is the task's to judge (tokenize takes "")
}

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string clock_text(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

}  // namespace

InputRecord parse_record(std::string_view line, InputKind kind) {
  const size_t bad = utf8::find_invalid(line);
  if (bad != std::string_view::npos) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(line[bad])));
    input_fail("not valid UTF-8 (byte ", bad, ": ", hex, ")");
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line.begin(), line.end());
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    input_fail("not valid JSON (", what, ")");
  }
  const char* expected = kind == InputKind::QuestionContext ? "{\"question\": ..., \"context\": ...}"
                         : kind == InputKind::TextOrPair    ? "{\"text\": ...} or {\"text\": ..., \"text_pair\": ...}"
                                                            : "{\"text\": ...}";
  if (!j.is_object()) input_fail("expected a JSON object ", expected, ", got ", j.type_name());
  InputRecord r;
  try {
    if (kind == InputKind::QuestionContext) {
      r.question = field(j, "question", true);
      r.context = field(j, "context", true);
    } else {
      r.text = field(j, "text", true);
      if (j.contains("text_pair") && !j["text_pair"].is_null()) {
        if (kind == InputKind::Text) input_fail("\"text_pair\" is not used by this task");
        r.text_pair = field(j, "text_pair", true);
      }
    }
  } catch (const InputError& e) {
    input_fail(e.what(), " (expected ", expected, ")");
  }
  return r;
}

std::string read_text_file(const std::string& path) {
  std::string s = read_file_bytes(path);
  if (!s.empty() && s.back() == '\n') {
    s.pop_back();
    if (!s.empty() && s.back() == '\r') s.pop_back();
  }
  return s;
}

// ------------------------------------------------------------------------- output

OutputSink::OutputSink(const std::string& path) : path_(path == "-" ? "" : path) {
  if (!path_.empty()) file_ = std::make_unique<AtomicOutput>(path_);
}

OutputSink::~OutputSink() = default;

std::ostream& OutputSink::stream() { return file_ ? file_->stream() : std::cout; }

void OutputSink::commit() {
  if (!file_) {
    std::cout.flush();
    BB_CHECK(std::cout.good(), "cannot write the answers to stdout");
    return;
  }
  file_->commit();
}

// Decoded text is valid UTF-8 unless a model decodes bytes piecewise: replace, never throw.
void JsonLinesWriter::write(const json& answer) {
  out_ << answer.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
}

// A message may quote a bad line's bytes (nlohmann's "last read: ..." can end inside a UTF-8
// sequence): replace them, never throw.
void JsonLinesWriter::write_error(const std::string& message) {
  out_ << json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
}

// ------------------------------------------------------------------------- progress

Progress::Progress(bool enabled, int64_t total) : enabled_(enabled), total_(total), start_(now_seconds()) {}

void Progress::update(double done) {
  if (!enabled_) return;
  const double t = now_seconds();
  if (last_ >= 0 && t - last_ < 0.1 && done < static_cast<double>(total_)) return;
  last_ = t;
  const double elapsed = std::max(t - start_, 1e-9);
  const double rate = done / elapsed;
  char line[256];
  if (total_ > 0) {
    const double f = std::min(1.0, done / static_cast<double>(total_));
    const int width = 24, fill = static_cast<int>(f * width);
    std::string bar(static_cast<size_t>(width), ' ');
    for (int i = 0; i < fill; ++i) bar[static_cast<size_t>(i)] = '=';
    if (fill < width) bar[static_cast<size_t>(fill)] = '>';
    const std::string eta = done >= 1 ? clock_text((static_cast<double>(total_) - done) / rate) : "?";
    std::snprintf(line, sizeof line, "\r%lld/%lld [%s] %3d%%  %.1f inputs/s  ETA %s  ", static_cast<long long>(done),
                  static_cast<long long>(total_), bar.c_str(), static_cast<int>(f * 100), rate, eta.c_str());
  } else {
    std::snprintf(line, sizeof line, "\r%lld inputs  %.1f inputs/s  %s elapsed  ", static_cast<long long>(done), rate,
                  clock_text(elapsed).c_str());
  }
  std::fputs(line, stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::done() {
  if (drawn_) {
    std::fputc('\n', stderr);
    drawn_ = false;
  }
}

// ------------------------------------------------------------------------- batch driver

bool blank_line(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

int64_t count_records(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return -1;
  int64_t n = 0;
  std::string line;
  while (std::getline(f, line))
    if (!blank_line(line)) ++n;
  return f.bad() ? -1 : n;
}

BatchStats run_jsonl(const Task& task, std::istream& in, int64_t total, ResultWriter& writer, const BatchOptions& opt) {
  const size_t ahead = opt.read_ahead
                           ? opt.read_ahead
                           : std::max<size_t>(256, 64 * static_cast<size_t>(std::max(1, opt.run.batch_size)));
  Progress progress(opt.progress, total);
  BatchStats stats = drive_jsonl<Item>(
      in, ahead, opt.source.empty() ? "input" : opt.source, opt.skip_bad_lines, writer,
      [&](const std::string& line, int64_t) { return task.prepare(parse_record(line, task.input_kind()), opt.run); },
      [&](std::vector<Item*>& items, int64_t before, size_t chunk) {
        run_items(task, items, opt.run,
                  [&](double f) { progress.update(static_cast<double>(before) + f * static_cast<double>(chunk)); });
      },
      [&](Item& item, int64_t done) {
        writer.write(task.finish(item));
        progress.update(static_cast<double>(done));
      },
      [&](const std::string& msg) {
        if (opt.progress) std::fputs("\r\033[K", stderr);
        std::fprintf(stderr, "warning: %s (skipped)\n", msg.c_str());
      },
      [&] { progress.done(); });
  progress.done();
  return stats;
}

}  // namespace bigbird::tasks
