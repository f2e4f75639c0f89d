// The `bigbird` command-line tool (subcommands are added in their own files).
#include <cstdio>
int main() {
  std::puts("bigbird");
  return 0;
}
