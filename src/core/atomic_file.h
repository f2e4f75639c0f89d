// Writing a whole file so that readers see either the old file or the complete new one: the
// bytes go to a temporary file created exclusively (mkstemp: no planted file or link is
// followed) in the target's directory, which is then renamed over the target.
#pragma once
#include <string>

namespace bigbird {

// Throws bigbird::Error naming `path` when anything fails; the temporary file is removed then.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace bigbird
