// Kernel-level benchmarks (Google Benchmark; build with -DBIGBIRD_BENCH=ON, run
// build/bigbird_bench_kernels). Reports GFLOP/s of
//   - the block-sparse attention core (block_sparse_attention: keys transposed once, then per
//     query block Q·Kᵀ over its key blocks, softmax and ·V), hidden 768 = heads x d, 4096 tokens,
//     ITC layout with r = 3, for block sizes 16-128 and head dims 32-128, per SIMD path and
//     thread count; FLOPs = 4·d per (query, key) pair actually attended;
//   - full attention at 2048 tokens;
//   - the backward of both (attention_backward.h) on the same shapes, block 64, d 64; FLOPs =
//     10·d per (query, key) pair: the five products S = QKᵀ (recomputed), dP, dQ, dK and dV; full
//     attention also with dropout on the probabilities (forward + backward timed, 14·d per pair);
//   - sgemm (OpenBLAS) on the encoder's shapes, for the machine's ceiling, through linear(g_ctx, )
//     (fixed tiles, single-threaded BLAS in each) and with OpenBLAS's own threading;
//   - the bf16 product (AVX512-BF16) on the same shapes, and the int8 product (dynamic
//     quantisation) per unit (0 AVX512-VNNI, 1 AVX2, 2 scalar); GELU and LayerNorm per SIMD path.
// Arguments: block, d, threads, SIMD path (0 scalar, 1 AVX2, 2 AVX-512).
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <random>
#include <vector>

#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/attention_backward.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_int8.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "sparse/layout.h"
#include "sparse/plan.h"

using namespace bigbird;

namespace {

std::vector<float> random_floats(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

ThreadingContext g_ctx(1);  // the threads of the benchmark being run
void set_threads(int t) { g_ctx = ThreadingContext(t); }

void BM_BlockSparseAttention(benchmark::State& st) {
  const int B = static_cast<int>(st.range(0)), d = static_cast<int>(st.range(1));
  const int threads = static_cast<int>(st.range(2));
  const SimdPath path = static_cast<SimdPath>(st.range(3));
  if (!simd_path_supported(path)) {
    st.SkipWithError("SIMD path not supported by this CPU");
    return;
  }
  set_threads(threads);
  const int64_t L = 4096, H = 768, heads = H / d;
  const int n = static_cast<int>(L / B);
  BlockLayout layout =
      itc_layout(n, B, static_cast<int>(heads), seeded_random_plan(1, 0, n, 3, static_cast<int>(heads)));
  auto q = random_floats(static_cast<size_t>(L * H), 1), k = random_floats(q.size(), 2), v = random_floats(q.size(), 3);
  std::vector<float> out(q.size()), mask(static_cast<size_t>(L), 1.0f);
  AttentionInput a{q.data(), k.data(), v.data(), H, out.data(), H, L, static_cast<int>(heads), d, mask.data()};
  AttentionWorkspace ws;
  double pairs = 0;  // (query, key) pairs attended
  for (int h = 0; h < heads; ++h)
    for (int qb = 0; qb < n; ++qb) pairs += static_cast<double>(layout.row(h, qb).size()) * B * B;
  for (auto _ : st) block_sparse_attention(g_ctx, a, layout, &ws, path);
  st.SetLabel(simd_path_name(path));
  st.counters["GFLOP/s"] = benchmark::Counter(4.0 * d * pairs / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_FullAttention(benchmark::State& st) {
  const int d = static_cast<int>(st.range(0)), threads = static_cast<int>(st.range(1));
  const SimdPath path = static_cast<SimdPath>(st.range(2));
  if (!simd_path_supported(path)) {
    st.SkipWithError("SIMD path not supported by this CPU");
    return;
  }
  set_threads(threads);
  const int64_t L = 2048, H = 768, heads = H / d;
  auto q = random_floats(static_cast<size_t>(L * H), 1), k = random_floats(q.size(), 2), v = random_floats(q.size(), 3);
  std::vector<float> out(q.size());
  AttentionInput a{q.data(), k.data(), v.data(), H, out.data(), H, L, static_cast<int>(heads), d, nullptr};
  AttentionWorkspace ws;
  for (auto _ : st) full_attention(g_ctx, a, &ws, path);
  st.SetLabel(simd_path_name(path));
  st.counters["GFLOP/s"] = benchmark::Counter(4.0 * d * heads * static_cast<double>(L * L) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void BM_BlockSparseAttentionBackward(benchmark::State& st) {
  const int B = static_cast<int>(st.range(0)), d = static_cast<int>(st.range(1));
  set_threads(static_cast<int>(st.range(2)));
  const int64_t L = 4096, H = 768, heads = H / d;
  const int n = static_cast<int>(L / B);
  BlockLayout layout =
      itc_layout(n, B, static_cast<int>(heads), seeded_random_plan(1, 0, n, 3, static_cast<int>(heads)));
  auto q = random_floats(static_cast<size_t>(L * H), 1), k = random_floats(q.size(), 2), v = random_floats(q.size(), 3);
  auto dout = random_floats(q.size(), 4);
  std::vector<float> dq(q.size()), dk(q.size()), dv(q.size()), mask(static_cast<size_t>(L), 1.0f);
  AttentionInput a{q.data(), k.data(), v.data(), H, nullptr, H, L, static_cast<int>(heads), d, mask.data()};
  double pairs = 0;
  for (int h = 0; h < heads; ++h)
    for (int qb = 0; qb < n; ++qb) pairs += static_cast<double>(layout.row(h, qb).size()) * B * B;
  for (auto _ : st) block_sparse_attention_backward(g_ctx, a, layout, dout.data(), dq.data(), dk.data(), dv.data());
  st.counters["GFLOP/s"] = benchmark::Counter(10.0 * d * pairs / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// Full attention's backward; with dropout 1, HF's training dropout on the probabilities at p = 0.1
// (the forward then runs on sgemm tiles as well: both are timed, forward then backward).
void BM_FullAttentionBackward(benchmark::State& st) {
  const int d = static_cast<int>(st.range(0));
  set_threads(static_cast<int>(st.range(1)));
  const ProbsDropout drop = st.range(2) ? ProbsDropout{0.1f, 1.0f / 0.9f, 12345, 0} : ProbsDropout{};
  const int64_t L = 2048, H = 768, heads = H / d;
  auto q = random_floats(static_cast<size_t>(L * H), 1), k = random_floats(q.size(), 2), v = random_floats(q.size(), 3);
  auto dout = random_floats(q.size(), 4);
  std::vector<float> dq(q.size()), dk(q.size()), dv(q.size());
  std::vector<float> out(q.size());
  AttentionInput a{q.data(), k.data(), v.data(), H, out.data(), H, L, static_cast<int>(heads), d, nullptr};
  for (auto _ : st) {
    if (drop.active()) full_attention(g_ctx, a, nullptr, SimdPath::Auto, drop);
    full_attention_backward(g_ctx, a, dout.data(), dq.data(), dk.data(), dv.data(), SimdPath::Auto, drop);
  }
  st.counters["GFLOP/s"] =
      benchmark::Counter((drop.active() ? 14.0 : 10.0) * d * heads * static_cast<double>(L * L) / 1e9,
                         benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Sgemm(benchmark::State& st) {
  const int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  set_threads(static_cast<int>(st.range(3)));
  auto x = random_floats(static_cast<size_t>(M * K), 1), w = random_floats(static_cast<size_t>(N * K), 2);
  std::vector<float> y(static_cast<size_t>(M * N));
  for (auto _ : st) linear(g_ctx, x.data(), M, K, w.data(), nullptr, N, y.data());
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// OpenBLAS's own threading on the whole product (what linear(g_ctx, ) did before its tiling).
void BM_SgemmBlasThreads(benchmark::State& st) {
  const int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  set_threads(static_cast<int>(st.range(3)));
  auto x = random_floats(static_cast<size_t>(M * K), 1), w = random_floats(static_cast<size_t>(N * K), 2);
  std::vector<float> y(static_cast<size_t>(M * N));
  for (auto _ : st)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K),
                1.0f, x.data(), static_cast<int>(K), w.data(), static_cast<int>(K), 0.0f, y.data(),
                static_cast<int>(N));
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// The opt-in bf16 product (AVX512-BF16), weights packed once.
void BM_LinearBf16(benchmark::State& st) {
  if (!bf16_supported()) {
    st.SkipWithError("no AVX512-BF16 on this CPU");
    return;
  }
  const int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  set_threads(static_cast<int>(st.range(3)));
  auto x = random_floats(static_cast<size_t>(M * K), 1), w = random_floats(static_cast<size_t>(N * K), 2);
  std::vector<float> y(static_cast<size_t>(M * N));
  PackedWeightBf16 pw = pack_weight_bf16(g_ctx, w.data(), N, K);
  for (auto _ : st) linear_bf16(g_ctx, x.data(), M, pw, nullptr, y.data());
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// The opt-in int8 product (activations quantised in each call), weights packed once; per unit.
void BM_LinearInt8(benchmark::State& st) {
  constexpr Int8Unit kUnit[] = {Int8Unit::Avx512Vnni, Int8Unit::Avx2, Int8Unit::Scalar};
  const Int8Unit unit = kUnit[st.range(4)];
  if (!int8_unit_supported(unit)) {
    st.SkipWithError("int8 unit not supported by this CPU");
    return;
  }
  const int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  set_threads(static_cast<int>(st.range(3)));
  auto x = random_floats(static_cast<size_t>(M * K), 1), w = random_floats(static_cast<size_t>(N * K), 2);
  std::vector<float> y(static_cast<size_t>(M * N));
  PackedWeightInt8 pw = pack_weight_int8(g_ctx, w.data(), N, K);
  for (auto _ : st) linear_int8(g_ctx, x.data(), M, pw, nullptr, y.data(), false, unit);
  st.SetLabel(int8_unit_name(unit));
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_GeluNew(benchmark::State& st) {
  const SimdPath path = static_cast<SimdPath>(st.range(0));
  if (!simd_path_supported(path)) {
    st.SkipWithError("SIMD path not supported by this CPU");
    return;
  }
  set_threads(1);
  auto x = random_floats(2048 * 3072, 1);
  for (auto _ : st) bias_activate_inplace(g_ctx, Activation::GeluNew, x.data(), 2048, 3072, nullptr, path);
  st.SetLabel(simd_path_name(path));
  st.counters["Gelem/s"] = benchmark::Counter(2048.0 * 3072 / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_LayerNorm(benchmark::State& st) {
  const SimdPath path = static_cast<SimdPath>(st.range(0));
  if (!simd_path_supported(path)) {
    st.SkipWithError("SIMD path not supported by this CPU");
    return;
  }
  set_threads(1);
  auto x = random_floats(4096 * 768, 1), r = random_floats(4096 * 768, 2), g = random_floats(768, 3);
  for (auto _ : st)
    layernorm_fused(g_ctx, x.data(), r.data(), g.data(), x.data(), 4096, 768, g.data(), g.data(), 1e-12f, path);
  st.SetLabel(simd_path_name(path));
  st.counters["GB/s"] = benchmark::Counter(3.0 * 4096 * 768 * 4 / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_BlockSparseAttention)
    ->ArgNames({"block", "d", "threads", "simd"})
    ->ArgsProduct({{16, 32, 64, 128}, {32, 64, 128}, {1, 2}, {2}})
    ->Args({64, 64, 1, 1})
    ->Args({64, 64, 1, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_FullAttention)
    ->ArgNames({"d", "threads", "simd"})
    ->ArgsProduct({{64}, {1, 2}, {2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_BlockSparseAttentionBackward)
    ->ArgNames({"block", "d", "threads"})
    ->ArgsProduct({{64}, {64}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_FullAttentionBackward)
    ->ArgNames({"d", "threads", "dropout"})
    ->ArgsProduct({{64}, {1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Sgemm)
    ->ArgNames({"M", "N", "K", "threads"})
    ->ArgsProduct({{4096}, {768}, {768}, {1, 2}})
    ->Args({4096, 3072, 768, 2})
    ->Args({4096, 768, 3072, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_SgemmBlasThreads)
    ->ArgNames({"M", "N", "K", "threads"})
    ->ArgsProduct({{4096}, {768}, {768}, {1, 2}})
    ->Args({4096, 3072, 768, 2})
    ->Args({4096, 768, 3072, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_LinearBf16)
    ->ArgNames({"M", "N", "K", "threads"})
    ->ArgsProduct({{4096}, {768}, {768}, {1, 2}})
    ->Args({4096, 3072, 768, 2})
    ->Args({4096, 768, 3072, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_LinearInt8)
    ->ArgNames({"M", "N", "K", "threads", "unit"})
    ->ArgsProduct({{4096}, {768}, {768}, {1, 2}, {0, 1}})
    ->Args({4096, 3072, 768, 1, 0})
    ->Args({4096, 3072, 768, 2, 0})
    ->Args({4096, 768, 3072, 1, 0})
    ->Args({4096, 768, 3072, 2, 0})
    ->Args({4096, 3072, 768, 2, 1})
    ->Args({4096, 768, 3072, 2, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_GeluNew)->ArgNames({"simd"})->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LayerNorm)->ArgNames({"simd"})->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
