// Run by ctest under `mpirun -np 2` (tests/mpi/, built as its own program bigbird_comm_check):
// checks the MPI Communicator's sums (bits equal to the rank-order fold, the same on every rank),
// broadcasts and errors. With --fail-rank R, rank R throws before a collective the other ranks
// are waiting in: the job must end with the error, not hang (tests/mpi/expect_error.cmake).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "train/comm.h"

namespace {

using bigbird::train::Communicator;

int g_failures = 0, g_checks = 0;

void expect(bool ok, const std::string& what, int rank) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    std::fprintf(stderr, "comm_check: rank %d: FAILED: %s\n", rank, what.c_str());
  }
}

// Values of very different magnitudes, so that the summation order changes the rounding.
double value(int rank, int64_t i) {
  uint64_t h = (static_cast<uint64_t>(i) + 1) * 0x9E3779B97F4A7C15ull ^
               (static_cast<uint64_t>(rank) + 7) * 0xBF58476D1CE4E5B9ull;
  h ^= h >> 31;
  h *= 0x94D049BB133111EBull;
  h ^= h >> 29;
  const double u = static_cast<double>(h >> 11) / 9007199254740992.0;  // [0, 1)
  const int e = static_cast<int>(h % 41) - 20;
  return (u - 0.5) * std::ldexp(1.0, e);
}

// Rank 0's bytes must equal this rank's.
template <typename T>
bool same_on_every_rank(Communicator& comm, const std::vector<T>& v) {
  std::vector<uint8_t> bytes(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());
  std::vector<uint8_t> root = bytes;
  comm.broadcast(root, 0);
  int differs = root != bytes ? 1 : 0;
  double d = differs;
  comm.allreduce_sum(&d, 1);
  return d == 0;
}

template <typename T>
void check_sum(Communicator& comm, int64_t n, const char* type) {
  const int rank = comm.rank(), size = comm.size();
  std::vector<T> x(static_cast<size_t>(n)), expected(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    x[static_cast<size_t>(i)] = static_cast<T>(value(rank, i));
    T s = static_cast<T>(value(0, i));
    for (int r = 1; r < size; ++r) s += static_cast<T>(value(r, i));
    expected[static_cast<size_t>(i)] = s;
  }
  comm.allreduce_sum(x.data(), n);
  const std::string what = std::string("allreduce_sum<") + type + "> n=" + std::to_string(n);
  expect(x.empty() || std::memcmp(x.data(), expected.data(), x.size() * sizeof(T)) == 0,
         what + ": bits of the rank-order sum", rank);
  expect(same_on_every_rank(comm, x), what + ": same bits on every rank", rank);
}

int run(int fail_rank) {
  auto comm = bigbird::train::make_communicator();
  const int rank = comm->rank(), size = comm->size();
  if (fail_rank >= 0) {
    if (rank == fail_rank) bigbird::fail("rank ", rank, " failed on purpose");
    std::vector<float> x(1000, 1.0f);
    comm->allreduce_sum(x.data(), static_cast<int64_t>(x.size()));  // waits for the failed rank
    comm->barrier();
    return 0;
  }
  expect(size >= 2, "run under mpirun -np 2 (size " + std::to_string(size) + ")", rank);
  expect(comm->description().rfind("MPI (", 0) == 0, "description: " + comm->description(), rank);

  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{3}, int64_t{1000}, (int64_t{1} << 20) + 3}) {
    check_sum<float>(*comm, n, "float");
    check_sum<double>(*comm, n, "double");
  }
  check_sum<float>(*comm, (int64_t{1} << 22) * 2 + 12345, "float");  // several segments
  check_sum<double>(*comm, (int64_t{1} << 22) + 1, "double");

  // Broadcast: from each root, empty, small and large.
  for (int root = 0; root < size; ++root) {
    for (size_t n : {size_t{0}, size_t{5}, size_t{3} << 20}) {
      std::vector<uint8_t> b;
      if (rank == root) {
        b.resize(n);
        for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 31 + static_cast<size_t>(root));
      } else {
        b.assign(7, 0xEE);  // receivers are resized
      }
      comm->broadcast(b, root);
      bool ok = b.size() == n;
      for (size_t i = 0; ok && i < n; ++i) ok = b[i] == static_cast<uint8_t>(i * 31 + static_cast<size_t>(root));
      expect(ok, "broadcast from rank " + std::to_string(root) + " of " + std::to_string(n) + " bytes", rank);
    }
  }
  try {
    std::vector<uint8_t> b;
    comm->broadcast(b, size);
    expect(false, "broadcast from a rank that does not exist throws", rank);
  } catch (const bigbird::Error& e) {
    expect(std::string(e.what()).find("does not exist") != std::string::npos, e.what(), rank);
  }

  // Different counts on different ranks: every rank gets the error, nothing hangs or changes.
  {
    std::vector<double> x(8, 1.0);
    try {
      comm->allreduce_sum(x.data(), 5 + rank);
      expect(false, "allreduce_sum with different counts throws", rank);
    } catch (const bigbird::Error& e) {
      expect(std::string(e.what()).find("different element counts") != std::string::npos, e.what(), rank);
    }
    expect(x == std::vector<double>(8, 1.0), "a failed allreduce_sum leaves the data alone", rank);
  }

  // MPI is initialised once per process.
  try {
    auto second = bigbird::train::make_communicator();
    expect(false, "a second MPI communicator throws", rank);
  } catch (const bigbird::Error& e) {
    expect(std::string(e.what()).find("already initialised") != std::string::npos, e.what(), rank);
  }

  comm->barrier();
  double failures = g_failures;
  comm->allreduce_sum(&failures, 1);
  std::printf("comm_check: rank %d of %d: %d checks, %d failed here, %g failed on all ranks\n", rank, size, g_checks,
              g_failures, failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int fail_rank = -1;
  if (argc == 3 && std::strcmp(argv[1], "--fail-rank") == 0) fail_rank = std::atoi(argv[2]);
  try {
    return run(fail_rank);
  } catch (const bigbird::Error& e) {  // as the bigbird CLI does
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
