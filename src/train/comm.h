// Data-parallel communication: one Communicator per process, MPI under mpirun, a no-op otherwise.
//
//   auto comm = bigbird::train::make_communicator();
//   comm->allreduce_sum(grads.data(), n);  // every rank now holds the same sum, bit for bit
//
// Determinism: allreduce_sum does not use MPI_Allreduce (the MPI standard leaves its summation
// order to the implementation, which may pick a different algorithm per message size). Each
// element's sum is computed by exactly one rank as the left fold in rank order,
// ((x_0 + x_1) + x_2) + ..., and then copied to every rank: the result has the same bits on every
// rank, for every run with the same inputs and the same number of ranks, and equals what a
// sequential loop over the ranks' buffers would give. The work is spread over the ranks (a
// reduce-scatter with MPI_Alltoallv, then MPI_Allgatherv), in segments of at most 2^22 elements,
// so MPI's int counts never overflow and the extra memory stays bounded (one segment).
//
// Errors: every failure is a bigbird::Error (MPI errors are returned, not fatal). A rank that
// fails should let the exception reach the CLI, which prints `error: ...` and exits with 1: a
// Communicator destroyed while an exception unwinds skips MPI_Finalize (which would wait for the
// other ranks), so the process exits at once and mpirun, seeing a rank exit non-zero, kills the
// others (they may be blocked in a collective). (Open MPI 4.1: MPI_Finalize on the failing rank
// blocks until the others finalise too, i.e. forever.) So never destroy the communicator on one
// rank only while the others go on communicating; let the error end the process.
//
// Threads: MPI is initialised with MPI_THREAD_SERIALIZED; call a Communicator from one thread at
// a time (e.g. the training loop's thread, outside OpenMP regions).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bigbird::train {

class Communicator {  // one per process
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Element-wise sum over the ranks, in place; the result has the same bits on every rank (see
  // above). Every rank must pass the same n. n == 0 is a no-op.
  virtual void allreduce_sum(float* data, int64_t n) = 0;
  virtual void allreduce_sum(double* data, int64_t n) = 0;
  // Root's bytes to every rank (resized on the receivers; any size).
  virtual void broadcast(std::vector<uint8_t>& bytes, int root) = 0;
  virtual void barrier() = 0;
  // "single process" or "MPI (Open MPI v4.1.4, ...)", for logs.
  virtual std::string description() const = 0;
};

// True when the environment says this process was started by an MPI launcher (mpirun / mpiexec
// / srun: OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_SIZE or PMI_RANK is set).
bool launched_by_mpi();

// MPI when launched_by_mpi() and the build has MPI (BIGBIRD_HAVE_MPI); otherwise a
// single-process communicator (rank 0 of 1) that never touches MPI. Under an MPI launcher in a
// build without MPI: throws bigbird::Error. MPI is initialised by the first call and finalised
// when that Communicator is destroyed: only one MPI communicator may exist per process, and MPI
// cannot be started again after it (both throw bigbird::Error).
std::unique_ptr<Communicator> make_communicator();

// The single-process communicator, whatever the environment (tests, tools).
std::unique_ptr<Communicator> make_single_process_communicator();

}  // namespace bigbird::train
