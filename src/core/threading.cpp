#include "core/threading.h"

#include <cblas.h>

namespace bigbird {

ThreadingContext::ThreadingContext(int threads) : threads_(threads > 0 ? threads : omp_get_num_procs()) {
  pin_blas_to_one_thread();
}

void pin_blas_to_one_thread() {
  if (openblas_get_num_threads() == 1) return;
  const int omp_default = omp_get_max_threads();
  openblas_set_num_threads(1);
  omp_set_num_threads(omp_default);
}

}  // namespace bigbird
