#include "self_exec.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>

#include "core/error.h"

namespace bigbird::cli {

ChildResult run_self(const std::vector<std::string>& args) {
  std::vector<std::string> argv_s = {"/proc/self/exe"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  int fds[2];
  BB_CHECK(pipe(fds) == 0, "cannot create a pipe to run a benchmark configuration");
  const pid_t pid = fork();
  BB_CHECK(pid >= 0, "cannot fork to run a benchmark configuration");
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  close(fds[1]);
  ChildResult r;
  std::array<char, 4096> buf{};
  ssize_t n;
  while ((n = read(fds[0], buf.data(), buf.size())) > 0) r.output.append(buf.data(), static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!r.ok)
    r.why = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status)) + " (out of memory?)"
                                : "failed, exit " + std::to_string(WEXITSTATUS(status)) + " (see stderr)";
  return r;
}

}  // namespace bigbird::cli
