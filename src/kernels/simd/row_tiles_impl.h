// Register-tile row splitting shared by the attention kernels (attention_impl.h, float32 on every
// path; attention_bf16_avx512.cpp). Included inside a per-ISA namespace, after a vector type
// `Vec` (vec_*.h) is defined: no includes of its own.

// Rows per register tile for NV vectors of columns: as many as the accumulators allow, at most 12.
template <int NV>
constexpr int tile_rows() {
  return Vec::kAcc / NV < 12 ? Vec::kAcc / NV : 12;
}

// Calls f.template operator()<R>() with R == rows (1 ≤ rows ≤ MaxR): register tiles of exactly
// the rows there are.
template <int MaxR, class F>
inline void with_rows(int rows, F&& f) {
  if constexpr (MaxR >= 1) {
    if (rows == MaxR) return f.template operator()<MaxR>();
    with_rows<MaxR - 1>(rows, f);
  }
}

// Splits nq rows into the fewest tiles of at most MaxR rows, of balanced sizes (64 rows with
// MaxR = 6: 9 tiles of 6 and 2 of 5, none wasted), and calls f(first_row, rows) per tile.
template <int MaxR, class F>
inline void for_row_tiles(int nq, F&& f) {
  const int tiles = (nq + MaxR - 1) / MaxR, base = nq / tiles, extra = nq % tiles;
  for (int t = 0, i0 = 0; t < tiles; ++t) {
    const int rows = base + (t < extra ? 1 : 0);
    f(i0, rows);
    i0 += rows;
  }
}
