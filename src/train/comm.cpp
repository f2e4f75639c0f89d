// Communicators: single-process (no MPI at all) and MPI (deterministic rank-order reductions).
#include "train/comm.h"

#include <algorithm>
#include <cstdlib>
#include <exception>

#include "core/error.h"

#ifdef BIGBIRD_HAVE_MPI
// The MPI C API only: no deprecated C++ bindings (Open MPI's mpicxx.h, which also warns).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace bigbird::train {

namespace {

void check_count(const void* data, int64_t n) {
  BB_CHECK(n >= 0, "allreduce_sum: the element count must not be negative, got ", n);
  BB_CHECK(n == 0 || data != nullptr, "allreduce_sum: null buffer for ", n, " elements");
}

class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(float* data, int64_t n) override { check_count(data, n); }
  void allreduce_sum(double* data, int64_t n) override { check_count(data, n); }
  void broadcast(std::vector<uint8_t>&, int root) override {
    BB_CHECK(root == 0, "broadcast: root rank ", root, " does not exist (single process: rank 0 of 1)");
  }
  void barrier() override {}
  std::string description() const override { return "single process"; }
};

#ifdef BIGBIRD_HAVE_MPI

// Elements per reduction segment: bounds the temporary buffer (one segment) and keeps every MPI
// count and displacement far below INT_MAX.
constexpr int64_t kSegment = int64_t{1} << 22;
// Bytes per broadcast message.
constexpr int64_t kBroadcastChunk = int64_t{1} << 30;

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<size_t>(len));
}

void mpi_check(int code, const char* what) {
  if (code != MPI_SUCCESS) fail("MPI: ", what, " failed: ", mpi_error_text(code));
}

template <typename T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<float>() {
  return MPI_FLOAT;
}
template <>
MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int finalized = 0, initialized = 0;
    MPI_Finalized(&finalized);
    if (finalized) fail("MPI: this process already finalised MPI; it cannot be started again");
    MPI_Initialized(&initialized);
    if (initialized) fail("MPI: already initialised in this process (only one MPI communicator may exist per process)");
    int provided = 0;
    const int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) fail("MPI: MPI_Init_thread failed (error ", rc, ")");
    exceptions_at_start_ = std::uncaught_exceptions();
    // Errors come back as codes (turned into bigbird::Error) instead of aborting the job.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    mpi_check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    mpi_check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(version, &len) == MPI_SUCCESS) {
      library_.assign(version, static_cast<size_t>(len));
      library_ = library_.substr(0, library_.find_first_of(",\n"));
    }
  }

  ~MpiCommunicator() override {
    // Unwinding an exception: another rank may be waiting in a collective, and MPI_Finalize would
    // wait for it forever. Leave without finalising: the CLI prints the error and exits 1, and
    // mpirun then ends the other ranks.
    if (std::uncaught_exceptions() > exceptions_at_start_) return;
    MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(float* data, int64_t n) override { reduce(data, n); }
  void allreduce_sum(double* data, int64_t n) override { reduce(data, n); }

  void broadcast(std::vector<uint8_t>& bytes, int root) override {
    BB_CHECK(root >= 0 && root < size_, "broadcast: root rank ", root, " does not exist (", size_, " ranks)");
    uint64_t n = rank_ == root ? bytes.size() : 0;
    mpi_check(MPI_Bcast(&n, 1, MPI_UINT64_T, root, MPI_COMM_WORLD), "MPI_Bcast (size)");
    if (rank_ != root) bytes.resize(static_cast<size_t>(n));
    for (int64_t at = 0; at < static_cast<int64_t>(n); at += kBroadcastChunk) {
      const int count = static_cast<int>(std::min<int64_t>(kBroadcastChunk, static_cast<int64_t>(n) - at));
      mpi_check(MPI_Bcast(bytes.data() + at, count, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    }
  }

  void barrier() override { mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

  std::string description() const override {
    return "MPI (" + std::to_string(size_) + " ranks" + (library_.empty() ? "" : ", " + library_) + ")";
  }

 private:
  // Rank-order sum, segment by segment: rank r owns the r-th slice of a segment, receives every
  // rank's copy of it (MPI_Alltoallv), folds them in rank order and the owners' slices are then
  // gathered everywhere (MPI_Allgatherv in place).
  template <typename T>
  void reduce(T* data, int64_t n) {
    check_count(data, n);
    // Every rank must agree on n: a mismatch would otherwise hang or corrupt memory.
    int64_t range[2] = {n, -n};
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, range, 2, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD),
              "MPI_Allreduce (element count)");
    if (range[0] != -range[1])
      fail("allreduce_sum: the ranks passed different element counts (from ", -range[1], " to ", range[0], ")");
    if (size_ == 1 || n == 0) return;
    const MPI_Datatype type = mpi_type<T>();
    const size_t p = static_cast<size_t>(size_);
    std::vector<int> counts(p), displs(p), recv_counts(p), recv_displs(p);
    std::vector<T> gathered;
    for (int64_t seg = 0; seg < n; seg += kSegment) {
      T* x = data + seg;
      const int64_t len = std::min(kSegment, n - seg);
      for (size_t r = 0; r < p; ++r) {
        const int64_t lo = len * static_cast<int64_t>(r) / size_, hi = len * static_cast<int64_t>(r + 1) / size_;
        displs[r] = static_cast<int>(lo);
        counts[r] = static_cast<int>(hi - lo);
      }
      const int mine = counts[static_cast<size_t>(rank_)];
      for (size_t r = 0; r < p; ++r) {
        recv_counts[r] = mine;
        recv_displs[r] = mine * static_cast<int>(r);
      }
      gathered.resize(static_cast<size_t>(mine) * p);
      mpi_check(MPI_Alltoallv(x, counts.data(), displs.data(), type, gathered.data(), recv_counts.data(),
                              recv_displs.data(), type, MPI_COMM_WORLD),
                "MPI_Alltoallv");
      T* out = x + displs[static_cast<size_t>(rank_)];
      for (int k = 0; k < mine; ++k) {
        T s = gathered[static_cast<size_t>(k)];
        for (size_t r = 1; r < p; ++r) s += gathered[r * static_cast<size_t>(mine) + static_cast<size_t>(k)];
        out[k] = s;
      }
      mpi_check(MPI_Allgatherv(MPI_IN_PLACE, 0, type, x, counts.data(), displs.data(), type, MPI_COMM_WORLD),
                "MPI_Allgatherv");
    }
  }

  int rank_ = 0, size_ = 1;
  int exceptions_at_start_ = 0;
  std::string library_;
};

#endif  // BIGBIRD_HAVE_MPI

}  // namespace

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

std::unique_ptr<Communicator> make_single_process_communicator() {
  return std::make_unique<SingleProcessCommunicator>();
}

std::unique_ptr<Communicator> make_communicator() {
  if (!launched_by_mpi()) return make_single_process_communicator();
#ifdef BIGBIRD_HAVE_MPI
  return std::make_unique<MpiCommunicator>();
#else
  fail(
      "this process was started by mpirun, but this bigbird build has no MPI support (rebuild with MPI: "
      "scripts/install-deps.sh installs Open MPI)");
#endif
}

}  // namespace bigbird::train
