// Temporary files that an interrupted run must not leave behind. Every writer of an output
// (core/atomic_file.*) creates its temporary file exclusively beside the target and registers it
// here until it is renamed into place or removed. On SIGINT, SIGTERM or SIGHUP the handler that
// install_temp_file_cleanup() sets removes every registered temporary file, says on stderr which
// outputs were not written, and re-raises the signal with its default action (exit status
// 128 + signal in a shell). The handler uses only async-signal-safe calls (unlink, write,
// signal, raise) on a fixed table filled before the temporary file exists.
#pragma once
#include <string>

namespace bigbird {

// Registers `tmp` (the temporary file of the output `target`); returns a slot for
// unregister_temp_file, or -1 when the table is full or a path is too long (the file is then
// simply not cleaned up on a signal).
int register_temp_file(const std::string& tmp, const std::string& target);
void unregister_temp_file(int slot);

// Installs the handler for SIGINT, SIGTERM and SIGHUP (the CLI's main does, once).
void install_temp_file_cleanup();

// Removes every registered temporary file and writes "error: interrupted (SIG...): 'OUT' was
// not written" to stderr. Async-signal-safe: for signal handlers of their own (bigbird train's)
// that end the process.
void remove_temp_files_on_signal(int sig) noexcept;

}  // namespace bigbird
