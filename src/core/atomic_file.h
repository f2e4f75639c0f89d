// Writing a whole file so that readers see either the old file or the complete new one: the
// bytes go to a temporary file created exclusively (O_CREAT | O_EXCL | O_NOFOLLOW: no planted file or link is
// followed) in the target's directory, which is then renamed over the target. The temporary
// file is registered with core/temp_files.h, so SIGINT/SIGTERM/SIGHUP remove it too.
// Also: reading a whole file with its read errors reported, and refusing an output path that is
// one of the inputs.
#pragma once
#include <memory>
#include <ostream>
#include <string>

namespace bigbird {

// Throws bigbird::Error naming `path` when anything fails; the temporary file is removed then.
void write_file_atomically(const std::string& path, const std::string& bytes);

// The same, streamed: write to stream(), then commit() renames the temporary file into place
// (throws bigbird::Error naming the path if any write failed). Destroyed uncommitted (an error),
// the temporary file is removed and the target is left as it was.
class AtomicOutput {
 public:
  explicit AtomicOutput(const std::string& path);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  std::ostream& stream();
  void commit();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The bytes of a file ("-": stdin) or of an open descriptor; throws bigbird::Error ("cannot read
// 'PATH': <reason>") on an open or read error, or a directory: a read error is never taken as the
// end of the file.
std::string read_file_bytes(const std::string& path);
std::string read_fd_bytes(int fd, const std::string& name);

// Refuses an output that is the same file as an input, by path or through links
// ("--output 'a.jsonl' is the input file --input 'a.jsonl'..."); an output that does not exist
// yet is never an input. The flags name the options in the message.
void check_output_is_not_input(const std::string& output, const char* output_flag, const std::string& input,
                               const char* input_flag);

}  // namespace bigbird
