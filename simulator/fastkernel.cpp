// The compiled render kernel of the PyTorch engine's CPU path (loaded by simulator/compiled.py, which builds it once
// per source hash into the user's cache folder). It evaluates the usual render case (SQUARE shape, no
// interpolation, no oversample_* flags, flat detector) for a list of pixels, from the pixel geometry to the final
// pixel value, in one pass.
//
// Layout: W pixels at a time, one per SIMD lane (GCC/clang vector types; AVX2 intrinsics for sqrt, FMA and gathers
// where the target has them). Each lane runs the C reference's loop (layer, sub-pixel slow, fast, source, tick,
// domain) in that order, so every pixel's sum is accumulated in the C's order.
//
// One code path, two working types R:
//  - double: the C reference's arithmetic operation for operation (built with -ffp-contract=off): the same dot
//    products, sin(N·x)/sin(x) with x = pi·h, F_cell^2·F_latt^2 as ((F·F)·F_latt)·F_latt, the same scaling order.
//    Only sin differs in implementation: `sin_v` is a vectorised sine within 2 ulp of libm's (equal on ~86% of
//    arguments), so the float32 image is bit-identical to the C's except where such a 1e-16 difference happens to
//    cross a float32 rounding boundary (measured: none on the test cases, 1-3 faint pixels of 1e5 on CLI-FLAGS-003,
//    as many as the torch path's).
//  - float: Miller indices and their rounding in double (|h| ~ 1e2 needs 1e-7 absolute), then f = h - h0 in
//    [-1/2, 1/2] in float and sin(N·pi·f)/sin(pi·f) from two short polynomials in f and g = N·f - round(N·f)
//    (both sine arguments in [-pi/2, pi/2]); F^2 from a float table; float accumulation.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <vector>
#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace {

constexpr int W = 8;                       // pixels per block (lanes)
// float path: Miller indices from hoisted L/lambda tables and sub-pixel positions by FMA where the target has
// AVX-512 (32 vector registers hold the 8-lane doubles); with 16 AVX2 registers the extra live vectors spill, which
// measured 1.5-3x slower than the direct form, so narrower targets keep it.
#if defined(__AVX512F__)
constexpr bool HOIST = true;
#else
constexpr bool HOIST = false;
#endif
#define NB_INLINE inline __attribute__((always_inline))
constexpr double NB_PI = 3.14159265358979323846;

}  // namespace

extern "C" {

// Mirrored field for field by compiled.py (NBParams); only doubles, int64 and pointers, so no padding questions.
struct NBParams {
    double pixel, sub, close_distance, thickstep, mu, thick, dmin, polar_K, I_bg, r_e_sqr, fluence, steps,
        default_F, Na, Nb, Nc;
    double pix0[3], fdet[3], sdet[3], odet[3], polar_axis[3];
    int64_t N, layers, S, TM, hkls, nopolar, point_pixel;
    int64_t h_min, k_min, l_min, h_n, k_n, l_n;                 // F grid origin and extents
    int64_t first_pix, first_t, first_ss, first_sf, first_src;  // the carry-over's first path (-1: none here)
    int64_t libm_sin;        // 1: N·pi·h may exceed REDUCE_MAX, so the float64 path calls libm's sin
    int64_t padded;          // 1: the grid covers every reachable index (default_F around the file's cells)
    const double* src_dir;   // (S, 3) source directions (= -incident)
    const double* lambdas;   // (S,) m
    const double* latN;      // (TM, 9) a, b, c (m) of every (tick, domain), ordinary paths
    const double* latF;      // (TM, 9) the same for the run's first path
    const double* F64;       // (cells + 1) F of the grid, row-major (h, k, l); the last cell holds default_F
    const float* F2f;        // (cells + 1) F^2 rounded to float, same layout
};

}  // extern "C"

namespace {

// Lane vectors (GCC/clang vector extensions: elementwise IEEE operations, lowered to the target's SIMD width).
typedef double vd __attribute__((vector_size(8 * W)));
typedef float vf __attribute__((vector_size(4 * W)));
typedef int64_t vl __attribute__((vector_size(8 * W)));   // masks of vd comparisons
typedef int32_t vi __attribute__((vector_size(4 * W)));   // masks of vf comparisons
typedef double vd4 __attribute__((vector_size(32)));
union VD { vd v; vd4 h[W / 4]; };

NB_INLINE vd splat(double x) { return vd{} + x; }

// Round to the nearest integer (ties to even), exact for |x| < 2^51 (2^22 in float): adding and removing
// 1.5·2^52 leaves no fraction bits. Plain arithmetic, so it vectorises on every target.
NB_INLINE vd rint_v(vd x) { return (x + 0x1.8p52) - 0x1.8p52; }
NB_INLINE vf rint_v(vf x) { return (x + 0x1.8p23f) - 0x1.8p23f; }

// Lane selects of doubles: one 8-lane compare and blend with AVX-512; without it, formed on 4-lane halves (GCC
// lowers 8-lane double comparisons lane by lane there, but 4-lane ones to one compare and one blend). A select
// picks bits, so both forms give the same values.
NB_INLINE vd sel_lt(vd a, vd b, vd x, vd y)     // a < b ? x : y
{
#if defined(__AVX512F__)
    return (a < b) ? x : y;
#else
    VD A{a}, B{b}, X{x}, Y{y}, R;
    for (int j = 0; j < W / 4; ++j) R.h[j] = (A.h[j] < B.h[j]) ? X.h[j] : Y.h[j];
    return R.v;
#endif
}
NB_INLINE vd sel_eq(vd a, vd b, vd x, vd y)     // a == b ? x : y
{
#if defined(__AVX512F__)
    return (a == b) ? x : y;
#else
    VD A{a}, B{b}, X{x}, Y{y}, R;
    for (int j = 0; j < W / 4; ++j) R.h[j] = (A.h[j] == B.h[j]) ? X.h[j] : Y.h[j];
    return R.v;
#endif
}
// Whether any lane of x is 0 (either sign).
NB_INLINE bool any_zero(vd x)
{
#if defined(__AVX512F__)
    __m512d h[W / 8];
    std::memcpy(h, &x, sizeof h);
    unsigned m = 0;
    for (int j = 0; j < W / 8; ++j) m |= _mm512_cmp_pd_mask(h[j], _mm512_setzero_pd(), _CMP_EQ_OQ);
    return m != 0;
#else
    bool z = false;
    for (int i = 0; i < W; ++i) z |= x[i] == 0.0;
    return z;
#endif
}
NB_INLINE vd ceil_v(vd x) { const vd r = rint_v(x); return sel_lt(r, x, r + 1.0, r); }

#if defined(__AVX__)
// An intrinsic op applied to each P-sized piece of lane vectors (P: __m512d, __m256d, __m512, __m256): the
// vectors are copied into pieces, op'd piece by piece and copied back (the compiler keeps them in registers).
template <class P, class V, class Op> NB_INLINE V per_piece(Op op, V a)
{
    P x[sizeof(V) / sizeof(P)];
    std::memcpy(x, &a, sizeof x);
    for (P& v : x) v = op(v);
    V r;
    std::memcpy(&r, x, sizeof r);
    return r;
}
template <class P, class V, class Op> NB_INLINE V per_piece(Op op, V a, V b, V c)
{
    constexpr int n = sizeof(V) / sizeof(P);
    P x[n], y[n], z[n];
    std::memcpy(x, &a, sizeof x);
    std::memcpy(y, &b, sizeof y);
    std::memcpy(z, &c, sizeof z);
    for (int j = 0; j < n; ++j) x[j] = op(x[j], y[j], z[j]);
    V r;
    std::memcpy(&r, x, sizeof r);
    return r;
}
#endif

NB_INLINE vd sqrt_v(vd x)
{
#if defined(__AVX512F__)
    return per_piece<__m512d>([](__m512d v) { return _mm512_sqrt_pd(v); }, x);
#elif defined(__AVX__)
    return per_piece<__m256d>([](__m256d v) { return _mm256_sqrt_pd(v); }, x);
#else
    vd r;
    for (int i = 0; i < W; ++i) r[i] = std::sqrt(x[i]);
    return r;
#endif
}

// 1/sqrt(x) for the float path, x > 0: AVX-512's 14-bit estimate and two Newton steps in double (relative error
// about 2^-14 → 2^-27 → below 2^-52, i.e. within a few ulp of 1/sqrt(x)), in place of a square root and a
// division, the two slowest instructions of a pixel (about a sixth of a one-path pixel's time). Without AVX-512
// it is 1/sqrt(x).
NB_INLINE vd rsqrt_v(vd x)
{
#if defined(__AVX512F__)
    vd y = per_piece<__m512d>([](__m512d v) { return _mm512_rsqrt14_pd(v); }, x);
    const vd hx = 0.5 * x;
    y = y * (1.5 - hx * (y * y));
    y = y * (1.5 - hx * (y * y));
    return y;
#else
    return 1.0 / sqrt_v(x);
#endif
}

// a·b + c, fused where the target has FMA (used only in polynomial evaluations, whose accuracy it improves; the
// operations that must round as the C's do never go through it).
NB_INLINE vd fma_v(vd a, vd b, vd c)
{
#if defined(__AVX512F__)
    return per_piece<__m512d>([](__m512d x, __m512d y, __m512d z) { return _mm512_fmadd_pd(x, y, z); }, a, b, c);
#elif defined(__FMA__)
    return per_piece<__m256d>([](__m256d x, __m256d y, __m256d z) { return _mm256_fmadd_pd(x, y, z); }, a, b, c);
#else
    return a * b + c;
#endif
}
NB_INLINE vf fma_v(vf a, vf b, vf c)
{
#if defined(__FMA__)
    return per_piece<__m256>([](__m256 x, __m256 y, __m256 z) { return _mm256_fmadd_ps(x, y, z); }, a, b, c);
#else
    return a * b + c;
#endif
}

// pi split into 33 + 33 + 53 significant bits (from an integer Machin computation of pi): k·P1 and k·P2 are
// exact for |k| < 2^20, so x - k·pi is formed with about 2^-100 absolute error.
constexpr double PI_1 = 0x1.921fb54400000p+1;
constexpr double PI_2 = 0x1.0b4611a600000p-33;
constexpr double PI_3 = 0x1.3198a2e037073p-68;
constexpr double INV_PI = 0x1.45f306dc9c883p-2;
// Within 2 ulp of sin for |x| below this; fastpath sets libm_sin where N·pi·h can reach it.
constexpr double REDUCE_MAX = 1.0e5;

// Taylor coefficients (-1)^n/(2n+1)!: on |r| <= pi/2 the first omitted term (r^25/25!) is below 1e-20.
constexpr double SIN_COEF[] = {-1.0 / 25852016738884976640000.0, 1.0 / 51090942171709440000.0,
                               -1.0 / 121645100408832000.0, 1.0 / 355687428096000.0, -1.0 / 1307674368000.0,
                               1.0 / 6227020800.0, -1.0 / 39916800.0, 1.0 / 362880.0, -1.0 / 5040.0, 1.0 / 120.0,
                               -1.0 / 6.0};   // r^23 ... r^3

// sin of W lanes (see the file comment for its accuracy): x = k·pi + r, r = rh + rl in [-pi/2, pi/2], then
// (-1)^k · sin r with sin(rh + rl) = rh + rh·z·P(z) + rl·(1 - z/2) (z = rh^2; the rl term is below an ulp, so its
// cos factor needs only two terms). One polynomial and no quadrant blend: about 40 operations per 4 lanes.
NB_INLINE vd sin_v(vd x)
{
    const vd k = rint_v(x * INV_PI);
    const vd r = x - k * PI_1;                          // exact
    const vd w = k * PI_2;                              // exact
    const vd rh = r - w;
    const vd bb = rh - r;                               // TwoSum of r and -w: rh + rl = r - w exactly
    const vd rl = ((r - (rh - bb)) + (-w - bb)) - k * PI_3;
    const vd z = rh * rh;
    vd ps = splat(SIN_COEF[0]);
    for (int i = 1; i < 11; ++i) ps = fma_v(ps, z, splat(SIN_COEF[i]));
    const vd sn = rh + (rh * z * ps + rl * (1.0 - 0.5 * z));
    // (-1)^k from the integer k: par = k mod 2 (the rint argument is never a half-integer, so no ties).
    const vd par = k - 2.0 * rint_v((k - 0.5) * 0.5);
    return (1.0 - 2.0 * par) * sn;
}

// sin(pi·x)/x = sum SP_k (x^2)^k on |x| <= 1/2 within 2.1e-8 relative (the same fit as kernel.SINPI_COEF).
constexpr float SP0 = 3.1415926524470317f, SP1 = -5.167711443428678f, SP2 = 2.550104800757876f,
                SP3 = -0.5984715179339419f, SP4 = 0.07803295397341155f;
// Added to f so that f == 0 gives N·t/t = N; below half an ulp of any |f| >= 2^-16 (and it moves a smaller f by
// 1e-12, which changes F_latt by less than 1e-20 relative). It keeps each denominator f·P(f^2) above 2^-40, so the
// product of the three stays a normal float (2^-120 > 2^-126): one division for the three axes.
constexpr float TINY32 = 0x1p-40f;

#if defined(__AVX512F__)
// Two axes' W float lanes side by side in one AVX-512 vector (lattice_ab_packed).
typedef float vf2 __attribute__((vector_size(8 * W)));
static_assert(W == 8, "vf2 is one __m512 of two 8-lane axes");

NB_INLINE vf2 fma_v(vf2 a, vf2 b, vf2 c)
{
    return per_piece<__m512>([](__m512 x, __m512 y, __m512 z) { return _mm512_fmadd_ps(x, y, z); }, a, b, c);
}
NB_INLINE vf2 rint_v(vf2 x) { return (x + 0x1.8p23f) - 0x1.8p23f; }
#endif

template <class V> NB_INLINE V sinpi_poly(V y)
{
    const V c = V{};
    return fma_v(fma_v(fma_v(fma_v(c + SP4, y, c + SP3), y, c + SP2), y, c + SP1), y, c + SP0);
}
NB_INLINE vf sinpi_over_x(vf y) { return sinpi_poly(y); }

#if defined(__AVX512F__)
// The float lattice factor with axes a and b side by side in one 16-float vector (lanes 0-7: a, 8-15: b), so that
// AVX-512 evaluates both axes' sine polynomials in one instruction each instead of two 8-float ones. Every lane sees
// the same operations as lattice_v's axis loop, and the axes are combined in its order ((1·F_a)·F_b)·F_c over
// ((1·d_a)·d_b)·d_c: the same bits with a third fewer float instructions.
NB_INLINE vf lattice_ab_packed(const NBParams& p, const vd (&h)[3], const vd (&h0)[3])
{
    const vf fa = __builtin_convertvector(h[0] - h0[0], vf) + TINY32;
    const vf fb = __builtin_convertvector(h[1] - h0[1], vf) + TINY32;
    const vf2 f = __builtin_shufflevector(fa, fb, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const vf2 n = __builtin_shufflevector(vf{} + float(p.Na), vf{} + float(p.Nb), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                          11, 12, 13, 14, 15);
    vf2 g = n * f;
    g = g - rint_v(g);
    const vf2 num = g * sinpi_poly(g * g);
    const vf2 dn = f * sinpi_poly(f * f);
    vf FL = __builtin_shufflevector(num, num, 0, 1, 2, 3, 4, 5, 6, 7) *
            __builtin_shufflevector(num, num, 8, 9, 10, 11, 12, 13, 14, 15);
    vf den = __builtin_shufflevector(dn, dn, 0, 1, 2, 3, 4, 5, 6, 7) *
             __builtin_shufflevector(dn, dn, 8, 9, 10, 11, 12, 13, 14, 15);
    if (p.Nc > 1) {
        const vf fc = __builtin_convertvector(h[2] - h0[2], vf) + TINY32;
        vf gc = float(p.Nc) * fc;
        gc = gc - rint_v(gc);
        FL = FL * (gc * sinpi_over_x(gc * gc));
        den = den * (fc * sinpi_over_x(fc * fc));
    }
    return FL / den;
}
#endif

template <class R> struct Lanes;
template <> struct Lanes<double> { typedef vd type; typedef vl mask; };
template <> struct Lanes<float> { typedef vf type; typedef vi mask; };

// Lattice factor F_latt of W paths from their fractional Miller indices h[3] (SQUARE shape), as
// (F_a·F_b)·F_c; h0 = ceil(h - 1/2) (the C's rounding) is filled when the float path or the F_cell lookup needs it.
template <class R>
NB_INLINE typename Lanes<R>::type lattice_v(const NBParams& p, const vd (&h)[3], vd (&h0)[3], bool need_h0,
                                            bool packed = true)
{
    typedef typename Lanes<R>::type vr;
#if defined(__AVX512F__)
    if constexpr (sizeof(R) != sizeof(double))
        if (packed && HOIST && p.Na > 1 && p.Nb > 1) {   // h0 as the loop below forms it (HOIST: nearest unless needed)
            for (int a = 0; a < 3; ++a) h0[a] = need_h0 ? ceil_v(h[a] - 0.5) : rint_v(h[a]);
            return lattice_ab_packed(p, h, h0);
        }
#endif
    const double Nv[3] = {p.Na, p.Nb, p.Nc};
    vr FL = vr{} + R(1);
    vf den = vf{} + 1.0f;   // float: the axes' denominators, divided once at the end
    for (int a = 0; a < 3; ++a) {
        const double Na = Nv[a];
        // float without an F lookup: f = h - rint(h) gives F_latt the same value as h - ceil(h - 1/2) (they
        // differ only at exact half-integers, where the sine ratio is even in f), two operations fewer (with
        // AVX-512 only: on AVX2 targets GCC's code for it measured 25% slower than the ceil form).
        const bool nearest = HOIST && sizeof(R) != sizeof(double) && !need_h0;
        if (need_h0 || (sizeof(R) != sizeof(double) && !nearest)) h0[a] = ceil_v(h[a] - 0.5);
        if (nearest) h0[a] = rint_v(h[a]);
        if (!(Na > 1)) continue;                          // F_a = 1: FL·1 is FL
        vr fa;
        if constexpr (sizeof(R) == sizeof(double)) {
            const vd x = NB_PI * h[a];
            const vd y = Na * x;
            vd sx, sy;
            if (p.libm_sin) {
                for (int i = 0; i < W; ++i) {
                    sx[i] = std::sin(x[i]);
                    sy[i] = std::sin(y[i]);
                }
            } else {
                sx = sin_v(x);
                sy = sin_v(y);
            }
            fa = sel_eq(x, splat(0.0), splat(Na), sy / sx);
        } else {
            const vf f = __builtin_convertvector(h[a] - h0[a], vf) + TINY32;
            vf g = float(Na) * f;
            g = g - rint_v(g);
            fa = g * sinpi_over_x(g * g);                 // the numerator
            den = den * (f * sinpi_over_x(f * f));
        }
        FL = FL * fa;                                     // 1·F_a is F_a: the product is the C's (F_a·F_b)·F_c
    }
    if constexpr (sizeof(R) != sizeof(double)) FL = FL / den;
    return FL;
}

// F (R = double) or F^2 (R = float) of W integral index triples; default_F outside the grid.
template <class R>
NB_INLINE typename Lanes<R>::type f_cell_v(const NBParams& p, const vd (&h0)[3])
{
    typename Lanes<R>::type out;
    if (p.hkls <= 0) {
        const double F = p.default_F;
        if constexpr (sizeof(R) == sizeof(double)) out = splat(F);
        else out = vf{} + float(F * F);
        return out;
    }
    const double nk = double(p.k_n), nl = double(p.l_n);
    const vd a = h0[0] - double(p.h_min), b = h0[1] - double(p.k_min), c = h0[2] - double(p.l_min);
    const vd none = splat(double(p.h_n) * nk * nl), zero = splat(0.0);       // the default cell
    vd fi = (a * nk + b) * nl + c;                                            // exact integers
    if (!p.padded) {   // range checks (measured: they double the cost of a float32 evaluation with HKLs)
        fi = sel_lt(a, zero, none, sel_lt(b, zero, none, sel_lt(c, zero, none, fi)));
        fi = sel_lt(a, splat(double(p.h_n)), fi, none);
        fi = sel_lt(b, splat(nk), fi, none);
        fi = sel_lt(c, splat(nl), fi, none);
    }
    // int32 indices (grids stay below 2^31 cells, fastpath checks): one vector conversion, and a gather the
    // compiler can emit as such.
    const vi j = __builtin_convertvector(fi, vi);
#if defined(__AVX2__)
    if constexpr (sizeof(R) == sizeof(double)) {
        __m128i idx[W / 4];
        std::memcpy(idx, &j, sizeof idx);
        VD r;
        for (int hh = 0; hh < W / 4; ++hh) {
            const __m256d g = _mm256_i32gather_pd(p.F64, idx[hh], 8);
            std::memcpy(&r.h[hh], &g, sizeof g);
        }
        out = r.v;
    } else {
        __m256i idx[W / 8];
        std::memcpy(idx, &j, sizeof idx);
        __m256 g[W / 8];
        for (int hh = 0; hh < W / 8; ++hh) g[hh] = _mm256_i32gather_ps(p.F2f, idx[hh], 4);
        std::memcpy(&out, g, sizeof g);
    }
#else
    for (int i = 0; i < W; ++i) {
        if constexpr (sizeof(R) == sizeof(double)) out[i] = p.F64[j[i]];
        else out[i] = p.F2f[j[i]];
    }
#endif
    return out;
}

// F_cell^2·F_latt^2 of W paths with lattice L (9: a, b, c in m) and scattering vectors q[3] (1/m); float64 in
// the C's order ((F·F)·F_latt)·F_latt.
template <class R>
NB_INLINE typename Lanes<R>::type path_term_h(const NBParams& p, const vd (&h)[3])
{
    vd h0[3];
    const bool hkl = p.hkls > 0;
    const typename Lanes<R>::type FL = lattice_v<R>(p, h, h0, hkl);
    if constexpr (sizeof(R) == sizeof(double)) {
        const vd F = hkl ? f_cell_v<R>(p, h0) : splat(p.default_F);
        return F * F * FL * FL;
    } else {
        const vf F2 = hkl ? f_cell_v<R>(p, h0) : vf{} + float(p.default_F * p.default_F);
        return F2 * (FL * FL);
    }
}

template <class R>
NB_INLINE typename Lanes<R>::type path_term(const NBParams& p, const double* L, const vd (&q)[3])
{
    vd h[3];
    for (int a = 0; a < 3; ++a) h[a] = L[3 * a] * q[0] + L[3 * a + 1] * q[1] + L[3 * a + 2] * q[2];
    return path_term_h<R>(p, h);
}

// float: h = (M·d)·(1/|d|) + c for the unnormalised pixel position d, with M = L/lambda and c = L·src_dir/lambda
// per (source, tick·domain) from `HoistedLattice` (12 doubles: M row-major, then c): the same Miller index as
// L·((d/|d| + src_dir)/lambda) within a few ulp, in 12 operations (FMA where the target has it) instead of 21.
NB_INLINE void miller_hoisted(const double* Mc, const vd (&d)[3], vd inv, vd (&h)[3])
{
    for (int a = 0; a < 3; ++a) {
        const vd md = fma_v(splat(Mc[3 * a + 2]), d[2], fma_v(splat(Mc[3 * a + 1]), d[1], Mc[3 * a] * d[0]));
        h[a] = fma_v(md, inv, splat(Mc[9 + a]));
    }
}

// The float path's per-(source, tick·domain) tables of miller_hoisted for latN and latF: (S·TM, 12) each.
struct HoistedLattice {
    std::vector<double> N, F;

    explicit HoistedLattice(const NBParams& p)
    {
        for (int which = 0; which < 2; ++which) {
            const double* lat = which ? p.latF : p.latN;
            std::vector<double>& out = which ? F : N;
            out.resize(size_t(p.S * p.TM * 12));
            for (int64_t src = 0; src < p.S; ++src) {
                const double* sd = p.src_dir + 3 * src;
                const double lam = p.lambdas[src];
                for (int64_t tm = 0; tm < p.TM; ++tm) {
                    const double* L = lat + 9 * tm;
                    double* o = out.data() + 12 * (src * p.TM + tm);
                    for (int a = 0; a < 3; ++a) {
                        for (int k = 0; k < 3; ++k) o[3 * a + k] = L[3 * a + k] / lam;
                        o[9 + a] = (L[3 * a] * sd[0] + L[3 * a + 1] * sd[1] + L[3 * a + 2] * sd[2]) / lam;
                    }
                }
            }
        }
    }
};

// first where mask == 1, else other.
template <class R>
NB_INLINE typename Lanes<R>::type blend_first(vd mask, typename Lanes<R>::type first, typename Lanes<R>::type other)
{
    if constexpr (sizeof(R) == sizeof(double)) return sel_eq(mask, splat(1.0), first, other);
    else return (__builtin_convertvector(mask, vf) == 1.0f) ? first : other;
}

// The C's Kahn polarisation factor for incident i and diffracted d (unit vectors), scalar (once per pixel).
double polarization(const NBParams& p, const double* inc, const double* d)
{
    const double c2 = inc[0] * d[0] + inc[1] * d[1] + inc[2] * d[2];
    const double c2sq = c2 * c2, s2sq = 1.0 - c2sq;
    double psi = 0.0;
    if (p.polar_K != 0.0) {
        const double* ax = p.polar_axis;
        double B[3] = {ax[1] * inc[2] - ax[2] * inc[1], ax[2] * inc[0] - ax[0] * inc[2],
                       ax[0] * inc[1] - ax[1] * inc[0]};
        double m = std::sqrt(B[0] * B[0] + B[1] * B[1] + B[2] * B[2]);
        if (m != 0.0) for (double& v : B) v = v / m;
        double E[3] = {inc[1] * B[2] - inc[2] * B[1], inc[2] * B[0] - inc[0] * B[2], inc[0] * B[1] - inc[1] * B[0]};
        m = std::sqrt(E[0] * E[0] + E[1] * E[1] + E[2] * E[2]);
        if (m != 0.0) for (double& v : E) v = v / m;
        psi = -std::atan2(d[0] * B[0] + d[1] * B[1] + d[2] * B[2], d[0] * E[0] + d[1] * E[1] + d[2] * E[2]);
    }
    return 0.5 * (1.0 + c2sq - p.polar_K * std::cos(2.0 * psi) * s2sq);
}

// The pixels of one call: listed (s, f), or (s == nullptr) the render indices start.. of a w-wide ROI at
// (xmin, ymin) in raster order.
struct PixelList {
    const int32_t* s;
    const int32_t* f;
    int64_t start, w, xmin, ymin;

    // (slow, fast) of pixels base..base+n-1 (n <= W); a ROI's raster order takes one division for the block,
    // then steps along the row (an integer division per lane cost about a sixth of a 4-path pixel).
    // Whether pixels base..base+W-1 of a ROI lie on one row: then (row, column of the first) in r, c.
    bool one_row(int64_t base, int64_t& r, int64_t& c) const
    {
        if (s) return false;
        r = (start + base) / w;
        c = (start + base) % w;
        return c + W <= w;
    }

    void block(int64_t base, int n, int64_t (&slow)[W], int64_t (&fast)[W]) const
    {
        if (s) {
            for (int i = 0; i < n; ++i) {
                slow[i] = s[base + i];
                fast[i] = f[base + i];
            }
            return;
        }
        int64_t r = (start + base) / w, c = (start + base) % w;
        for (int i = 0; i < n; ++i) {
            slow[i] = ymin + r;
            fast[i] = xmin + c;
            if (++c == w) {
                c = 0;
                ++r;
            }
        }
    }
};

// One block of up to W pixels, the call's pixels base.. (lanes past `nb` repeat the last pixel, not written); the
// sum of their solid angles (sr) goes to *omega_out.
template <class R>
void render_block(const NBParams& p, const HoistedLattice* hl, int nb, const PixelList& px, int64_t base, float* out,
                  double* omega_out)
{
    typedef typename Lanes<R>::type vr;
    // s·N and f·N as doubles (exact integers): the sub-pixel index s·N + ss is then formed exactly in double.
    const int64_t N = p.N;
    vd sN, fN;
    int64_t r0, c0;
    if (nb == W && px.one_row(base, r0, c0)) {   // the usual block: vector forms of the same exact integers
        vd lane;
        for (int i = 0; i < W; ++i) lane[i] = double(i);
        sN = splat(double((px.ymin + r0) * N));
        fN = (splat(double(px.xmin + c0)) + lane) * double(N);
    } else {
        int64_t sl[W], fa[W];
        px.block(base, nb, sl, fa);
        for (int i = 0; i < W; ++i) {
            sN[i] = double(sl[i < nb ? i : nb - 1] * N);
            fN[i] = double(fa[i < nb ? i : nb - 1] * N);
        }
    }
    const int64_t first_lane = (p.first_pix >= base && p.first_pix < base + nb) ? p.first_pix - base : -1;
    vd first_mask = splat(0.0);
    if (first_lane >= 0) first_mask[first_lane] = 1.0;
    vr I = vr{} + R(p.I_bg);
    vd omega = splat(0.0), cap = splat(0.0), polar = splat(p.nopolar ? 1.0 : 0.0);
    const double half = p.sub / 2.0;
    // Whether some lane still has omega (polar) at 0, i.e. still to compute: the lane checks run only while true.
    bool omega_pending = true, polar_pending = !p.nopolar;
    for (int64_t t = 0; t < p.layers; ++t) {
        cap = splat((p.thick == 0.0) ? 1.0 : 0.0);
        const double Odet = double(t) * p.thickstep;
        for (int64_t ss = 0; ss < N; ++ss) {
            const vd Sdet = p.sub * (sN + double(ss)) + half;
            constexpr bool exact = sizeof(R) == sizeof(double);   // float: reciprocals instead of divisions
            vd row[3];   // float: the position's sdet, odet and pix0 terms, the same for the row's sub-pixels
            if constexpr (!exact && HOIST)
                for (int k = 0; k < 3; ++k) row[k] = fma_v(Sdet, splat(p.sdet[k]), splat(Odet * p.odet[k] + p.pix0[k]));
            for (int64_t sf = 0; sf < N; ++sf) {
                const vd Fdet = p.sub * (fN + double(sf)) + half;
                vd d[3], pos[3];
                if constexpr (exact || !HOIST)
                    for (int k = 0; k < 3; ++k)
                        d[k] = Fdet * p.fdet[k] + Sdet * p.sdet[k] + Odet * p.odet[k] + p.pix0[k];
                else
                    for (int k = 0; k < 3; ++k) d[k] = fma_v(Fdet, splat(p.fdet[k]), row[k]);
                const vd r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
                vd air, inv = splat(1.0);
                if constexpr (exact) {
                    air = sqrt_v(r2);
                    for (int k = 0; k < 3; ++k) d[k] = sel_eq(air, splat(0.0), d[k], d[k] / air);
                } else {
                    // |d| = 0 means d = 0, which the C leaves as it is: inv = 1 does the same.
                    inv = sel_eq(r2, splat(0.0), splat(1.0), rsqrt_v(r2));
                    for (int k = 0; k < 3; ++k) {
                        pos[k] = d[k];
                        d[k] = d[k] * inv;
                    }
                }
                // The C computes omega while it is 0 (the first path).
                if (omega_pending && any_zero(omega)) {
                    vd om;
                    if constexpr (exact)
                        om = p.point_pixel ? 1.0 / air / air : p.pixel * p.pixel / air / air * p.close_distance / air;
                    else   // float: the same solid angle from the reciprocal, without three divisions
                        om = p.point_pixel ? inv * inv : (p.pixel * p.pixel * p.close_distance) * (inv * inv * inv);
                    omega = sel_eq(omega, splat(0.0), om, omega);
                    omega_pending = any_zero(omega);
                }
                if (p.thick != 0.0) {
                    for (int i = 0; i < W; ++i) {
                        if (cap[i] != 0.0) continue;
                        const double rho = d[0][i] * p.odet[0] + d[1][i] * p.odet[1] + d[2][i] * p.odet[2];
                        cap[i] = std::exp(-double(t) * p.thickstep * p.mu / rho) -
                                 std::exp(-double(t + 1) * p.thickstep * p.mu / rho);
                    }
                }
                for (int64_t src = 0; src < p.S; ++src) {
                    const double* sd = p.src_dir + 3 * src;
                    const double lam = p.lambdas[src];
                    vd q[3];   // float with HOIST: only for the dmin cut (the Miller indices use miller_hoisted)
                    if constexpr (exact) for (int k = 0; k < 3; ++k) q[k] = (d[k] + sd[k]) / lam;
                    else if (!HOIST || p.dmin > 0.0) for (int k = 0; k < 3; ++k) q[k] = (d[k] + sd[k]) * (1.0 / lam);
                    bool cut[W] = {};
                    vr live = vr{} + R(1);              // 1 for paths that pass the dmin cut, else 0
                    if (p.dmin > 0.0) {
                        const vd stol = 0.5 * sqrt_v(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]);
                        for (int i = 0; i < W; ++i) {
                            cut[i] = stol[i] > 0.0 && p.dmin > 0.5 / stol[i];
                            live[i] = cut[i] ? R(0) : R(1);
                        }
                    }
                    bool need_polar = false;
                    if (p.dmin > 0.0) {
                        bool any_live = false;
                        for (int i = 0; i < W; ++i) {
                            any_live |= !cut[i];
                            need_polar |= polar_pending && !cut[i] && polar[i] == 0.0;
                        }
                        if (!any_live) continue;
                    } else {
                        need_polar = polar_pending && any_zero(polar);
                    }
                    if (!p.nopolar && need_polar && p.polar_K == 0.0) {
                        // K = 0: psi stays 0 and cos(2·psi) = 1 exactly, so the C's factor is
                        // 0.5·((1 + c2²) - (K·1)·s2²), here for all lanes at once (the same operations).
                        const vd c2 = (-sd[0]) * d[0] + (-sd[1]) * d[1] + (-sd[2]) * d[2];
                        const vd c2sq = c2 * c2;
                        const vd pol = 0.5 * ((1.0 + c2sq) - p.polar_K * (1.0 - c2sq));
                        vd take = sel_eq(polar, splat(0.0), splat(1.0), splat(0.0));
                        if (p.dmin > 0.0) take = take * __builtin_convertvector(live, vd);
                        polar = sel_eq(take, splat(1.0), pol, polar);
                    } else if (!p.nopolar && need_polar) {
                        const double inc[3] = {-sd[0], -sd[1], -sd[2]};
                        for (int i = 0; i < W; ++i) {
                            if (cut[i] || polar[i] != 0.0) continue;
                            const double di[3] = {d[0][i], d[1][i], d[2][i]};
                            polar[i] = polarization(p, inc, di);
                        }
                    }
                    if (need_polar) polar_pending = any_zero(polar);
                    const bool first_here = first_lane >= 0 && t == p.first_t && ss == p.first_ss &&
                                            sf == p.first_sf && src == p.first_src;
                    for (int64_t tm = 0; tm < p.TM; ++tm) {
                        vr contrib, contribF;
                        if constexpr (exact || !HOIST) {
                            contrib = path_term<R>(p, p.latN + 9 * tm, q);
                            if (first_here) contribF = path_term<R>(p, p.latF + 9 * tm, q);
                        } else {
                            vd h[3];
                            miller_hoisted(hl->N.data() + 12 * (src * p.TM + tm), pos, inv, h);
                            contrib = path_term_h<R>(p, h);
                            if (first_here) {
                                miller_hoisted(hl->F.data() + 12 * (src * p.TM + tm), pos, inv, h);
                                contribF = path_term_h<R>(p, h);
                            }
                        }
                        // The first path's lane sees its own lattice: a blend, not a lane write (which would
                        // keep the vectors of this loop in memory).
                        if (first_here) contrib = blend_first<R>(first_mask, contribF, contrib);
                        // A cut path adds contrib·0 = +0, which leaves I unchanged (the C skips it).
                        I = (p.dmin > 0.0) ? I + contrib * live : I + contrib;
                    }
                }
            }
        }
    }
    // The C's scaling, lane by lane the same operations: ((((r_e²·fluence)·I / steps)·cap)·polar)·omega.
    vd Id;
    if constexpr (sizeof(R) == sizeof(double)) Id = I;
    else Id = __builtin_convertvector(I, vd);
    vd S;
    if constexpr (sizeof(R) == sizeof(double)) S = (((p.r_e_sqr * p.fluence) * Id / p.steps) * cap * polar) * omega;
    else S = ((p.r_e_sqr * p.fluence / p.steps) * Id * cap * polar) * omega;   // float: one division per call
    const vf Sf = __builtin_convertvector(S, vf);
    double om = 0.0;   // the block's solid angle, its pixels added in order
    if (nb == W) {
        std::memcpy(out, &Sf, sizeof Sf);
        for (int i = 0; i < W; ++i) om += omega[i];
    } else {
        for (int i = 0; i < nb; ++i) {
            out[i] = Sf[i];
            om += omega[i];
        }
    }
    *omega_out = om;
}

template <class R>
int64_t render_pixels(const NBParams* p, int64_t n, const PixelList& px, float* out, double* omega, int nthreads)
{
    const int64_t nblocks = (n + W - 1) / W;
    std::unique_ptr<HoistedLattice> hl;
    if constexpr (sizeof(R) != sizeof(double) && HOIST) hl.reset(new HoistedLattice(*p));
#pragma omp parallel for schedule(dynamic, 8) num_threads(nthreads)
    for (int64_t b = 0; b < nblocks; ++b) {
        const int64_t i0 = b * W;
        const int nb = int((n - i0) < W ? (n - i0) : W);
        render_block<R>(*p, hl.get(), nb, px, i0, out + i0, omega + b);
    }
    return n;
}

}  // namespace

extern "C" {

// Layout check for the loader: the size of NBParams, the revision of the calls' meaning (2: omega holds one sum per
// block of W pixels) and the lane count.
int64_t nb_abi(void) { return int64_t(sizeof(NBParams)) * 1000 + 2 * 100 + W; }

// Render n pixels into out[i] (the float image value) and omega[b] (the solid angle of pixels W·b.. W·b + W - 1,
// added in order, sr; ceil(n / W) sums): pixel i is (s[i], f[i]), or with s == NULL render index start + i of the
// w-wide ROI at (xmin, ymin).
int64_t nb_render_f64(const NBParams* p, int64_t n, const int32_t* s, const int32_t* f, int64_t start, int64_t w,
                      int64_t xmin, int64_t ymin, float* out, double* omega, int nthreads)
{
    return render_pixels<double>(p, n, PixelList{s, f, start, w, xmin, ymin}, out, omega, nthreads);
}

int64_t nb_render_f32(const NBParams* p, int64_t n, const int32_t* s, const int32_t* f, int64_t start, int64_t w,
                      int64_t xmin, int64_t ymin, float* out, double* omega, int nthreads)
{
    return render_pixels<float>(p, n, PixelList{s, f, start, w, xmin, ymin}, out, omega, nthreads);
}

// Image moments of n values v (render order), in double: out = {sum, sum of squares, max, index of the first max,
// sum of (v - mean)^2, mean} with mean = sum / max(n, 2) (the engine's image_stats convention). The sums run over
// fixed blocks of MOMENT_BLOCK values on nthreads threads, each block in W lanes (value i into lane i mod W), the
// lanes then the blocks added in order: the same bits for any thread count (and, without contraction, any ISA).
constexpr int64_t MOMENT_BLOCK = 1 << 15;

void nb_moments(const float* v, int64_t n, double* out, int nthreads)
{
    const int64_t nblk = (n + MOMENT_BLOCK - 1) / MOMENT_BLOCK;
    const size_t nb = static_cast<size_t>(nblk);
    std::vector<double> bsum(nb), bsq(nb), bmax(nb), bc(nb);
    // A lane-parallel pass over block b: acc(lanes, x) per value, in the lane order above.
    auto lanes = [&](int64_t b, auto&& acc) {
        const int64_t i0 = b * MOMENT_BLOCK, i1 = (i0 + MOMENT_BLOCK < n) ? i0 + MOMENT_BLOCK : n;
        int64_t i = i0;
        for (; i + W <= i1; i += W) {
            vd x;
            for (int j = 0; j < W; ++j) x[j] = v[i + j];
            acc(x, W);
        }
        if (i < i1) {
            vd x = splat(0.0);
            const int rest = int(i1 - i);
            for (int j = 0; j < rest; ++j) x[j] = v[i + j];
            acc(x, rest);
        }
    };
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (int64_t b = 0; b < nblk; ++b) {
        vd s = splat(0.0), q = splat(0.0), m = splat(-INFINITY);
        lanes(b, [&](vd x, int k) {   // x: the tail's unused lanes hold 0
            s = s + x;
            q = q + x * x;
            for (int j = k; j < W; ++j) x[j] = -INFINITY;      // never a maximum
            m = sel_lt(m, x, x, m);
        });
        double ss = 0.0, qq = 0.0, mm = -INFINITY;
        for (int j = 0; j < W; ++j) {
            ss += s[j];
            qq += q[j];
            if (m[j] > mm) mm = m[j];
        }
        bsum[size_t(b)] = ss;
        bsq[size_t(b)] = qq;
        bmax[size_t(b)] = mm;
    }
    double sum = 0.0, sq = 0.0, mx = -INFINITY;
    int64_t bmx = -1;
    for (int64_t b = 0; b < nblk; ++b) {
        sum += bsum[size_t(b)];
        sq += bsq[size_t(b)];
        if (bmax[size_t(b)] > mx) { mx = bmax[size_t(b)]; bmx = b; }
    }
    int64_t imax = -1;   // the first value equal to the maximum (NaN and -inf values are never a maximum)
    if (bmx >= 0)
        for (int64_t i = bmx * MOMENT_BLOCK; i < n; ++i)
            if (double(v[i]) == mx) { imax = i; break; }
    const double mean = sum / double(n > 2 ? n : 2);
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (int64_t b = 0; b < nblk; ++b) {
        vd c = splat(0.0);
        lanes(b, [&](vd x, int k) {
            const vd dd = x - mean;
            vd sqd = dd * dd;
            for (int j = k; j < W; ++j) sqd[j] = 0.0;
            c = c + sqd;
        });
        double cc = 0.0;
        for (int j = 0; j < W; ++j) cc += c[j];
        bc[size_t(b)] = cc;
    }
    double c = 0.0;
    for (int64_t b = 0; b < nblk; ++b) c += bc[size_t(b)];
    out[0] = sum; out[1] = sq; out[2] = mx; out[3] = double(imax); out[4] = c; out[5] = mean;
}

// The float lattice factor of n index triples h (n, 3) with N = (Na, Nb, Nc), through the axis loop (loop[i]) and
// through the form the kernel uses (used[i]: lattice_ab_packed where the target has AVX-512 and Na, Nb > 1, else
// the loop again); need_h0 != 0 takes h0 = ceil(h - 1/2) as with an F table. For the tests: the two must agree
// bit for bit. Returns 1 when the packed form was used.
int64_t nb_lattice_f32(const double* h, int64_t n, double Na, double Nb, double Nc, int64_t need_h0, float* loop,
                       float* used)
{
    NBParams p{};
    p.Na = Na;
    p.Nb = Nb;
    p.Nc = Nc;
    for (int64_t i0 = 0; i0 < n; i0 += W) {
        vd v[3], h0[3];
        for (int a = 0; a < 3; ++a)
            for (int i = 0; i < W; ++i) v[a][i] = h[3 * (i0 + i < n ? i0 + i : n - 1) + a];
        const vf x = lattice_v<float>(p, v, h0, need_h0 != 0, false);
        const vf y = lattice_v<float>(p, v, h0, need_h0 != 0, true);
        for (int i = 0; i < W && i0 + i < n; ++i) {
            loop[i0 + i] = x[i];
            used[i0 + i] = y[i];
        }
    }
    return (HOIST && Na > 1 && Nb > 1) ? 1 : 0;
}

// sin_v on n values (for the tests: its agreement with libm's sin).
void nb_sin_f64(const double* x, double* out, int64_t n)
{
    for (int64_t i = 0; i + W <= n; i += W) {
        vd v;
        for (int j = 0; j < W; ++j) v[j] = x[i + j];
        const vd r = sin_v(v);
        for (int j = 0; j < W; ++j) out[i + j] = r[j];
    }
    for (int64_t i = n - n % W; i < n; ++i) out[i] = std::sin(x[i]);
}

}  // extern "C"
