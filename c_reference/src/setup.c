/* Everything between parsing and rendering: SMV header ingestion, detector conventions and geometry,
   step resolution, the crystal (cell, matrix, misset, N, mosaic), structure factors and sources. */
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nbref.h"

static const char *conv_name(int c)
{
    switch (c) {
    case CONV_MOSFLM: return "MOSFLM";
    case CONV_XDS: return "XDS";
    case CONV_ADXV: return "ADXV";
    case CONV_DENZO: return "DENZO";
    case CONV_DIALS: return "DIALS";
    default: return "CUSTOM";
    }
}

/* ------------------------------------------------------------------ SMV headers (-mask, -img) */

typedef struct {
    unsigned char *data;
    long size;
    long header_size;
    char *header;
} SmvFile;

static int smv_load(const char *flag, const char *path, SmvFile *out)
{
    FILE *f;
    long n;
    memset(out, 0, sizeof(*out));
    nb_require_regular(flag, path);
    f = fopen(path, "rb");
    if (!f) nb_die(9, "%s: cannot open file '%s'", flag, path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    out->data = (unsigned char *)malloc(n + 1);
    if (!out->data) nb_die(9, "%s: out of memory reading '%s'", flag, path);
    if (n > 0 && fread(out->data, 1, n, f) != (size_t)n) nb_die(9, "%s: cannot read '%s'", flag, path);
    fclose(f);
    out->data[n] = 0;
    out->size = n;
    if (n < 12 || memcmp(out->data, "{\nHEADER_BYT", 12) != 0) {
        /* decisions D5: a mask that is not SMV is an error (nanoBragg ignores it silently) */
        if (!strcmp(flag, "-mask"))
            nb_die(9, "-mask: '%s' is not an SMV image (it must start with \"{\\nHEADER_BYTES=\")", path);
        nb_warn("%s: '%s' is not an SMV image; ignored", flag, path);
        return 0;
    }
    {
        const char *p = strstr((const char *)out->data, "HEADER_BYTES=");
        out->header_size = p ? atol(p + 13) : 512;
        if (out->header_size <= 0 || out->header_size > n) out->header_size = 512 < n ? 512 : n;
    }
    out->header = (char *)malloc(out->header_size + 1);
    memcpy(out->header, out->data, out->header_size);
    out->header[out->header_size] = 0;
    return 1;
}

/* atof restricted to its decimal forms (no hexadecimal, inf or nan: those read as 0, as simulator/smv_in.py) */
static double atof_decimal(const char *s)
{
    const char *p = s, *start, *d;
    char *copy;
    double v;
    int digits = 0;
    while (*p && isspace((unsigned char)*p)) p++;
    start = p;
    if (*p == '+' || *p == '-') p++;
    for (d = p; isdigit((unsigned char)*p); p++) digits++;
    if (*p == '.') { p++; for (; isdigit((unsigned char)*p); p++) digits++; }
    if (digits == 0 || (p == d + 1 && *d == '.')) return 0.0;
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        if (*q == '+' || *q == '-') q++;
        if (isdigit((unsigned char)*q)) { while (isdigit((unsigned char)*q)) q++; p = q; }
    }
    copy = (char *)malloc((size_t)(p - start) + 1);
    if (!copy) nb_die(9, "out of memory reading a header");
    memcpy(copy, start, (size_t)(p - start));
    copy[p - start] = '\0';
    v = strtod(copy, NULL);
    free(copy);
    return v;
}

/* the last occurrence of the key substring; value after the next '=' */
static double smv_value(const SmvFile *s, const char *key)
{
    const char *p = s->header, *last = NULL, *eq;
    while ((p = strstr(p, key)) != NULL) { last = p; p++; }
    if (!last) return NAN;
    eq = strchr(last, '=');
    if (!eq) return NAN;
    return atof_decimal(eq + 1);
}

/* header values must be numbers the engines can use (as simulator/smv_in.py): sizes pixel counts within int,
   pixel size and wavelength positive, the rest finite */
static void check_header(const char *flag, const char *path, const SmvFile *s)
{
    static const char *positive[] = {"SIZE1", "SIZE2", "PIXEL_SIZE", "WAVELENGTH"};
    static const char *finite[] = {"DISTANCE", "CLOSE_DISTANCE", "BEAM_CENTER_X", "BEAM_CENTER_Y", "ORGX", "ORGY",
                                   "PHI", "OSC_RANGE"};
    int i;
    for (i = 0; i < 12; i++) {
        const char *key = i < 4 ? positive[i] : finite[i - 4];
        double v = smv_value(s, key);
        int ok;
        if (isnan(v)) continue;
        ok = isfinite(v) && (i >= 4 || v > 0);
        if (i < 2) ok = ok && v < 2147483648.0;
        if (!ok)
            nb_die(9, "%s: '%s': header value %s=%g: expected %s for %s", flag, path, key, v,
                   i < 2 ? "a pixel count" : i < 4 ? "a positive number" : "a finite number", key);
    }
}

static void apply_header(NB *g, const SmvFile *s, int is_mask)
{
    double t;
    check_header(is_mask ? "-mask" : "-img", is_mask ? g->maskfile : g->imgfile, s);
    t = smv_value(s, "SIZE1"); if (!isnan(t)) g->fpixels = (int)t;
    t = smv_value(s, "SIZE2"); if (!isnan(t)) g->spixels = (int)t;
    t = smv_value(s, "PIXEL_SIZE"); if (!isnan(t)) g->pixel = t / 1000.0;
    g->detsize_f = g->pixel * g->fpixels;
    g->detsize_s = g->pixel * g->spixels;
    t = smv_value(s, "DISTANCE"); if (!isnan(t)) g->distance = t / 1000.0;
    t = smv_value(s, "CLOSE_DISTANCE"); if (!isnan(t)) g->close_distance = t / 1000.0;
    t = smv_value(s, "WAVELENGTH"); if (!isnan(t)) g->lambda0 = t / 1e10;
    t = smv_value(s, "BEAM_CENTER_X"); if (!isnan(t)) g->Xbeam = t / 1000.0;
    t = smv_value(s, "BEAM_CENTER_Y");
    if (!isnan(t)) g->Ybeam = is_mask ? g->detsize_s - t / 1000.0 : t / 1000.0;
    t = smv_value(s, "ORGX"); if (!isnan(t)) g->ORGX = t;
    t = smv_value(s, "ORGY"); if (!isnan(t)) g->ORGY = t;
    t = smv_value(s, "PHI"); if (!isnan(t)) g->phi0 = t / NB_RTD;
    t = smv_value(s, "OSC_RANGE"); if (!isnan(t)) g->osc = t / NB_RTD;
    /* TWOTHETA goes to a scratch variable in nanoBragg: no effect */
}

static int mask_f = 0, mask_s = 0;

void nb_read_headers(NB *g)
{
    SmvFile s;
    if (g->maskfile) {
        if (smv_load("-mask", g->maskfile, &s)) {
            long i, np;
            apply_header(g, &s, 1);
            np = (long)g->fpixels * g->spixels;
            if (g->fpixels <= 0 || g->spixels <= 0)
                nb_die(9, "-mask: '%s': its header gives no image size (SIZE1=%d, SIZE2=%d)", g->maskfile,
                       g->fpixels, g->spixels);
            if (s.size - s.header_size < 2 * np)
                nb_die(9, "-mask: '%s' is %d x %d pixels (fast x slow) by its header but holds only %ld pixels of "
                       "data", g->maskfile, g->fpixels, g->spixels, (s.size - s.header_size) / 2);
            mask_f = g->fpixels;
            mask_s = g->spixels;
            g->mask = (unsigned short *)calloc((size_t)np + 10, sizeof(unsigned short));
            if (!g->mask) nb_die(9, "-mask: out of memory for a %d x %d mask", g->fpixels, g->spixels);
            for (i = 0; i < np; i++) {
                long off = s.header_size + 2 * i;
                unsigned short v = 0;
                if (off + 1 < s.size) memcpy(&v, s.data + off, 2);
                g->mask[i] = v;
            }
        }
        free(s.data); free(s.header);
    }
    if (g->imgfile) {
        if (smv_load("-img", g->imgfile, &s)) apply_header(g, &s, 0);
        free(s.data); free(s.header);
    }
}

/* ------------------------------------------------------------------ step resolution */

static void resolve_div(int *count, double *range, double *step)
{
    if (*count <= 0) {
        if (*range < 0.0) {
            if (*step <= 0.0) { *count = 1; *range = 0.0; *step = 0.0; }
            else { *range = *step; *count = 2; }
        } else {
            if (*step <= 0.0) { *step = *range; *count = 2; }
            else {
                double n = ceil(*range / *step);
                if (!(n <= 2147483647.0)) nb_die(9, "divergence/dispersion: range / step gives %g steps; expected at "
                                                 "most 2147483647", n);
                *count = (int)n;
            }
        }
    } else {
        if (*range < 0.0) {
            if (*step <= 0.0) { *range = 1.0; *step = *range / *count; }
            else { *range = *step; *count = 2; }
        } else {
            if (*step <= 0.0) { if (*count <= 1) *count = 2; *step = *range / (*count - 1); }
        }
    }
}

static void resolve_steps(NB *g)
{
    /* phi */
    if (g->phisteps < 0) {
        if (g->osc < 0.0) {
            if (g->phistep <= 0.0) { g->phisteps = 1; g->osc = 0.0; g->phistep = 0.0; }
            else { g->osc = g->phistep; g->phisteps = 2; }
        } else {
            if (g->phistep <= 0.0) { g->phisteps = 2; g->phistep = g->osc / 2.0; }
            else {
                /* in double first: ceil(1e9 / 1e-9) does not fit an int (it wrapped to -2^31 and rendered zeros) */
                double n = ceil(g->osc / g->phistep);
                if (!(n >= 1 && n <= 2147483647.0))
                    nb_die(9, "-phistep: -osc %g / -phistep %g gives %g phi steps; expected 1 to 2147483647",
                           g->osc * NB_RTD, g->phistep * NB_RTD, n);
                g->phisteps = (int)n;
            }
        }
    } else {
        if (g->phisteps == 0) g->phisteps = 1;
        if (g->osc < 0.0) {
            if (g->phistep <= 0.0) { g->osc = 1.0 / NB_RTD; g->phistep = g->osc / g->phisteps; }
            else { g->osc = g->phistep; g->phisteps = 2; }
        } else {
            if (g->phistep < 0.0) g->phistep = g->osc / g->phisteps;
        }
    }
    resolve_div(&g->hdivsteps, &g->hdivrange, &g->hdivstep);
    resolve_div(&g->vdivsteps, &g->vdivrange, &g->vdivstep);
    resolve_div(&g->dispsteps, &g->dispersion, &g->dispstep);

    /* detector thickness layers */
    if (g->detector_thicksteps <= 0) {
        if (g->detector_thick < 0.0) {
            if (g->detector_thickstep <= 0.0) { g->detector_thicksteps = 1; g->detector_thick = 0.0; g->detector_thickstep = 0.0; }
            else { g->detector_thick = g->detector_thickstep; g->detector_thicksteps = 2; }
        } else {
            if (g->detector_thickstep <= 0.0) { g->detector_thicksteps = 2; g->detector_thickstep = g->detector_thick / g->detector_thicksteps; }
            else g->detector_thicksteps = (int)ceil(g->detector_thick / g->detector_thickstep);
        }
    } else {
        if (g->detector_thick < 0.0) {
            if (g->detector_thickstep <= 0.0) { g->detector_thick = 0.5e-6; g->detector_thickstep = g->detector_thick / g->detector_thicksteps; }
            else { g->detector_thick = g->detector_thickstep; g->detector_thicksteps = 2; }
        } else {
            if (g->detector_thickstep <= 0.0) {
                if (g->detector_thicksteps <= 1) g->detector_thicksteps = 2;
                g->detector_thickstep = g->detector_thick / (g->detector_thicksteps - 1);
            }
        }
    }

    /* before the mosaic warnings and the sanity checks, as upstream */
    if (g->detector_thick > 0.0 && !g->mu_set) {
        g->detector_mu = 1.0 / g->detector_thick;
        printf("WARNING: setting detector attenuation depth to %g m\n", g->detector_mu);  /* upstream's words and value (1/thick) */
    }

    /* mosaic domains; a count <= 0 given with a spread is refused, as the PyTorch side does (issue 22) */
    if (g->mosaic_domains_set && g->mosaic_domains <= 0 && g->mosaic_spread > 0.0)
        nb_refuse_mosaic_domains(g->mosaic_domains);
    if (g->mosaic_domains <= 0) {
        if (g->mosaic_spread < 0.0) { g->mosaic_domains = 1; g->mosaic_spread = 0.0; }
        else if (g->mosaic_spread == 0.0) g->mosaic_domains = 1;
        else {
            printf("WARNING: finite mosaicity with only one domain! upping to 10 mosaic domains\n");
            g->mosaic_domains = 10;
        }
    } else {
        if (g->mosaic_spread < 0.0) {
            printf("WARNING: no mosaic spread specified.  setting mosaic_domains = 1\n");
            g->mosaic_spread = 0.0; g->mosaic_domains = 1;
        } else if (g->mosaic_spread == 0.0) {
            printf("WARNING: zero mosaic spread specified.  setting mosaic_domains = 1\n");
            g->mosaic_domains = 1;
        }
    }

    /* sanity */
    if (g->hdivrange <= 0.0 || g->hdivstep <= 0.0 || g->hdivsteps <= 0) { g->hdivsteps = 1; g->hdivrange = 0.0; g->hdivstep = 0.0; }
    if (g->vdivrange <= 0.0 || g->vdivstep <= 0.0 || g->vdivsteps <= 0) { g->vdivsteps = 1; g->vdivrange = 0.0; g->vdivstep = 0.0; }
    if (g->dispersion <= 0.0 || g->dispstep <= 0.0 || g->dispsteps <= 0) { g->dispsteps = 1; g->dispersion = 0.0; g->dispstep = 0.0; }
    if (g->detector_thick <= 0.0 || g->detector_thickstep <= 0.0 || g->detector_thicksteps <= 0) {
        g->detector_thicksteps = 1; g->detector_thick = 0.0; g->detector_thickstep = 0.0;
    }
}

/* ------------------------------------------------------------------ detector */

static void set3(double *v, double x, double y, double z) { v[0] = x; v[1] = y; v[2] = z; }

static void apply_convention(NB *g)
{
    double px = g->pixel;
    if (!isnan(g->ORGX)) g->Fclose = (g->ORGX - 0.5) * px;
    if (!isnan(g->ORGY)) g->Sclose = (g->ORGY - 0.5) * px;
    if (isnan(g->Fclose)) g->Fclose = g->detsize_f / 2.0;
    if (isnan(g->Sclose)) g->Sclose = g->detsize_s / 2.0;
    if (isnan(g->Xclose)) g->Xclose = g->Fclose;
    if (isnan(g->Yclose)) g->Yclose = g->Sclose;
    if (isnan(g->Fbeam)) g->Fbeam = g->Fclose;
    if (isnan(g->Sbeam)) g->Sbeam = g->Sclose;

    switch (g->convention) {
    case CONV_ADXV:
        if (isnan(g->Xbeam)) g->Xbeam = (g->detsize_f + px) / 2.0;
        if (isnan(g->Ybeam)) g->Ybeam = (g->detsize_s - px) / 2.0;
        set3(g->beam, 0, 0, 1); set3(g->fdet, 1, 0, 0); set3(g->sdet, 0, -1, 0); set3(g->odet, 0, 0, 1);
        set3(g->twotheta_axis, -1, 0, 0); set3(g->polar_vec, 1, 0, 0); set3(g->spindle, 1, 0, 0);
        g->Fbeam = g->Xbeam; g->Sbeam = g->detsize_s - g->Ybeam; g->pivot = PIVOT_BEAM;
        break;
    case CONV_MOSFLM:
    case CONV_DENZO:
        if (isnan(g->Xbeam)) g->Xbeam = (g->detsize_s + px) / 2.0;
        if (isnan(g->Ybeam)) g->Ybeam = (g->detsize_f + px) / 2.0;
        set3(g->beam, 1, 0, 0); set3(g->odet, 1, 0, 0); set3(g->fdet, 0, 0, 1); set3(g->sdet, 0, -1, 0);
        set3(g->twotheta_axis, 0, 0, -1); set3(g->polar_vec, 0, 0, 1); set3(g->spindle, 0, 0, 1);
        if (g->convention == CONV_MOSFLM) {
            g->Fbeam = g->Ybeam + 0.5 * px; g->Sbeam = g->Xbeam + 0.5 * px;
        } else {
            g->Fbeam = g->Ybeam; g->Sbeam = g->Xbeam;
        }
        g->pivot = PIVOT_BEAM;
        break;
    case CONV_XDS:
    case CONV_DIALS:
        if (isnan(g->Xbeam)) g->Xbeam = g->Xclose;
        if (isnan(g->Ybeam)) g->Ybeam = g->Yclose;
        set3(g->beam, 0, 0, 1); set3(g->fdet, 1, 0, 0); set3(g->sdet, 0, 1, 0); set3(g->odet, 0, 0, 1);
        if (g->convention == CONV_XDS) {
            set3(g->twotheta_axis, 1, 0, 0); set3(g->polar_vec, 1, 0, 0); set3(g->spindle, 1, 0, 0);
        } else {
            set3(g->twotheta_axis, 0, 1, 0); set3(g->polar_vec, 0, 1, 0); set3(g->spindle, 0, 1, 0);
        }
        g->Fbeam = g->Xbeam; g->Sbeam = g->Ybeam; g->pivot = PIVOT_SAMPLE;
        break;
    default: /* CUSTOM */
        if (isnan(g->Xbeam)) g->Xbeam = g->Xclose;
        if (isnan(g->Ybeam)) g->Ybeam = g->Yclose;
        g->Fbeam = g->Xbeam; g->Sbeam = g->Ybeam;
        g->Fclose = g->Xbeam; g->Sclose = g->Ybeam;
        break;
    }

    nb_unitize(g->beam, g->beam);
    nb_unitize(g->fdet, g->fdet);
    nb_unitize(g->sdet, g->sdet);
    if (nb_unitize(g->odet, g->odet) != 1.0) {
        printf("WARNING: auto-generating odet_vector\n");
        nb_cross(g->fdet, g->sdet, g->odet);
        nb_unitize(g->odet, g->odet);
    }
    nb_unitize(g->polar_vec, g->polar_vec);
    nb_unitize(g->spindle, g->spindle);
    nb_cross(g->beam, g->polar_vec, g->vert);
    nb_unitize(g->vert, g->vert);
}

static void tv(const char *key, const double *v)
{
    printf("TRACE_C:%s=%.15g %.15g %.15g\n", key, v[0], v[1], v[2]);
}

static void rot_matrices(const NB *g, double *Rx, double *Ry, double *Rz, double *Rt)
{
    double cx = cos(g->rotx), sx = sin(g->rotx), cy = cos(g->roty), sy = sin(g->roty);
    double cz = cos(g->rotz), sz = sin(g->rotz), t[9];
    int i, j, k;
    double X[9] = {1, 0, 0, 0, cx, -sx, 0, sx, cx};
    double Y[9] = {cy, 0, sy, 0, 1, 0, -sy, 0, cy};
    double Z[9] = {cz, -sz, 0, sz, cz, 0, 0, 0, 1};
    memcpy(Rx, X, sizeof X); memcpy(Ry, Y, sizeof Y); memcpy(Rz, Z, sizeof Z);
    for (i = 0; i < 3; i++) for (j = 0; j < 3; j++) { t[3 * i + j] = 0; for (k = 0; k < 3; k++) t[3 * i + j] += Y[3 * i + k] * X[3 * k + j]; }
    for (i = 0; i < 3; i++) for (j = 0; j < 3; j++) { Rt[3 * i + j] = 0; for (k = 0; k < 3; k++) Rt[3 * i + j] += Z[3 * i + k] * t[3 * k + j]; }
}

static void tm(const char *key, const double *M)
{
    printf("TRACE_C:%s=[%.15g %.15g %.15g; %.15g %.15g %.15g; %.15g %.15g %.15g]\n", key,
           M[0], M[1], M[2], M[3], M[4], M[5], M[6], M[7], M[8]);
}

static void detector_geometry(NB *g)
{
    double v[3], R[3];
    int k, tr = (g->trace_s >= 0 && g->trace_f >= 0);
    const char *cname[] = {"mosflm", "xds", "adxv", "denzo", "dials", "custom"};
    printf("%s convention selected.\n", cname[g->convention]);

    nb_rotate_xyz(g->odet, v, g->rotx, g->roty, g->rotz);
    g->ratio = nb_dot(g->beam, v);
    if (g->ratio == 0.0) g->ratio = DBL_MIN;
    if (isnan(g->close_distance)) g->close_distance = fabs(g->ratio * g->distance);
    g->distance = g->close_distance / g->ratio;

    if (g->pivot == PIVOT_SAMPLE) {
        double tf[3], ts[3], tc[3];
        printf("pivoting detector around sample\n");
        for (k = 0; k < 3; k++) {
            tf[k] = -g->Fclose * g->fdet[k];
            ts[k] = -g->Sclose * g->sdet[k];
            tc[k] = g->close_distance * g->odet[k];
            g->pix0[k] = -g->Fclose * g->fdet[k] - g->Sclose * g->sdet[k] + g->close_distance * g->odet[k];
        }
        if (tr) {
            printf("TRACE_C:detector_convention=%s\n", conv_name(g->convention));
            printf("TRACE_C:angles_rad=rotx:%.15g roty:%.15g rotz:%.15g twotheta:%.15g\n", g->rotx, g->roty, g->rotz, g->twotheta);
            printf("TRACE_C:beam_center_m=Xclose:%.15g Yclose:%.15g pixel_mm:%.15g\n", g->Xclose / 1000.0, g->Yclose / 1000.0,
                   g->pixel * 1000.0);
            tv("initial_fdet", g->fdet); tv("initial_sdet", g->sdet); tv("initial_odet", g->odet);
            printf("TRACE_C:Fclose_m=%.15g\nTRACE_C:Sclose_m=%.15g\nTRACE_C:close_distance_m=%.15g\n", g->Fclose, g->Sclose,
                   g->close_distance);
            printf("TRACE_C:ratio=%.15g\nTRACE_C:distance_m=%.15g\n", g->ratio, g->distance);
            tv("term_fast_before_rot", tf); tv("term_slow_before_rot", ts); tv("term_close_before_rot", tc);
            tv("pix0_before_rotation", g->pix0);
        }
        nb_rotate_xyz(g->pix0, g->pix0, g->rotx, g->roty, g->rotz);
        if (tr) tv("pix0_after_rotz", g->pix0);
        nb_rotate_axis(g->pix0, g->pix0, g->twotheta_axis, g->twotheta);
        if (tr) tv("pix0_after_twotheta", g->pix0);
    }
    nb_rotate_xyz(g->fdet, g->fdet, g->rotx, g->roty, g->rotz);
    nb_rotate_xyz(g->sdet, g->sdet, g->rotx, g->roty, g->rotz);
    nb_rotate_xyz(g->odet, g->odet, g->rotx, g->roty, g->rotz);
    if (tr) { tv("fdet_after_rotz", g->fdet); tv("sdet_after_rotz", g->sdet); tv("odet_after_rotz", g->odet); }
    nb_rotate_axis(g->fdet, g->fdet, g->twotheta_axis, g->twotheta);
    nb_rotate_axis(g->sdet, g->sdet, g->twotheta_axis, g->twotheta);
    nb_rotate_axis(g->odet, g->odet, g->twotheta_axis, g->twotheta);
    if (tr) {
        tv("twotheta_axis", g->twotheta_axis);
        tv("fdet_after_twotheta", g->fdet); tv("sdet_after_twotheta", g->sdet); tv("odet_after_twotheta", g->odet);
    }
    printf("nbref: DETECTOR_FAST_AXIS %.15g %.15g %.15g\n", g->fdet[0], g->fdet[1], g->fdet[2]);
    printf("nbref: DETECTOR_SLOW_AXIS %.15g %.15g %.15g\n", g->sdet[0], g->sdet[1], g->sdet[2]);
    printf("nbref: DETECTOR_NORMAL_AXIS %.15g %.15g %.15g\n", g->odet[0], g->odet[1], g->odet[2]);
    if (g->pivot == PIVOT_BEAM) {
        double tf[3], ts[3], tb[3];
        printf("pivoting detector around direct beam spot\n");
        for (k = 0; k < 3; k++) {
            tf[k] = -g->Fbeam * g->fdet[k];
            ts[k] = -g->Sbeam * g->sdet[k];
            tb[k] = g->distance * g->beam[k];
            g->pix0[k] = -g->Fbeam * g->fdet[k] - g->Sbeam * g->sdet[k] + g->distance * g->beam[k];
        }
        if (tr) {
            double Rx[9], Ry[9], Rz[9], Rt[9];
            rot_matrices(g, Rx, Ry, Rz, Rt);
            /* nanoBragg's BEAM-pivot trace block is hard-coded for MOSFLM whatever the convention */
            printf("TRACE_C:detector_convention=MOSFLM\n");
            printf("TRACE_C:angles_rad=rotx:%.15g roty:%.15g rotz:%.15g twotheta:%.15g\n", g->rotx, g->roty, g->rotz, g->twotheta);
            printf("TRACE_C:beam_center_m=X:%.15g Y:%.15g pixel_mm:%.15g\n", g->Xbeam / 1000.0, g->Ybeam / 1000.0, g->pixel * 1000.0);
            printf("TRACE_C:initial_fdet=0 0 1\nTRACE_C:initial_sdet=0 -1 0\nTRACE_C:initial_odet=1 0 0\n");
            tm("Rx", Rx); tm("Ry", Ry); tm("Rz", Rz); tm("R_total", Rt);
            tv("fdet_after_rotz", g->fdet); tv("sdet_after_rotz", g->sdet); tv("odet_after_rotz", g->odet);
            tv("fdet_after_twotheta", g->fdet); tv("sdet_after_twotheta", g->sdet); tv("odet_after_twotheta", g->odet);
            printf("TRACE_C:convention_mapping=Fbeam\xe2\x86\x90Ybeam_mm(+0.5px),Sbeam\xe2\x86\x90Xbeam_mm(+0.5px),beam_vec=[1 0 0]\n");
            printf("TRACE_C:Fbeam_m=%.15g\nTRACE_C:Sbeam_m=%.15g\nTRACE_C:distance_m=%.15g\n", g->Fbeam, g->Sbeam, g->distance);
            tv("term_fast", tf); tv("term_slow", ts); tv("term_beam", tb);
            tv("pix0_vector", g->pix0);
        }
    }
    printf("nbref: DETECTOR_PIX0_VECTOR %.15g %.15g %.15g\n", g->pix0[0], g->pix0[1], g->pix0[2]);

    g->Fclose = -nb_dot(g->pix0, g->fdet);
    g->Sclose = -nb_dot(g->pix0, g->sdet);
    g->close_distance = nb_dot(g->pix0, g->odet);
    for (k = 0; k < 3; k++) R[k] = g->close_distance / g->ratio * g->beam[k] - g->pix0[k];
    g->Fbeam = nb_dot(g->fdet, R);
    g->Sbeam = nb_dot(g->sdet, R);
    g->distance = g->close_distance / g->ratio;
    g->ORGX = g->Fclose / g->pixel + 0.5;
    g->ORGY = g->Sclose / g->pixel + 0.5;
    g->dials_origin[0] = 1000.0 * g->pix0[2];
    g->dials_origin[1] = 1000.0 * g->pix0[1];
    g->dials_origin[2] = 1000.0 * -g->pix0[0];
    printf("XDS incident beam: %g %g %g\n", nb_dot(g->beam, g->fdet), nb_dot(g->beam, g->sdet), nb_dot(g->beam, g->odet));
}

/* ------------------------------------------------------------------ crystal */

static void clamp_sc(double *s, double *c)
{
    if (*s > 1.0) *s = 1.0;
    if (*s < -1.0) *s = -1.0;
    if ((*c) * (*c) > 1.0) *c = 1.0;
}

static void read_matrix(NB *g)
{
    char *text = nb_read_text("-mat", g->matfile), *save = NULL, *tok;
    double m[9], det, scale;
    int n = 0;
    printf("reading %s\n", g->matfile);
    for (tok = strtok_r(text, " \t\n\v\f\r", &save); tok && n < 9; tok = strtok_r(NULL, " \t\n\v\f\r", &save)) {
        if (!nb_decimal(tok, &m[n]))
            nb_die(9, "-mat: %s: expected 9 numbers (3 rows of a*x b*x c*x ...), got '%s' after %d", g->matfile, tok, n);
        n++;
    }
    free(text);
    if (n < 9) nb_die(9, "-mat: %s: expected 9 numbers (3 rows of a*x b*x c*x ...), found %d", g->matfile, n);
    for (n = 0; n < 9; n++)
        if (!isfinite(m[n])) nb_die(9, "-mat: %s: expected 9 finite numbers, got '%g'", g->matfile, m[n]);
    /* columns are a*, b*, c*: singular when |det| <= 1e-9 |a*||b*||c*| (as simulator/crystal.py) */
    det = m[0] * (m[4] * m[8] - m[7] * m[5]) - m[3] * (m[1] * m[8] - m[7] * m[2]) + m[6] * (m[1] * m[5] - m[4] * m[2]);
    scale = sqrt(m[0] * m[0] + m[3] * m[3] + m[6] * m[6]) * sqrt(m[1] * m[1] + m[4] * m[4] + m[7] * m[7])
            * sqrt(m[2] * m[2] + m[5] * m[5] + m[8] * m[8]);
    if (!(fabs(det) > 1e-9 * scale))
        nb_die(9, "-mat: %s: the A matrix is singular (its reciprocal vectors do not span a cell)", g->matfile);
    /* rows: a*x b*x c*x / a*y b*y c*y / a*z b*z c*z */
    {
        double sc = 1e-10 / g->lambda0;
        int k;
        for (k = 0; k < 3; k++) {
            g->a_star[k] = m[3 * k + 0] * sc;
            g->b_star[k] = m[3 * k + 1] * sc;
            g->c_star[k] = m[3 * k + 2] * sc;
        }
    }
}

static void crystal_setup(NB *g)
{
    double a = g->cell[0], b = g->cell[1], c = g->cell[2];
    double al = g->cell[3], be = g->cell[4], ga = g->cell[5];
    double V_cell = 0.0, V_star;
    double axb[3], bxc[3], cxa[3], A[3], B[3], C[3];
    double sa, sb, sg, ca, cb, cg, sas, sbs, sgs, cas, cbs, cgs;
    int k;

    if (g->user_cell) {
        double aavg, skew;
        if (b <= 0.0) b = a;
        if (c <= 0.0) c = a;
        if (al <= 0.0) al = NB_PI / 2;
        if (be <= 0.0) be = NB_PI / 2;
        if (ga <= 0.0) ga = NB_PI / 2;
        g->cell[1] = b; g->cell[2] = c;
        aavg = (al + be + ga) / 2;
        skew = sin(aavg) * sin(aavg - al) * sin(aavg - be) * sin(aavg - ga);
        if (skew < 0.0) skew = -skew;
        V_cell = 2.0 * a * b * c * sqrt(skew);
        if (V_cell <= 0.0) {
            printf("WARNING: impossible unit cell volume: %g\n", V_cell);
            V_cell = DBL_MIN;
        }
        V_star = 1.0 / V_cell;
        {
            double as = b * c * sin(al) * V_star, bs = c * a * sin(be) * V_star, cs = a * b * sin(ga) * V_star;
            if (as <= 0.0 || bs <= 0.0 || cs <= 0.0) {
                printf("WARNING: impossible reciprocal cell lengths: %g %g %g\n", as, bs, cs);
                as = fabs(as); bs = fabs(bs); cs = fabs(cs);
                if (as <= 0.0) as = DBL_MIN;
                if (bs <= 0.0) bs = DBL_MIN;
                if (cs <= 0.0) cs = DBL_MIN;
            }
            sas = a * V_star / bs / cs;
            sbs = b * V_star / as / cs;
            sgs = c * V_star / as / bs;
            cas = (cos(be) * cos(ga) - cos(al)) / (sin(be) * sin(ga));
            cbs = (cos(ga) * cos(al) - cos(be)) / (sin(ga) * sin(al));
            cgs = (cos(al) * cos(be) - cos(ga)) / (sin(al) * sin(be));
            if (fabs(sas) > 1.0000001 || fabs(sbs) > 1.0000001 || fabs(sgs) > 1.0000001 ||
                fabs(cas) > 1.0000001 || fabs(cbs) > 1.0000001 || fabs(cgs) > 1.0000001)
                printf("WARNING: oddball reciprocal cell angles\n");
            clamp_sc(&sas, &cas); clamp_sc(&sbs, &cbs); clamp_sc(&sgs, &cgs);
            g->a_star[0] = as; g->a_star[1] = 0.0; g->a_star[2] = 0.0;
            g->b_star[0] = bs * cgs; g->b_star[1] = bs * sgs; g->b_star[2] = 0.0;
            g->c_star[0] = cs * cbs;
            g->c_star[1] = cs * (cas - cbs * cgs) / sgs;
            g->c_star[2] = cs * V_cell / (a * b * c * sgs);
        }
    }
    if (g->matfile) read_matrix(g);

    if (g->misset_mode == -1) {
        double U[9], ang[3];
        nb_mosaic_umat(90.0f, U, &g->misset_seed);
        nb_umat2misset(U, ang);
        printf("random orientation misset angles: %f %f %f deg\n", ang[0] * NB_RTD, ang[1] * NB_RTD, ang[2] * NB_RTD);
        g->misset[0] = ang[0]; g->misset[1] = ang[1]; g->misset[2] = ang[2];
        g->misset_mode = 1;
    }
    if (g->misset_mode > 0) {
        nb_rotate_xyz(g->a_star, g->a_star, g->misset[0], g->misset[1], g->misset[2]);
        nb_rotate_xyz(g->b_star, g->b_star, g->misset[0], g->misset[1], g->misset[2]);
        nb_rotate_xyz(g->c_star, g->c_star, g->misset[0], g->misset[1], g->misset[2]);
    }

    nb_cross(g->a_star, g->b_star, axb);
    nb_cross(g->b_star, g->c_star, bxc);
    nb_cross(g->c_star, g->a_star, cxa);
    V_star = nb_dot(g->a_star, bxc);
    if (g->user_cell) {
        double m;
        m = nb_mag(bxc); for (k = 0; k < 3; k++) bxc[k] = bxc[k] / m * (a / V_cell);
        m = nb_mag(cxa); for (k = 0; k < 3; k++) cxa[k] = cxa[k] / m * (b / V_cell);
        m = nb_mag(axb); for (k = 0; k < 3; k++) axb[k] = axb[k] / m * (c / V_cell);
        V_star = 1.0 / V_cell;
    }
    V_cell = 1.0 / V_star;
    for (k = 0; k < 3; k++) { A[k] = bxc[k] * V_cell; B[k] = cxa[k] * V_cell; C[k] = axb[k] * V_cell; }
    {
        double t1[3], t2[3], t3[3];
        nb_cross(A, B, t1); nb_cross(B, C, t2); nb_cross(C, A, t3);
        for (k = 0; k < 3; k++) { g->a_star[k] = t2[k] * V_star; g->b_star[k] = t3[k] * V_star; g->c_star[k] = t1[k] * V_star; }
    }
    {
        double la = nb_mag(A), lb = nb_mag(B), lc = nb_mag(C);
        double las = nb_mag(g->a_star), lbs = nb_mag(g->b_star), lcs = nb_mag(g->c_star);
        sa = las * V_cell / lb / lc; sb = lbs * V_cell / la / lc; sg = lcs * V_cell / la / lb;
        ca = nb_dot(B, C) / lb / lc; cb = nb_dot(A, C) / la / lc; cg = nb_dot(A, B) / la / lb;
        clamp_sc(&sa, &ca); clamp_sc(&sb, &cb); clamp_sc(&sg, &cg);
        sas = la * V_star / lbs / lcs; sbs = lb * V_star / las / lcs; sgs = lc * V_star / las / lbs;
        cas = nb_dot(g->b_star, g->c_star) / lbs / lcs;
        cbs = nb_dot(g->a_star, g->c_star) / las / lcs;
        cgs = nb_dot(g->a_star, g->b_star) / las / lbs;
        clamp_sc(&sas, &cas); clamp_sc(&sbs, &cbs); clamp_sc(&sgs, &cgs);
        printf("Unit Cell: %g %g %g %g %g %g\n", la, lb, lc,
               atan2(sa, ca) * NB_RTD, atan2(sb, cb) * NB_RTD, atan2(sg, cg) * NB_RTD);
        printf("Recp Cell: %g %g %g %g %g %g\n", las, lbs, lcs,
               atan2(sas, cas) * NB_RTD, atan2(sbs, cbs) * NB_RTD, atan2(sgs, cgs) * NB_RTD);
        printf("volume = %g A^3\n", V_cell);
    }
    printf("real-space cell vectors (Angstrom):\n");
    printf("     %-10s  %-10s  %-10s\n", "a", "b", "c");
    printf("X: %11.8f %11.8f %11.8f\n", A[0], B[0], C[0]);
    printf("Y: %11.8f %11.8f %11.8f\n", A[1], B[1], C[1]);
    printf("Z: %11.8f %11.8f %11.8f\n", A[2], B[2], C[2]);
    printf("reciprocal-space cell vectors (Angstrom^-1):\n");
    printf("     %-10s  %-10s  %-10s\n", "a_star", "b_star", "c_star");
    printf("X: %11.8f %11.8f %11.8f\n", g->a_star[0], g->b_star[0], g->c_star[0]);
    printf("Y: %11.8f %11.8f %11.8f\n", g->a_star[1], g->b_star[1], g->c_star[1]);
    printf("Z: %11.8f %11.8f %11.8f\n", g->a_star[2], g->b_star[2], g->c_star[2]);
    for (k = 0; k < 3; k++) { g->a0[k] = A[k] * 1e-10; g->b0[k] = B[k] * 1e-10; g->c0[k] = C[k] * 1e-10; }

    /* crystal size */
    {
        double la = nb_mag(g->a0), lb = nb_mag(g->b0), lc = nb_mag(g->c0), xmax, rps;
        int rec;
        if (g->sample_x > 0) g->Na = ceil(g->sample_x / la);
        if (g->sample_y > 0) g->Nb = ceil(g->sample_y / lb);
        if (g->sample_z > 0) g->Nc = ceil(g->sample_z / lc);
        if (g->Na <= 1.0) g->Na = 1.0;
        if (g->Nb <= 1.0) g->Nb = 1.0;
        if (g->Nc <= 1.0) g->Nc = 1.0;
        printf("crystal is %g x %g x %g microns\n", la * g->Na * 1e6, lb * g->Nb * 1e6, lc * g->Nc * 1e6);
        xmax = la * g->Na;
        if (xmax < lb * g->Nb) xmax = lb * g->Nb;
        if (xmax < lc * g->Nc) xmax = lc * g->Nc;
        rps = g->lambda0 * g->distance / g->pixel;
        {
            /* in double first: a huge crystal's oversampling does not fit an int (both engines refuse it) */
            double r = ceil(3.0 * xmax / rps);
            if (g->oversample <= 0 && r > 2147483647.0) nb_refuse_oversample(r);
            rec = r > 2147483647.0 ? 2147483647 : (int)r;
        }
        if (rec <= 0) rec = 1;
        if (g->oversample <= 0) {
            g->oversample = rec;
            g->oversample_auto = 1;
            printf("auto-selected %d-fold oversampling\n", g->oversample);
        }
        if (g->oversample < rec) {
            printf("WARNING: maximum dimension of sample is %g A\n", xmax * 1e10);
            printf("         but reciprocal pixel size is %g A\n", rps * 1e10);
            printf("         intensity may vary significantly across a pixel!\n");
            printf("         recommend -oversample %d to work around this\n", rec);
        }
        /* upstream's rough estimate (density 1.2e6 g/m^3, one molecule per cell); it has no effect */
        printf("approximate MW = %g\n", la * g->Na * lb * g->Nb * lc * g->Nc * 1.2e6 * 6.02214179e23
                                          / (g->Na * g->Nb * g->Nc));
    }
}

/* ------------------------------------------------------------------ structure factors */

/* the next line of a text buffer (split in place at '\n'); NULL after the last one */
static char *next_line(char **pos)
{
    char *p = *pos, *nl;
    if (!p) return NULL;
    nl = strchr(p, '\n');
    if (nl) { *nl = '\0'; *pos = nl + 1; }
    else { *pos = NULL; if (!*p) return NULL; }
    return p;
}

static void read_hkl(NB *g)
{
    char *text, *pos, *line;
    int lineno = 0, n = 0, cap = 1024, i;
    int *H, *K, *L;
    double *F;
    text = nb_read_text("-hkl", g->hklfile);
    H = malloc(cap * sizeof(int)); K = malloc(cap * sizeof(int)); L = malloc(cap * sizeof(int));
    F = malloc(cap * sizeof(double));
    printf("counting entries in %s\n", g->hklfile);
    for (pos = text; (line = next_line(&pos)) != NULL;) {
        char *p = line, *tok[8], *save = NULL;
        int nt = 0;
        double v[4];
        lineno++;
        while (*p && isspace((unsigned char)*p)) p++;
        if (*p == '\0' || *p == '#') continue;
        for (tok[nt] = strtok_r(p, " \t\r\n", &save); tok[nt] && nt < 7; tok[nt] = strtok_r(NULL, " \t\r\n", &save)) nt++;
        if (nt < 4 || nt > 6)
            nb_die(9, "-hkl: %s, line %d: expected 4 to 6 columns (h k l F ...), got %d columns", g->hklfile, lineno, nt);
        for (i = 0; i < 4; i++) {
            /* decisions D5: indices are integers within the C's int, F a finite number (nanoBragg rounds) */
            if (!nb_decimal(tok[i], &v[i]) || !isfinite(v[i]))
                nb_die(9, "-hkl: %s, line %d: expected %s, got '%s'", g->hklfile, lineno,
                       i < 3 ? "an integer index" : "a finite number for F", tok[i]);
            if (i < 3 && (v[i] != floor(v[i]) || fabs(v[i]) > 2147483647.0))
                nb_die(9, "-hkl: %s, line %d: expected an integer %c index within +-2147483647, got '%s'",
                       g->hklfile, lineno, "hkl"[i], tok[i]);
        }
        if (n == cap) {
            cap *= 2;
            H = realloc(H, cap * sizeof(int)); K = realloc(K, cap * sizeof(int)); L = realloc(L, cap * sizeof(int));
            F = realloc(F, cap * sizeof(double));
            if (!H || !K || !L || !F) nb_die(9, "-hkl: out of memory reading '%s'", g->hklfile);
        }
        H[n] = (int)v[0]; K[n] = (int)v[1]; L[n] = (int)v[2]; F[n] = v[3];
        n++;
    }
    free(text);
    g->hkls = n;
    g->h_min = g->k_min = g->l_min = 2147483647;
    g->h_max = g->k_max = g->l_max = -2147483647;
    for (i = 0; i < n; i++) {
        if (H[i] < g->h_min) g->h_min = H[i];
        if (K[i] < g->k_min) g->k_min = K[i];
        if (L[i] < g->l_min) g->l_min = L[i];
        if (H[i] > g->h_max) g->h_max = H[i];
        if (K[i] > g->k_max) g->k_max = K[i];
        if (L[i] > g->l_max) g->l_max = L[i];
    }
    if (n == 0) {
        printf("ERROR: not enough HKL indices in %s\n", g->hklfile);
        nb_die(9, "-hkl: %s: no reflections found; expected at least one h k l F line", g->hklfile);
    }
    {
        /* ranges in double first: h_max - h_min + 1 overflows int for indices near +-2^31 */
        double rh = (double)g->h_max - g->h_min + 1, rk = (double)g->k_max - g->k_min + 1;
        double rl = (double)g->l_max - g->l_min + 1;
        char what[320];
        nb_grid_name(g, what, sizeof what);
        nb_require_memory(8.0 * (rh + 1) * (rk + 1) * (rl + 1), "-hkl", what);
        if (rh > 2147483646.0 || rk > 2147483646.0 || rl > 2147483646.0)
            nb_die(9, "-hkl: %s would need more than 2^31 cells along one axis", what);
    }
    g->h_range = g->h_max - g->h_min + 1;
    g->k_range = g->k_max - g->k_min + 1;
    g->l_range = g->l_max - g->l_min + 1;
    {
        long nh = g->h_range + 1, nk = g->k_range + 1, nl = g->l_range + 1, h, k, l;
        g->Fhkl = (double *)calloc((size_t)nh * (size_t)nk * (size_t)nl, sizeof(double));
        if (!g->Fhkl) nb_die(9, "-hkl: out of memory for the structure-factor grid");
        if (g->default_F != 0.0) {
            printf("initializing to default_F = %g:\n", g->default_F);
            for (h = 0; h < g->h_range; h++)
                for (k = 0; k < g->k_range; k++)
                    for (l = 0; l < g->l_range; l++) g->Fhkl[(h * nk + k) * nl + l] = g->default_F;
            printf("done initializing:\n");
        }
        printf("re-reading %s\n", g->hklfile);
        for (i = 0; i < n; i++)
            g->Fhkl[((long)(H[i] - g->h_min) * nk + (K[i] - g->k_min)) * nl + (L[i] - g->l_min)] = F[i];
    }
    free(H); free(K); free(L); free(F);
    printf("nbref: read %d reflections from %s\n", n, g->hklfile);
}

static void write_dump(NB *g)
{
    FILE *f;
    long nk = g->k_range + 1, nl = g->l_range + 1, h, k;
    if (!g->dumpfile || !g->Fhkl) return;
    f = fopen(g->dumpfile, "wb");
    if (!f) { nb_warn("-dump: unable to open dump file '%s'", g->dumpfile); return; }
    printf("writing dump file for next time: %s\n", g->dumpfile);
    fprintf(f, "%d %d %d %d %d %d\n\f", g->h_min, g->h_max, g->k_min, g->k_max, g->l_min, g->l_max);
    for (h = 0; h <= g->h_range; h++)
        for (k = 0; k <= g->k_range; k++)
            fwrite(g->Fhkl + (h * nk + k) * nl, sizeof(double), nl, f);
    fclose(f);
}

/* ------------------------------------------------------------------ sources */

static void read_sources(NB *g)
{
    char *text, *pos, *line;
    int cap = 64, n = 0, lineno = 0;
    double *X;
    text = nb_read_text("-sourcefile", g->sourcefile);
    X = malloc(cap * 5 * sizeof(double));
    for (pos = text; (line = next_line(&pos)) != NULL;) {
        char *p = line, *save = NULL, *t, *tok[5];
        double v[5], d[3];
        int c = 0, k;
        lineno++;
        while (*p && isspace((unsigned char)*p)) p++;
        if (*p == '\0' || *p == '#') continue;
        v[0] = v[1] = v[2] = v[3] = v[4] = NAN;
        for (t = strtok_r(p, " \t,;:!\r\n", &save); t && c < 5; t = strtok_r(NULL, " \t,;:!\r\n", &save)) {
            /* decisions D5: a column that is not a number is an error naming the file and line (the C's atof
               would read it as 0) */
            if (!nb_decimal(t, &v[c]))
                nb_die(9, "-sourcefile: %s, line %d: expected a number (X Y Z weight lambda), got '%s'",
                       g->sourcefile, lineno, t);
            tok[c++] = t;
        }
        if (c == 0) continue;
        for (k = 0; k < 3; k++) d[k] = isnan(v[k]) ? -10.0 * g->beam[k] : v[k];
        if (!isfinite(d[0]) || !isfinite(d[1]) || !isfinite(d[2]) || (d[0] == 0 && d[1] == 0 && d[2] == 0))
            nb_die(9, "-sourcefile: %s, line %d: expected a finite, non-zero source direction X Y Z", g->sourcefile,
                   lineno);
        if (isinf(v[3])) nb_die(9, "-sourcefile: %s, line %d: expected a finite weight, got '%s'", g->sourcefile,
                                lineno, tok[3]);
        if (!isnan(v[4]) && !(v[4] > 0 && isfinite(v[4])))
            nb_die(9, "-sourcefile: %s, line %d: expected a positive, finite wavelength in m, got '%s'",
                   g->sourcefile, lineno, tok[4]);
        if (n == cap) {
            cap *= 2;
            X = realloc(X, cap * 5 * sizeof(double));
            if (!X) nb_die(9, "-sourcefile: out of memory reading '%s'", g->sourcefile);
        }
        memcpy(X + 5 * n, v, sizeof v);
        n++;
    }
    free(text);
    if (n == 0) nb_die(9, "-sourcefile: %s: no sources found; expected X Y Z weight lambda lines", g->sourcefile);
    g->sources = n;
    g->src_dir = malloc(3 * n * sizeof(double));
    g->src_lambda = malloc(n * sizeof(double));
    g->src_weight = malloc(n * sizeof(double));
    if (!g->src_dir || !g->src_lambda || !g->src_weight) nb_die(9, "-sourcefile: out of memory for %d sources", n);
    {
        int s, k;
        for (s = 0; s < n; s++) {
            for (k = 0; k < 3; k++) {
                double x = X[5 * s + k];
                g->src_dir[3 * s + k] = isnan(x) ? -10.0 * g->beam[k] : x;
            }
            g->src_weight[s] = isnan(X[5 * s + 3]) ? 1.0 : X[5 * s + 3];
            g->src_lambda[s] = isnan(X[5 * s + 4]) ? g->lambda0 : X[5 * s + 4];
        }
    }
    free(X);
}

static void make_sources(NB *g)
{
    int pass, hi, vi, di, n = 0, divsteps = 0;
    g->divsteps = -1;  /* upstream reports -1 divergence steps for a -sourcefile (read before nb_estimate) */
    if (g->sources == 0) {
        double most = (double)g->hdivsteps * g->vdivsteps * g->dispsteps;
        char what[160];
        const char *flag = g->hdivsteps >= g->vdivsteps && g->hdivsteps >= g->dispsteps ? "-hdivsteps"
                           : g->vdivsteps >= g->dispsteps ? "-vdivsteps" : "-dispsteps";
        snprintf(what, sizeof what, "%d x %d divergence x %d dispersion steps = %.0f sources", g->hdivsteps,
                 g->vdivsteps, g->dispsteps, most);
        nb_require_memory(40.0 * most, flag, what);
        if (most > 2147483647.0) nb_die(9, "%s: %s; expected at most 2147483647", flag, what);
    }
    if (g->sources == 0) {
        for (pass = 0; pass < 2; pass++) {
            if (pass == 1) {
                int total = divsteps * g->dispsteps;
                g->src_dir = malloc((3 * total + 3) * sizeof(double));
                g->src_lambda = malloc((total + 1) * sizeof(double));
                g->src_weight = malloc((total + 1) * sizeof(double));
                if (!g->src_dir || !g->src_lambda || !g->src_weight)
                    nb_die(9, "out of memory for %d sources", total);
            }
            for (hi = 0; hi < g->hdivsteps; hi++) {
                for (vi = 0; vi < g->vdivsteps; vi++) {
                    double hdiv = g->hdivstep * hi - g->hdivrange / 2.0;
                    double vdiv = g->vdivstep * vi - g->vdivrange / 2.0;
                    double test = (hdiv * hdiv - g->hdivstep * g->hdivstep / 4.0 * (1 - g->hdivsteps % 2)) / g->hdivrange / g->hdivrange;
                    test += (vdiv * vdiv - g->vdivstep * g->vdivstep / 4.0 * (1 - g->vdivsteps % 2)) / g->vdivrange / g->vdivrange;
                    if (g->round_div && test * 4.0 > 1.1) continue;
                    if (pass == 0) {
                        if (divsteps < nb_list_max()) printf("divergence deviation: %g %g\n", hdiv, vdiv);
                        divsteps++;
                    } else {
                        double v[3], w[3];
                        int k;
                        for (k = 0; k < 3; k++) v[k] = -10.0 * g->beam[k];
                        nb_rotate_axis(v, w, g->polar_vec, vdiv);
                        nb_rotate_axis(w, v, g->vert, hdiv);
                        for (di = 0; di < g->dispsteps; di++) {
                            double lam = g->lambda0 * (1.0 + g->dispstep * di - g->dispersion / 2.0);
                            for (k = 0; k < 3; k++) g->src_dir[3 * n + k] = v[k];
                            g->src_lambda[n] = lam;
                            g->src_weight[n] = 1.0 / (divsteps * g->dispsteps);
                            n++;
                        }
                    }
                }
            }
            if (pass == 0) {
                nb_list_cut(divsteps, "divergence deviation");
                for (di = 0; di < g->dispsteps && di < nb_list_max(); di++)
                    printf("lambda%d = %.15g\n", di, g->lambda0 * (1.0 + g->dispstep * di - g->dispersion / 2.0));
                nb_list_cut(g->dispsteps, "lambda");
            }
        }
        g->sources = n;
        g->divsteps = divsteps;
    }
    printf("  created a total of %d sources:\n", g->sources);
    {
        int s;
        for (s = 0; s < g->sources; s++) {
            if (s < nb_list_max())
                printf("%g %g %g   %g %g\n", g->src_dir[3 * s], g->src_dir[3 * s + 1], g->src_dir[3 * s + 2],
                       g->src_weight[s], g->src_lambda[s]);
            nb_unitize(g->src_dir + 3 * s, g->src_dir + 3 * s);
        }
        nb_list_cut(g->sources, "source");
    }
}

/* ------------------------------------------------------------------ all of it */

void nb_setup(NB *g)
{
    int k;
    if (!(g->pixel > 0.0) || !isfinite(g->pixel)) nb_die(9, "-pixel: pixel size must be > 0 (got %g mm)", g->pixel * 1000.0);
    if (g->fpixels) g->detsize_f = g->pixel * g->fpixels;
    if (g->spixels) g->detsize_s = g->pixel * g->spixels;
    {
        /* in double first: a huge -detsize does not fit an int */
        double nf = ceil(g->detsize_f / g->pixel - 0.5), ns = ceil(g->detsize_s / g->pixel - 0.5);
        if (nf > 2147483647.0 || ns > 2147483647.0)
            nb_die(9, "-detsize: the detector would be %.0f x %.0f pixels; expected at most 2147483647 a side", nf, ns);
        g->fpixels = (int)nf;
        g->spixels = (int)ns;
    }
    if (g->fpixels <= 0 || g->spixels <= 0)
        nb_die(9, "detector has no pixels (%d x %d); check -detpixels/-detsize/-pixel", g->fpixels, g->spixels);
    /* value checks the PyTorch side makes too (simulator/config.py validate_values) */
    if (g->distance == 0.0 && isnan(g->close_distance))
        nb_die(9, "-distance: expected a non-zero sample-detector distance in mm, got 0");
    if (g->mosaic_spread * NB_RTD > 180.0)
        nb_die(9, "-mosaic: expected a mosaic spread of at most 180 degrees, got %g", g->mosaic_spread * NB_RTD);
    if (g->roi_xmin > g->fpixels - 1 || g->roi_ymin > g->spixels - 1)
        nb_die(9, "-roi %d %d %d %d: selects no pixel of the %d x %d (fast x slow) detector", g->roi_xmin, g->roi_xmax,
               g->roi_ymin, g->roi_ymax, g->fpixels, g->spixels);
    /* the image's memory is counted by nb_estimate with everything else, before anything big is built */
    if (g->mask && (g->fpixels != mask_f || g->spixels != mask_s))
        nb_die(9, "-mask: '%s' is %d x %d pixels (fast x slow) but the detector is %d x %d", g->maskfile, mask_f,
               mask_s, g->fpixels, g->spixels);

    if (g->flux != 0.0 && g->exposure > 0.0 && g->beamsize >= 0) g->fluence = g->flux * g->exposure / g->beamsize / g->beamsize;
    if (g->beamsize >= 0) {
        if (g->beamsize < g->sample_y) {
            printf("WARNING: clipping sample (%lg m high) with beam (%lg m)\n", g->sample_y, g->beamsize);
            g->sample_y = g->beamsize;
        }
        if (g->beamsize < g->sample_z) {
            printf("WARNING: clipping sample (%lg m wide) with beam (%lg m)\n", g->sample_z, g->beamsize);
            g->sample_z = g->beamsize;
        }
    }
    if (g->exposure > 0.0) g->flux = g->fluence / g->exposure * g->beamsize * g->beamsize;

    if (g->roi_xmin < 0) g->roi_xmin = 0;
    if (g->roi_xmax < 0) g->roi_xmax = g->fpixels;
    if (g->roi_ymin < 0) g->roi_ymin = 0;
    if (g->roi_ymax < 0) g->roi_ymax = g->spixels;

    apply_convention(g);

    /* upstream's banner line (scripts grep for it); our own lines carry the "nbref: " prefix */
    printf("nanoBragg nanocrystal diffraction simulator - James Holton and Ken Frankel 5-17-17\n");
    printf("nbref: clean-room reference engine of nbparity, reproducing nanoBragg (bl831/nanoBragg main)\n");
    if ((g->hklfile == NULL && g->default_F == 0.0) || (g->matfile == NULL && g->cell[0] == 0.0)) {
        nb_usage(stdout);
        fflush(stdout);
        if (g->hklfile == NULL && g->default_F == 0.0)
            fprintf(stderr, "nbref: ERROR: no -hkl file and -default_F is 0: nothing to scatter\n");
        if (g->matfile == NULL && g->cell[0] == 0.0)
            fprintf(stderr, "nbref: ERROR: no -mat file and no -cell: the crystal is undefined\n");
        exit(9);
    }
    if (g->matfile) { FILE *f = fopen(g->matfile, "r"); if (!f) nb_die(9, "-mat: cannot open file '%s'", g->matfile); fclose(f); }
    if (g->hklfile) { FILE *f = fopen(g->hklfile, "r"); if (!f) nb_die(9, "-hkl: cannot open file '%s'", g->hklfile); fclose(f); }
    if (g->sourcefile) { FILE *f = fopen(g->sourcefile, "r"); if (!f) nb_die(9, "-sourcefile: cannot open file '%s'", g->sourcefile); fclose(f); }

    resolve_steps(g);
    detector_geometry(g);

    if (g->interpolate > 1) {
        if (g->Na <= 2 || g->Nb <= 2 || g->Nc <= 2) {
            printf("auto-selected tricubic interpolation of structure factors\n");
            g->interpolate = 1;
        } else {
            printf("auto-selected no interpolation\n");
            g->interpolate = 0;
        }
    }

    crystal_setup(g);

    if (g->hklfile) {
        read_hkl(g);
        write_dump(g);
    } else {
        g->hkls = 0;
    }
    if (g->hkls == 0) g->interpolate = 0;

    if (g->sourcefile) read_sources(g);
    nb_estimate(g);   /* memory refused (exit 9) or the estimate printed, before any list or allocation grows */

    /* upstream prints one line per layer and phi tick: the first nb_list_max() of each here, then a count */
    for (k = 0; k < g->detector_thicksteps && k < nb_list_max(); k++)
        printf("thick%d = %g um\n", k, g->detector_thickstep * k * 1e6);
    nb_list_cut(g->detector_thicksteps, "thick");
    for (k = 0; k < g->phisteps && k < nb_list_max(); k++) printf("phi%d = %g\n", k, (g->phi0 + g->phistep * k) * NB_RTD);
    nb_list_cut(g->phisteps, "phi");

    make_sources(g);

    {
        char what[128];
        snprintf(what, sizeof what, "%d mosaic rotation matrices", g->mosaic_domains);
        /* size_t: 9 * (n + 1) overflowed int for n > 2.4e8 (SIGSEGV) */
        nb_require_memory(72.0 * ((double)g->mosaic_domains + 1), "-mosaic_domains", what);
    }
    g->umats = (double *)calloc(9 * ((size_t)g->mosaic_domains + 1), sizeof(double));
    if (!g->umats) nb_die(9, "-mosaic_domains: out of memory for %d mosaic rotation matrices", g->mosaic_domains);
    for (k = 0; k < g->mosaic_domains; k++) {
        double *U = g->umats + 9 * k;
        nb_mosaic_umat((float)g->mosaic_spread, U, &g->mosaic_seed);
        if (k == 0) {
            int j;
            for (j = 0; j < 9; j++) U[j] = (j % 4 == 0) ? 1.0 : 0.0;
        }
    }
    printf("  created a total of %d mosaic domains\n", g->mosaic_domains);

    if (g->oversample <= 0) g->oversample = 1;
    g->steps = (long)g->sources * g->mosaic_domains * g->phisteps * g->oversample * g->oversample;

    printf("  %d initialized hkls (all others =%g)\n", g->hkls, g->default_F);
    printf("  %s xtal: %.0fx%.0fx%.0f cells\n",
           g->xtal_shape == SHAPE_ROUND ? "ellipsoidal" : g->xtal_shape == SHAPE_GAUSS ? "gaussian" :
           g->xtal_shape == SHAPE_TOPHAT ? "tophat-spot" : "parallelpiped", g->Na, g->Nb, g->Nc);
    printf("  wave=%g meters +/- %g%% in %d steps\n", g->lambda0, g->dispersion * 100, g->dispsteps);
    if (g->nopolar) printf("  polarization effect disabled\n");
    else printf("  Kahn polarization factor: %f\n", g->polarization);
    if (g->curved_det) printf("  curved detector: all pixels same distance from origin\n");
    if (g->point_pixel) printf("  pixel obliquity effect disabled\n");
    printf("  incident fluence: %lg photons/m^2\n", g->fluence);
    printf("  distance=%lg detsize=%lgx%lg  pixel=%lg meters (%dx%d pixels)\n", g->distance, g->detsize_f, g->detsize_s,
           g->pixel, g->fpixels, g->spixels);
    printf("  sensor is %lg m thick in %d layers with mu= %lg\n", g->detector_thick, g->detector_thicksteps,
           (g->mu_set || g->detector_thick > 0.0) ? g->detector_mu : -1.0);  /* upstream's unset mu is -1 */
    printf("  Xbeam=%lg Ybeam=%lg\n", g->Xbeam, g->Ybeam);
    printf("  Fbeam=%lg Sbeam=%lg\n", g->Fbeam, g->Sbeam);
    printf("  Xclose=%lg Yclose=%lg\n", g->Xclose, g->Yclose);
    printf("  Fclose=%lg Sclose=%lg\n", g->Fclose, g->Sclose);
    printf("  DIRECTION_OF_DETECTOR_X-AXIS= %g %g %g\n", g->fdet[0], g->fdet[1], g->fdet[2]);
    printf("  DIRECTION_OF_DETECTOR_Y-AXIS= %g %g %g\n", g->sdet[0], g->sdet[1], g->sdet[2]);
    printf("  DIRECTION_OF_DETECTOR_Z-AXIS= %g %g %g\n", g->odet[0], g->odet[1], g->odet[2]);
    printf("  INCIDENT_BEAM_DIRECTION= %g %g %g\n", g->beam[0], g->beam[1], g->beam[2]);
    printf("  spindle ROTATION_AXIS= %g %g %g\n", g->spindle[0], g->spindle[1], g->spindle[2]);
    {
        double v[3];
        nb_cross(g->beam, g->polar_vec, v);
        printf("  POLARIZATION_PLANE_NORMAL= %g %g %g\n", v[0], v[1], v[2]);
    }
    printf("  dials origin= %g %g %g\n", g->dials_origin[0], g->dials_origin[1], g->dials_origin[2]);
    printf("  roi: %d < x < %d && %d < y < %d\n", g->roi_xmin, g->roi_xmax, g->roi_ymin, g->roi_ymax);
    printf("  hdivrange=%g hdivstep=%g  radians\n", g->hdivrange, g->hdivstep);
    printf("  vdivrange=%g vdivstep=%g  radians\n", g->vdivrange, g->vdivstep);
    printf("  %d divergence steps\n", g->divsteps);
    printf("  %d sources\n", g->sources);
    printf("  %d mosaic domains over mosaic spread of %g degrees\n", g->mosaic_domains, g->mosaic_spread * NB_RTD);
    printf("  %d phi steps from %g to %g degrees\n", g->phisteps, g->phi0 * NB_RTD, (g->phi0 + g->osc) * NB_RTD);
    printf("  %dx%d pixel oversample steps%s%s%s\n", g->oversample, g->oversample, g->oversample_thick ? " +thick" : "",
           g->oversample_polar ? " +polar" : "", g->oversample_omega ? " +omega" : "");
    printf("nbref: steps = %ld\n", g->steps);
    printf("nbref: convention %s, phi0 carry-over %s\n", conv_name(g->convention), g->phi0_carryover ? "on" : "off");
    if (g->mask) printf("  skipping zero-flagged pixels in %s\n", g->maskfile);
    if (g->calc_noise) {
        printf("\n  noise image paramters:\n");
        printf("  seed: %ld\n", g->seed);
        printf("  water droplet size: %g m\n", g->water);
    }
    fflush(stdout);
}
