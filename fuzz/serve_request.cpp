// HTTP request bodies of `bigbird serve` (serve/service.h), without sockets: the first input byte
// picks a POST route, the rest is the body, answered by a Service on the shipped tiny-mlm (threads
// 1, the batcher running). Service::post never throws: every body must get a TEI-shaped answer,
// 200 with JSON, or an error status with {"error": str, "error_type": str}.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_common.h"
#include "serve/service.h"

using namespace bigbird;

namespace {
serve::Service& service() {
  static std::unique_ptr<serve::Service> s = [] {
    serve::ServeOptions o;
    o.model_dir = fuzz::source_path("models/tiny-mlm");
    o.run.threading = ThreadingContext(1);
    o.max_batch_tokens = 4096;
    o.max_score_tokens = 48;  // /score runs a forward pass per token: keep each input well inside -timeout
    auto svc = std::make_unique<serve::Service>(o);
    svc->load();
    return svc;
  }();
  return *s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& routes = serve::Service::post_routes();
  const std::string& route = routes[data[0] % routes.size()];
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const serve::Reply r = service().post(route, body);
  FUZZ_CHECK(r.status == 200 || r.status == 400 || r.status == 413 || r.status == 422 || r.status == 424 ||
             r.status == 429);
  if (r.content_type == "application/json") {
    const nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    FUZZ_CHECK(!j.is_discarded());
    if (r.status != 200) FUZZ_CHECK(j.is_object() && j.contains("error") && j.contains("error_type"));
  }
  return 0;
}
