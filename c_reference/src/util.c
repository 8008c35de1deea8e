/* Small numerical helpers: 3-vectors, rotations, the Numerical-Recipes style random streams,
   lattice-shape functions, polarisation and cubic Lagrange interpolation. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include "nbref.h"

void nb_die(int code, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "nbref: ERROR: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(code);
}

/* ------------------------------------------------------------------ input files and memory (issue 8)
   The PyTorch side reads the same files by the same rules (simulator/textfile.py, simulator/budget.py), so both
   engines accept and reject the same inputs. */

/* a whole decimal token as strtod reads it (inf and nan included); no hexadecimal, no "nan(...)" */
int nb_decimal(const char *tok, double *v)
{
    char *end;
    /* strtod would skip leading blanks (a vertical tab inside a column) and read hexadecimal */
    if (!*tok || isspace((unsigned char)tok[0]) || strpbrk(tok, "xX(") != NULL) return 0;
    *v = strtod(tok, &end);
    return end != tok && *end == '\0';
}

/* fail (exit 9) unless path names a regular file: a folder, /dev/zero or a FIFO would be read forever or fail */
void nb_require_regular(const char *flag, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) nb_die(9, "%s: cannot open file '%s': %s", flag, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        nb_die(9, "%s: %s is %s, not a regular file", flag, path, S_ISDIR(st.st_mode) ? "a folder" : "a device or pipe");
}

/* the whole text file, NUL-terminated; a NUL byte inside is an error naming its line */
char *nb_read_text(const char *flag, const char *path)
{
    FILE *f;
    char *buf;
    long n, i, line = 1;
    nb_require_regular(flag, path);
    f = fopen(path, "rb");
    if (!f) nb_die(9, "%s: cannot open file '%s': %s", flag, path, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0) nb_die(9, "%s: cannot read '%s'", flag, path);
    nb_require_memory(2.0 * n, flag, "reading the file");
    buf = (char *)malloc((size_t)n + 1);
    if (!buf) nb_die(9, "%s: out of memory reading '%s'", flag, path);
    if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) nb_die(9, "%s: cannot read '%s'", flag, path);
    fclose(f);
    buf[n] = '\0';
    for (i = 0; i < n; i++) {
        if (buf[i] == '\n') line++;
        else if (buf[i] == '\0') nb_die(9, "%s: %s, line %ld: expected text, got binary data (a NUL byte)", flag, path, line);
    }
    return buf;
}

static double read_number_file(const char *path)
{
    FILE *f = fopen(path, "r");
    double v = -1.0;
    char tok[64];
    if (!f) return -1.0;
    if (fscanf(f, "%63s", tok) == 1 && isdigit((unsigned char)tok[0])) v = atof(tok);
    fclose(f);
    return v;
}

static double meminfo_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double v = -1.0;
    if (!f) return -1.0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "MemAvailable:", 13)) { v = atof(line + 13) * 1024.0; break; }
    fclose(f);
    return v;
}

/* bytes this process may still allocate: MemAvailable, the cgroup's headroom, RLIMIT_AS, $NBPARITY_MEMORY_LIMIT */
double nb_memory_available(void)
{
    double best = 9.2e18, v, u;
    struct rlimit rl;
    const char *env = getenv("NBPARITY_MEMORY_LIMIT");
    v = meminfo_available();
    if (v >= 0 && v < best) best = v;
    v = read_number_file("/sys/fs/cgroup/memory.max");
    if (v < 0) v = read_number_file("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    if (v >= 0 && v < 1.15e18) {
        u = read_number_file("/sys/fs/cgroup/memory.current");
        if (u < 0) u = read_number_file("/sys/fs/cgroup/memory/memory.usage_in_bytes");
        v -= u > 0 ? u : 0;
        if (v < 0) v = 0;
        if (v < best) best = v;
    }
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (double)rl.rlim_cur < best)
        best = (double)rl.rlim_cur;
    if (env && *env && strspn(env, "0123456789") == strlen(env) && atof(env) < best) best = atof(env);
    return best;
}

void nb_warn(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "nbref: WARNING: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
}

double nb_dot(const double *a, const double *b)
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

void nb_cross(const double *a, const double *b, double *out)
{
    double x = a[1] * b[2] - a[2] * b[1];
    double y = a[2] * b[0] - a[0] * b[2];
    double z = a[0] * b[1] - a[1] * b[0];
    out[0] = x; out[1] = y; out[2] = z;
}

double nb_mag(const double *a)
{
    return sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
}

double nb_unitize(const double *in, double *out)
{
    double m = nb_mag(in);
    if (m != 0.0) {
        out[0] = in[0] / m; out[1] = in[1] / m; out[2] = in[2] / m;
    } else {
        out[0] = in[0]; out[1] = in[1]; out[2] = in[2];
    }
    return m;
}

/* v' = Rz(rz) . Ry(ry) . Rx(rx) . v ; a factor is skipped when its angle is zero */
void nb_rotate_xyz(const double *v, double *out, double rx, double ry, double rz)
{
    double x = v[0], y = v[1], z = v[2], t1, t2, c, s;
    if (rx != 0.0) {
        c = cos(rx); s = sin(rx);
        t1 = c * y - s * z; t2 = s * y + c * z; y = t1; z = t2;
    }
    if (ry != 0.0) {
        c = cos(ry); s = sin(ry);
        t1 = c * x + s * z; t2 = -s * x + c * z; x = t1; z = t2;
    }
    if (rz != 0.0) {
        c = cos(rz); s = sin(rz);
        t1 = c * x - s * y; t2 = s * x + c * y; x = t1; y = t2;
    }
    out[0] = x; out[1] = y; out[2] = z;
}

/* right-handed rotation of v about the unit axis by phi (Rodrigues) */
void nb_rotate_axis(const double *v, double *out, const double *u, double phi)
{
    double c = cos(phi), s = sin(phi);
    double d = (u[0] * v[0] + u[1] * v[1] + u[2] * v[2]) * (1.0 - c);
    double x = v[0] * c + (u[1] * v[2] - u[2] * v[1]) * s + u[0] * d;
    double y = v[1] * c + (u[2] * v[0] - u[0] * v[2]) * s + u[1] * d;
    double z = v[2] * c + (u[0] * v[1] - u[1] * v[0]) * s + u[2] * d;
    out[0] = x; out[1] = y; out[2] = z;
}

void nb_rotate_umat(const double *v, double *out, const double *U)
{
    double x = U[0] * v[0] + U[1] * v[1] + U[2] * v[2];
    double y = U[3] * v[0] + U[4] * v[1] + U[5] * v[2];
    double z = U[6] * v[0] + U[7] * v[1] + U[8] * v[2];
    out[0] = x; out[1] = y; out[2] = z;
}

/* Park-Miller minimal standard generator with Bays-Durham shuffle (Numerical Recipes "ran1").
   The shuffle table is shared by every caller, as in nanoBragg; the result is single precision. */
#define R1_IA 16807
#define R1_IM 2147483647
#define R1_IQ 127773
#define R1_IR 2836
#define R1_NTAB 32
#define R1_NDIV (1 + (R1_IM - 1) / R1_NTAB)
#define R1_EPS 1.2e-7
#define R1_RNMX (1.0 - R1_EPS)

static long r1_iy = 0;
static long r1_iv[R1_NTAB];

static void r1_step(long *idum)
{
    long k = (*idum) / R1_IQ;
    *idum = R1_IA * (*idum - k * R1_IQ) - R1_IR * k;
    if (*idum < 0) *idum += R1_IM;
}

float nb_ran1(long *idum)
{
    int j;
    float out;
    if (*idum <= 0 || r1_iy == 0) {
        if (-(*idum) < 1) *idum = 1;
        else *idum = -(*idum);
        for (j = R1_NTAB + 7; j >= 0; j--) {
            r1_step(idum);
            if (j < R1_NTAB) r1_iv[j] = *idum;
        }
        r1_iy = r1_iv[0];
    }
    r1_step(idum);
    j = (int)(r1_iy / R1_NDIV);
    r1_iy = r1_iv[j];
    r1_iv[j] = *idum;
    out = (float)((1.0 / R1_IM) * r1_iy);
    if (out > R1_RNMX) return (float)R1_RNMX;
    return out;
}

/* random rotation inside a spherical cap of half-angle `spread` (radians, single precision) */
void nb_mosaic_umat(float spread, double *U, long *seed)
{
    double r1 = 2.0 * nb_ran1(seed) - 1.0;
    double r2 = 2.0 * nb_ran1(seed) - 1.0;
    double r3 = 2.0 * nb_ran1(seed) - 1.0;
    double xyrad = sqrt(1.0 - r2 * r2);
    float f = spread * powf((float)(1.0 - r3 * r3), (float)(1.0 / 3.0));
    double rot = f;
    double vx = xyrad * sin(NB_PI * r1);
    double vy = xyrad * cos(NB_PI * r1);
    double vz = r2;
    double c = cos(rot), s = sin(rot), t = 1.0 - c;
    U[0] = c + t * (vx * vx);
    U[1] = (t * vx) * vy - s * vz;
    U[2] = (t * vx) * vz + s * vy;
    U[3] = (t * vx) * vy + s * vz;
    U[4] = c + t * (vy * vy);
    U[5] = (t * vy) * vz - s * vx;
    U[6] = (t * vx) * vz - s * vy;
    U[7] = (t * vy) * vz + s * vx;
    U[8] = c + t * (vz * vz);
}

/* angles (rad) of U = Rz.Ry.Rx */
void nb_umat2misset(const double *U, double *ang)
{
    double uxx = U[0], uxy = U[1], uyx = U[3], uyy = U[4], uzx = U[6], uzy = U[7], uzz = U[8];
    if (uzx * uzx < 1.0) {
        ang[0] = atan2(uzy, uzz);
        ang[1] = atan2(-uzx, sqrt(uzy * uzy + uzz * uzz));
        ang[2] = atan2(uyx, uxx);
    } else {
        ang[0] = NB_PI;
        ang[1] = NB_PI / 2.0;
        ang[2] = atan2(uxy, -uyy);
    }
}

double nb_sincg(double x, double N)
{
    if (x == 0.0) return N;
    return sin(N * x) / sin(x);
}

double nb_sinc3(double x)
{
    if (x == 0.0) return 1.0;
    return 3.0 * (sin(x) / x - cos(x)) / (x * x);
}

/* Kahn polarisation factor; incident/diffracted are unit vectors, axis is the E-vector */
double nb_polarization(double kahn, const double *incident, const double *diffracted, const double *axis)
{
    double c2 = nb_dot(incident, diffracted);
    double c2sq = c2 * c2;
    double s2sq = 1.0 - c2sq;
    double psi = 0.0;
    if (kahn != 0.0) {
        double B[3], E[3];
        nb_cross(axis, incident, B);
        nb_unitize(B, B);
        nb_cross(incident, B, E);
        nb_unitize(E, E);
        psi = -atan2(nb_dot(diffracted, B), nb_dot(diffracted, E));
    }
    return 0.5 * (1.0 + c2sq - kahn * cos(2.0 * psi) * s2sq);
}

/* ln Gamma(xx): single-precision argument and result around a double body, as nanoBragg's (spec 9.4) */
float nb_gammln(float xx)
{
    static const double cof[6] = {76.18009172947146, -86.50532032941677, 24.01409824083091,
                                  -1.231739572450155, 0.1208650973866179e-2, -0.5395239384953e-5};
    double x = xx, y = xx, tmp, ser = 1.000000000190015;
    int j;
    tmp = x + 5.5;
    tmp -= (x + 0.5) * log(tmp);
    for (j = 0; j < 6; j++) ser += cof[j] / ++y;
    return -tmp + log(2.5066282746310005 * ser / x);
}

float nb_gaussdev(long *idum)
{
    static int have = 0;
    static float spare;
    float fac, rsq, v1, v2;
    if (have) { have = 0; return spare; }
    do {
        v1 = 2.0f * nb_ran1(idum) - 1.0f;
        v2 = 2.0f * nb_ran1(idum) - 1.0f;
        rsq = v1 * v1 + v2 * v2;
    } while (rsq >= 1.0f || rsq == 0.0f);
    fac = (float)sqrt(-2.0 * log(rsq) / rsq);
    spare = v1 * fac;
    have = 1;
    return v2 * fac;
}

float nb_poidev(float xm, long *idum)
{
    static float sq, alxm, g, oldm = -1.0f;
    float em, t, y;
    if (xm > 1.0e6f) return (float)(xm + sqrt(xm) * nb_gaussdev(idum));
    if (xm < 12.0f) {
        if (xm != oldm) { oldm = xm; g = (float)exp(-xm); }
        em = -1.0f; t = 1.0f;
        do { em += 1.0f; t *= nb_ran1(idum); } while (t > g);
    } else {
        if (xm != oldm) {
            oldm = xm;
            sq = (float)sqrt(2.0 * xm);
            alxm = (float)log(xm);
            g = xm * alxm - nb_gammln((float)(xm + 1.0));   /* float arithmetic throughout */
        }
        do {
            do {
                y = (float)tan(NB_PI * nb_ran1(idum));
                em = sq * y + xm;
            } while (em < 0.0f);
            em = (float)floor(em);
            t = (float)(0.9 * (1.0 + y * y) * exp(em * alxm - nb_gammln((float)(em + 1.0)) - g));
        } while (nb_ran1(idum) > t);
    }
    return em;
}

/* cubic Lagrange interpolation through 4 points */
void nb_polint(const double *xa, const double *ya, double x, double *y)
{
    double x0 = (x - xa[1]) * (x - xa[2]) * (x - xa[3]) * ya[0] / ((xa[0] - xa[1]) * (xa[0] - xa[2]) * (xa[0] - xa[3]));
    double x1 = (x - xa[0]) * (x - xa[2]) * (x - xa[3]) * ya[1] / ((xa[1] - xa[0]) * (xa[1] - xa[2]) * (xa[1] - xa[3]));
    double x2 = (x - xa[0]) * (x - xa[1]) * (x - xa[3]) * ya[2] / ((xa[2] - xa[0]) * (xa[2] - xa[1]) * (xa[2] - xa[3]));
    double x3 = (x - xa[0]) * (x - xa[1]) * (x - xa[2]) * ya[3] / ((xa[3] - xa[0]) * (xa[3] - xa[1]) * (xa[3] - xa[2]));
    *y = x0 + x1 + x2 + x3;
}

static void nb_polin2(const double *x1a, const double *x2a, const double *ya, double x1, double x2, double *y)
{
    double tmp[4];
    int j;
    for (j = 0; j < 4; j++) nb_polint(x2a, ya + 4 * j, x2, &tmp[j]);
    nb_polint(x1a, tmp, x1, y);
}

/* ya is [4][4][4] with the first index along x1 (h), the last along x3 (l) */
void nb_polin3(const double *x1a, const double *x2a, const double *x3a, const double *ya,
               double x1, double x2, double x3, double *y)
{
    double tmp[4];
    int j;
    for (j = 0; j < 4; j++) nb_polin2(x2a, x3a, ya + 16 * j, x2, x3, &tmp[j]);
    nb_polint(x1a, tmp, x1, y);
}
