// The single-process Communicator (what every plain run gets): rank 0 of 1, sums and broadcasts
// leave the data as it is, and no MPI is started. The MPI path runs under mpirun in its own
// program (tests/mpi/comm_check.cpp, ctest mpi.comm_check).
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "core/error.h"
#include "train/comm.h"

namespace bigbird::train {
namespace {

void check_single_process(Communicator& comm) {
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.size(), 1);
  EXPECT_EQ(comm.description(), "single process");

  std::vector<float> f = {1.5f, -2.25f, 1e30f, 0.0f};
  const std::vector<float> f0 = f;
  comm.allreduce_sum(f.data(), static_cast<int64_t>(f.size()));
  EXPECT_EQ(f, f0);
  std::vector<double> d(3 << 20);
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<double>(i) * 0.1;
  const std::vector<double> d0 = d;
  comm.allreduce_sum(d.data(), static_cast<int64_t>(d.size()));
  EXPECT_EQ(d, d0);
  comm.allreduce_sum(static_cast<float*>(nullptr), 0);  // empty: fine

  std::vector<uint8_t> bytes = {1, 2, 3};
  comm.broadcast(bytes, 0);
  EXPECT_EQ(bytes, (std::vector<uint8_t>{1, 2, 3}));
  comm.barrier();
}

TEST(Comm, SingleProcessIsRankZeroOfOne) {
  auto comm = make_single_process_communicator();
  check_single_process(*comm);
}

TEST(Comm, PlainRunGetsTheSingleProcessCommunicator) {
  if (launched_by_mpi()) GTEST_SKIP() << "this test binary runs under an MPI launcher";
  auto comm = make_communicator();
  check_single_process(*comm);
  // A second one is fine too: no MPI was initialised.
  auto again = make_communicator();
  EXPECT_EQ(again->size(), 1);
}

TEST(Comm, SingleProcessErrors) {
  auto comm = make_single_process_communicator();
  std::vector<uint8_t> bytes = {1};
  try {
    comm->broadcast(bytes, 1);
    FAIL() << "expected bigbird::Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "broadcast: root rank 1 does not exist (single process: rank 0 of 1)");
  }
  EXPECT_EQ(bytes, std::vector<uint8_t>{1});
  float x = 1;
  EXPECT_THROW(comm->allreduce_sum(&x, -1), Error);
  EXPECT_THROW(comm->allreduce_sum(static_cast<double*>(nullptr), 2), Error);
}

TEST(Comm, LaunchedByMpiReadsTheLaunchersVariables) {
  const char* names[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"};
  for (const char* name : names)
    if (std::getenv(name) != nullptr) GTEST_SKIP() << name << " is set";
  EXPECT_FALSE(launched_by_mpi());
  for (const char* name : names) {
    ::setenv(name, "0", 1);
    EXPECT_TRUE(launched_by_mpi()) << name;
    ::unsetenv(name);
  }
  EXPECT_FALSE(launched_by_mpi());
}

}  // namespace
}  // namespace bigbird::train
