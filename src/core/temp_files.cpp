#include "core/temp_files.h"

#include <unistd.h>

#include <atomic>
#include <climits>
#include <csignal>
#include <cstring>

namespace bigbird {

namespace {

constexpr int kSlots = 32;
constexpr size_t kPath = PATH_MAX;

// state: 0 free, 1 being filled or emptied, 2 live (the handler may read tmp and target).
struct Slot {
  std::atomic<int> state{0};
  char tmp[kPath];
  char target[kPath];
};
Slot g_slots[kSlots];

void put(const char* s) { (void)!::write(STDERR_FILENO, s, std::strlen(s)); }

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "signal";
  }
}

extern "C" void on_cleanup_signal(int sig) {
  remove_temp_files_on_signal(sig);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

int register_temp_file(const std::string& tmp, const std::string& target) {
  if (tmp.size() >= kPath || target.size() >= kPath) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (!g_slots[i].state.compare_exchange_strong(expected, 1)) continue;
    std::memcpy(g_slots[i].tmp, tmp.c_str(), tmp.size() + 1);
    std::memcpy(g_slots[i].target, target.c_str(), target.size() + 1);
    g_slots[i].state.store(2, std::memory_order_release);
    return i;
  }
  return -1;
}

void unregister_temp_file(int slot) {
  if (slot >= 0 && slot < kSlots) g_slots[slot].state.store(0, std::memory_order_release);
}

void remove_temp_files_on_signal(int sig) noexcept {
  put("error: interrupted (");
  put(signal_name(sig));
  put(")");
  bool any = false;
  for (auto& s : g_slots) {
    if (s.state.load(std::memory_order_acquire) != 2) continue;
    ::unlink(s.tmp);
    put(any ? ", '" : ": '");
    put(s.target);
    put("'");
    any = true;
  }
  put(any ? " not written\n" : "\n");
}

void install_temp_file_cleanup() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;  // nohup, `cmd &`
    struct sigaction sa {};
    sa.sa_handler = on_cleanup_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    ::sigaction(sig, &sa, nullptr);
  }
}

}  // namespace bigbird
