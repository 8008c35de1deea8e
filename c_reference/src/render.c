/* The pixel loop (spec section 7.1), with nanoBragg's phi=0 carry-over made deterministic (decisions D3),
   the once-per-run interpolation switch-off made deterministic, pixel traces and the progress meter.
   Every pixel is a pure function of the set-up state, so any OpenMP thread count gives the same image. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "nbref.h"

typedef struct {
    const NB *g;
    int T, D;                 /* phi ticks, mosaic domains */
    double *phi;              /* tick angles (rad) */
    double *latN, *latF;      /* [tick][domain][9]: a,b,c in metres for ordinary paths / the run's first path */
    long first_pix;           /* raster index of the pixel holding the run's first path, -1 if none */
    int first_t, first_ss, first_sf, first_src;
} Ctx;

typedef struct {
    double S;                 /* final value of the pixel */
    double omega_sum;
    int interp_failed;        /* interpolation went out of range in this pixel */
    double fail_hkl[3];
    int fail_hkl0[3];
    /* -printout (spec 11.2): the values nanoBragg's loop variables hold when the pixel is finished */
    double p_stol, p_P[3], p_hkl[3], p_Fcell, p_Flatt, p_I, p_L[9], p_polar, p_omega, p_cap;
    int p_hkl0[3];
} PixOut;

static void pixel_position(const NB *g, int s, int f, int t, int ss, int sf, double *P)
{
    double sub = g->pixel / g->oversample;
    double Fdet = sub * (f * g->oversample + sf) + sub / 2.0;
    double Sdet = sub * (s * g->oversample + ss) + sub / 2.0;
    double Odet = t * g->detector_thickstep;
    int k;
    for (k = 0; k < 3; k++) P[k] = Fdet * g->fdet[k] + Sdet * g->sdet[k] + Odet * g->odet[k] + g->pix0[k];
    if (g->curved_det) {
        double v[3], w[3];
        for (k = 0; k < 3; k++) v[k] = g->distance * g->beam[k];
        nb_rotate_axis(v, w, g->sdet, P[1] / g->distance);
        nb_rotate_axis(w, P, g->fdet, P[2] / g->distance);
    }
}

static int path_cut(const NB *g, const double *d, int src, double *q, double *stol)
{
    const double *sd = g->src_dir + 3 * src;
    double lam = g->src_lambda[src];
    int k;
    for (k = 0; k < 3; k++) q[k] = (d[k] + sd[k]) / lam;   /* (d - i)/lambda with i = -sd */
    *stol = 0.5 * nb_mag(q);
    return (g->dmin > 0.0 && *stol > 0.0 && g->dmin > 0.5 / *stol);
}

static int pixel_rendered(const NB *g, int s, int f)
{
    if (f < g->roi_xmin || f > g->roi_xmax || s < g->roi_ymin || s > g->roi_ymax) return 0;
    if (g->mask && g->mask[(long)s * g->fpixels + f] == 0) return 0;
    return 1;
}

/* ------------------------------------------------------------------ structure factor lookups */

static double F_nearest(const NB *g, int h0, int k0, int l0)
{
    if (g->hkls > 0 && h0 >= g->h_min && h0 <= g->h_max && k0 >= g->k_min && k0 <= g->k_max &&
        l0 >= g->l_min && l0 <= g->l_max) {
        long nk = g->k_range + 1, nl = g->l_range + 1;
        return g->Fhkl[((long)(h0 - g->h_min) * nk + (k0 - g->k_min)) * nl + (l0 - g->l_min)];
    }
    return g->default_F;
}

static int interp_in_range(const NB *g, double h, double k, double l)
{
    if ((h - g->h_min + 3) > g->h_range || (h - 2) < g->h_min ||
        (k - g->k_min + 3) > g->k_range || (k - 2) < g->k_min ||
        (l - g->l_min + 3) > g->l_range || (l - 2) < g->l_min) return 0;
    return 1;
}

static double F_tricubic(const NB *g, double h, double k, double l)
{
    double sub[64], hx[4], kx[4], lx[4], F;
    int hf = (int)floor(h), kf = (int)floor(k), lf = (int)floor(l), i, j, m;
    long nk = g->k_range + 1, nl = g->l_range + 1;
    for (i = 0; i < 4; i++) { hx[i] = hf + i - 1; kx[i] = kf + i - 1; lx[i] = lf + i - 1; }
    for (i = 0; i < 4; i++)
        for (j = 0; j < 4; j++)
            for (m = 0; m < 4; m++)
                sub[16 * i + 4 * j + m] = g->Fhkl[((long)(hf + i - 1 - g->h_min) * nk + (kf + j - 1 - g->k_min)) * nl +
                                                  (lf + m - 1 - g->l_min)];
    nb_polin3(hx, kx, lx, sub, h, k, l, &F);
    return F;
}

/* ------------------------------------------------------------------ one pixel */

static void render_pixel(const Ctx *c, int s, int f, int interp_on, int trace, int record, PixOut *out)
{
    const NB *g = c->g;
    long pix = (long)s * g->fpixels + f;
    int N = g->oversample, t, ss, sf, src, tic, mos;
    double I, polar, omega = 0.0, cap = 0.0;
    double I_bg = 0.0;
    int interp = interp_on;
    double last_inc[3] = {0, 0, 0}, last_d[3] = {0, 0, 0};
    double Nabc = g->Na * g->Nb * g->Nc;

    memset(out, 0, sizeof(*out));
    if (g->water != 0.0)
        I_bg = 2.57 * 2.57 * g->r_e_sqr * g->fluence * g->water * g->water * g->water * 1e6 * 6.02214179e23 / 18.0;
    I = I_bg;
    polar = g->nopolar ? 1.0 : 0.0;

    for (t = 0; t < g->detector_thicksteps; t++) {
        cap = (g->detector_thick == 0.0) ? 1.0 : 0.0;
        for (ss = 0; ss < N; ss++) {
            for (sf = 0; sf < N; sf++) {
                double P[3], d[3], airpath;
                int k;
                pixel_position(g, s, f, t, ss, sf, P);
                airpath = nb_unitize(P, d);
                if (omega == 0.0 || g->oversample_omega) {
                    if (g->point_pixel) omega = 1.0 / airpath / airpath;
                    else omega = g->pixel * g->pixel / airpath / airpath * g->close_distance / airpath;
                }
                out->omega_sum += omega;
                if (cap == 0.0 || g->oversample_thick) {
                    double rho = nb_dot(d, g->odet);
                    cap = exp(-t * g->detector_thickstep * g->detector_mu / rho) -
                          exp(-(t + 1) * g->detector_thickstep * g->detector_mu / rho);
                }
                for (src = 0; src < g->sources; src++) {
                    double inc[3], q[3], stol, lam = g->src_lambda[src];
                    const double *lat;
                    int first;
                    for (k = 0; k < 3; k++) inc[k] = -g->src_dir[3 * src + k];
                    {
                        int cut = path_cut(g, d, src, q, &stol);
                        for (k = 0; k < 3; k++) { last_inc[k] = inc[k]; last_d[k] = d[k]; }
                        if (record) {
                            out->p_stol = stol;
                            for (k = 0; k < 3; k++) out->p_P[k] = P[k];
                        }
                        if (trace && src == 0) {
                            printf("TRACE_C: pix0_vector_meters %.15g %.15g %.15g\n", g->pix0[0], g->pix0[1], g->pix0[2]);
                            printf("TRACE_C: fdet_vec %.15g %.15g %.15g\n", g->fdet[0], g->fdet[1], g->fdet[2]);
                            printf("TRACE_C: sdet_vec %.15g %.15g %.15g\n", g->sdet[0], g->sdet[1], g->sdet[2]);
                            printf("TRACE_C: pixel_pos_meters %.15g %.15g %.15g\n", P[0], P[1], P[2]);
                            printf("TRACE_C: R_distance_meters %.15g\n", airpath);
                            printf("TRACE_C: omega_pixel_sr %.15g\n", omega);
                            printf("TRACE_C: close_distance_meters %.15g\n", g->close_distance);
                            printf("TRACE_C: obliquity_factor %.15g\n", g->close_distance / airpath);
                            printf("TRACE_C: diffracted_vec %.15g %.15g %.15g\n", d[0], d[1], d[2]);
                            printf("TRACE_C: incident_vec %.15g %.15g %.15g\n", inc[0], inc[1], inc[2]);
                            printf("TRACE_C: lambda_meters %.15g\n", lam);
                            printf("TRACE_C: lambda_angstroms %.15g\n", lam * 1e10);
                            printf("TRACE_C: scattering_vec_A_inv %.15g %.15g %.15g\n", q[0], q[1], q[2]);
                        }
                        if (cut) continue;
                    }
                    if (!g->nopolar && (polar == 0.0 || g->oversample_polar))
                        polar = nb_polarization(g->polarization, inc, d, g->polar_vec);

                    first = (pix == c->first_pix && t == c->first_t && ss == c->first_ss && sf == c->first_sf &&
                             src == c->first_src);
                    lat = first ? c->latF : c->latN;

                    for (tic = 0; tic < c->T; tic++) {
                        for (mos = 0; mos < c->D; mos++) {
                            const double *L = lat + 9 * (tic * c->D + mos);
                            double h = nb_dot(L, q), kk = nb_dot(L + 3, q), l = nb_dot(L + 6, q);
                            int h0 = (int)ceil(h - 0.5), k0 = (int)ceil(kk - 0.5), l0 = (int)ceil(l - 0.5);
                            double Fa = 1.0, Fb = 1.0, Fc = 1.0, F_latt, F_cell = 0.0, contrib = 0.0;
                            int skipped = 0;
                            if (record) {
                                out->p_hkl[0] = h; out->p_hkl[1] = kk; out->p_hkl[2] = l;
                                out->p_hkl0[0] = h0; out->p_hkl0[1] = k0; out->p_hkl0[2] = l0;
                                memcpy(out->p_L, L, 9 * sizeof(double));
                            }
                            if (g->xtal_shape == SHAPE_SQUARE) {
                                if (g->Na > 1) Fa = nb_sincg(NB_PI * h, g->Na);
                                if (g->Nb > 1) Fb = nb_sincg(NB_PI * kk, g->Nb);
                                if (g->Nc > 1) Fc = nb_sincg(NB_PI * l, g->Nc);
                                F_latt = Fa * Fb * Fc;
                            } else if (g->xtal_shape == SHAPE_ROUND) {
                                double hrad = (h - h0) * (h - h0) * g->Na * g->Na + (kk - k0) * (kk - k0) * g->Nb * g->Nb +
                                              (l - l0) * (l - l0) * g->Nc * g->Nc;
                                F_latt = Nabc * 0.723601254558268 * nb_sinc3(NB_PI * sqrt(hrad * g->fudge));
                                Fa = Fb = Fc = NAN;
                            } else {
                                double dx[3], rho2;
                                for (k = 0; k < 3; k++)
                                    dx[k] = (h - h0) * g->a_star[k] + (kk - k0) * g->b_star[k] + (l - l0) * g->c_star[k];
                                rho2 = nb_dot(dx, dx) * g->Na * g->Na * g->Nb * g->Nb * g->Nc * g->Nc;
                                if (g->xtal_shape == SHAPE_GAUSS) F_latt = Nabc * exp(-(rho2 / 0.63) * g->fudge);
                                else F_latt = (rho2 * g->fudge < 0.3969) ? Nabc : 0.0;
                                Fa = Fb = Fc = NAN;
                            }
                            if (record) out->p_Flatt = F_latt;
                            if (F_latt == 0.0 && g->water == 0.0) {
                                skipped = 1;
                                if (trace) {
                                    if (interp && interp_in_range(g, h, kk, l)) F_cell = F_tricubic(g, h, kk, l);
                                    else F_cell = F_nearest(g, h0, k0, l0);
                                }
                            } else {
                                if (interp) {
                                    if (!interp_in_range(g, h, kk, l)) {
                                        if (!out->interp_failed) {
                                            out->interp_failed = 1;
                                            out->fail_hkl[0] = h; out->fail_hkl[1] = kk; out->fail_hkl[2] = l;
                                            out->fail_hkl0[0] = h0; out->fail_hkl0[1] = k0; out->fail_hkl0[2] = l0;
                                        }
                                        interp = 0;
                                    } else {
                                        F_cell = F_tricubic(g, h, kk, l);
                                    }
                                }
                                if (!interp) F_cell = F_nearest(g, h0, k0, l0);
                                contrib = F_cell * F_cell * F_latt * F_latt;
                                if (record) out->p_Fcell = F_cell;
                                I += contrib;
                                if (g->oversample_thick) I *= cap;
                                if (g->oversample_polar) I *= polar;
                                if (g->oversample_omega) I *= omega;
                            }
                            if (trace) {
                                if (tic == 0 && mos == 0 && src == 0) {
                                    printf("TRACE_C: rot_a_angstroms %.15g %.15g %.15g\n", L[0] * 1e10, L[1] * 1e10, L[2] * 1e10);
                                    printf("TRACE_C: rot_b_angstroms %.15g %.15g %.15g\n", L[3] * 1e10, L[4] * 1e10, L[5] * 1e10);
                                    printf("TRACE_C: rot_c_angstroms %.15g %.15g %.15g\n", L[6] * 1e10, L[7] * 1e10, L[8] * 1e10);
                                    printf("TRACE_C: rot_a_star_A_inv %.15g %.15g %.15g\n", g->a_star[0], g->a_star[1], g->a_star[2]);
                                    printf("TRACE_C: rot_b_star_A_inv %.15g %.15g %.15g\n", g->b_star[0], g->b_star[1], g->b_star[2]);
                                    printf("TRACE_C: rot_c_star_A_inv %.15g %.15g %.15g\n", g->c_star[0], g->c_star[1], g->c_star[2]);
                                    printf("TRACE_C: hkl_frac %.15g %.15g %.15g\n", h, kk, l);
                                    printf("TRACE_C: hkl_rounded %d %d %d\n", h0, k0, l0);
                                    printf("TRACE_C: F_latt_a %.15g\n", Fa);
                                    printf("TRACE_C: F_latt_b %.15g\n", Fb);
                                    printf("TRACE_C: F_latt_c %.15g\n", Fc);
                                    printf("TRACE_C: F_latt %.15g\n", F_latt);
                                }
                                printf("TRACE_C_PHI phi_tic=%d phi_deg=%.15g k_frac=%.15g F_latt_b=%.15g F_latt=%.15g "
                                       "h_frac=%.15g l_frac=%.15g h0=%d k0=%d l0=%d F_latt_a=%.15g F_latt_c=%.15g "
                                       "F_cell=%.15g I_contrib=%.15g layer=%d sub_s=%d sub_f=%d src=%d mos=%d "
                                       "lambda_A=%.15g capture=%.15g polar=%.15g\n",
                                       tic, c->phi[tic] * NB_RTD, kk, Fb, F_latt, h, l, h0, k0, l0, Fa, Fc, F_cell,
                                       contrib, t, ss, sf, src, mos, lam * 1e10, cap, polar);
                                if (tic == 0 && mos == 0 && src == 0 && !skipped) printf("TRACE_C: F_cell %.15g\n", F_cell);
                            }
                        }
                    }
                }
            }
        }
    }
    {
        double S = g->r_e_sqr * g->fluence * I / g->steps;
        if (!g->oversample_thick) S *= cap;
        if (!g->oversample_polar) S *= polar;
        if (!g->oversample_omega) S *= omega;
        out->S = S;
        out->p_I = I; out->p_polar = polar; out->p_omega = omega; out->p_cap = cap;
        if (trace) {
            printf("TRACE_C: I_before_scaling %.15g\n", I);
            printf("TRACE_C: r_e_meters %.15g\n", sqrt(g->r_e_sqr));
            printf("TRACE_C: r_e_sqr %.15g\n", g->r_e_sqr);
            printf("TRACE_C: fluence_photons_per_m2 %.15g\n", g->fluence);
            printf("TRACE_C: steps %ld\n", g->steps);
            printf("TRACE_C: oversample_thick %d\n", g->oversample_thick);
            printf("TRACE_C: oversample_polar %d\n", g->oversample_polar);
            printf("TRACE_C: oversample_omega %d\n", g->oversample_omega);
            printf("TRACE_C: capture_fraction %.15g\n", cap);
            printf("TRACE_C: polar %.15g\n", polar);
            printf("TRACE_C: omega_pixel %.15g\n", omega);
            printf("TRACE_C: cos_2theta %.15g\n", nb_dot(last_inc, last_d));
            printf("TRACE_C: I_pixel_final %.15g\n", S);
        }
    }
}

/* ------------------------------------------------------------------ set-up of the phi/mosaic tables */

static void build_tables(Ctx *c)
{
    const NB *g = c->g;
    int T = g->phisteps, D = g->mosaic_domains, i, j, m, last_nonzero = -1;
    int *rN, *rF;
    double *rot;   /* (T+1) x 9: index 0 = unrotated, j+1 = rotated by phi_j */
    c->T = T; c->D = D;
    c->phi = malloc(T * sizeof(double));
    rN = malloc(T * sizeof(int)); rF = malloc(T * sizeof(int));
    rot = malloc((T + 1) * 9 * sizeof(double));
    for (i = 0; i < T; i++) {
        c->phi[i] = g->phi0 + g->phistep * i;
        if (c->phi[i] != 0.0) last_nonzero = i;
    }
    memcpy(rot, g->a0, 3 * sizeof(double));
    memcpy(rot + 3, g->b0, 3 * sizeof(double));
    memcpy(rot + 6, g->c0, 3 * sizeof(double));
    for (i = 0; i < T; i++) {
        double *R = rot + 9 * (i + 1);
        nb_rotate_axis(g->a0, R, g->spindle, c->phi[i]);
        nb_rotate_axis(g->b0, R + 3, g->spindle, c->phi[i]);
        nb_rotate_axis(g->c0, R + 6, g->spindle, c->phi[i]);
    }
    /* which rotation each tick uses: rotations are carried out only at non-zero ticks; a zero tick sees the
       lattice of the most recent rotation in single-thread loop order */
    {
        int recentN = g->phi0_carryover ? last_nonzero : -1;   /* state left by the previous path */
        int recentF = -1;                                        /* the run's first path starts unrotated */
        for (i = 0; i < T; i++) {
            if (c->phi[i] != 0.0 || !g->phi0_carryover) {
                rN[i] = rF[i] = (c->phi[i] != 0.0) ? i : -1;
                if (c->phi[i] != 0.0) recentN = recentF = i;
            } else {
                rN[i] = recentN;
                rF[i] = recentF;
            }
        }
    }
    c->latN = malloc((size_t)T * D * 9 * sizeof(double));
    c->latF = malloc((size_t)T * D * 9 * sizeof(double));
    for (i = 0; i < T; i++) {
        for (m = 0; m < D; m++) {
            const double *RN = rot + 9 * (rN[i] + 1), *RF = rot + 9 * (rF[i] + 1);
            double *LN = c->latN + 9 * (i * D + m), *LF = c->latF + 9 * (i * D + m);
            if (g->mosaic_spread > 0.0) {
                const double *U = g->umats + 9 * m;
                for (j = 0; j < 3; j++) {
                    nb_rotate_umat(RN + 3 * j, LN + 3 * j, U);
                    nb_rotate_umat(RF + 3 * j, LF + 3 * j, U);
                }
            } else {
                memcpy(LN, RN, 9 * sizeof(double));
                memcpy(LF, RF, 9 * sizeof(double));
            }
        }
    }
    free(rN); free(rF); free(rot);
}

static void find_first_path(Ctx *c)
{
    const NB *g = c->g;
    int s, f, t, ss, sf, src;
    c->first_pix = -1;
    for (s = 0; s < g->spixels; s++) {
        for (f = 0; f < g->fpixels; f++) {
            if (!pixel_rendered(g, s, f)) continue;
            for (t = 0; t < g->detector_thicksteps; t++)
                for (ss = 0; ss < g->oversample; ss++)
                    for (sf = 0; sf < g->oversample; sf++) {
                        double P[3], d[3], q[3], stol;
                        pixel_position(g, s, f, t, ss, sf, P);
                        nb_unitize(P, d);
                        for (src = 0; src < g->sources; src++) {
                            if (path_cut(g, d, src, q, &stol)) continue;
                            c->first_pix = (long)s * g->fpixels + f;
                            c->first_t = t; c->first_ss = ss; c->first_sf = sf; c->first_src = src;
                            return;
                        }
                    }
            if (g->dmin <= 0.0) return;   /* nothing can be cut: no path at all (no sources) */
        }
    }
}

/* ------------------------------------------------------------------ progress */

/* upstream's meter (spec 11.2): before rendering its pp-th pixel (pp counts rendered pixels in raster order) it prints
   pp*100/P when pp is a multiple of P/20, or of P/100 in the first and last tenth, where P = (roi_xmax - roi_xmin + 1)
   * (roi_ymax - roi_ymin + 1) with the C's default roi_xmax = fpixels (one column and one row more than the
   detector, so 100% is never reached). The lines depend only on how many pixels are done, so printing them as the
   count grows gives upstream's lines whatever the thread count. */
typedef struct {
    long P, next;             /* progress_pixels; the next pp to consider */
} Meter;

static void progress_report(Meter *m, long done)
{
    long P = m->P;
    for (; m->next < done; m->next++) {
        long pp = m->next;
        if (pp % (P / 20) == 0 || ((10 * pp < P || 10 * pp > 9 * P) && pp % (P / 100) == 0))
            printf("%lu%% done\n", (unsigned long)(pp * 100 / P));
    }
    fflush(stdout);
}

/* ------------------------------------------------------------------ the image */

static void render_rows(const Ctx *c, float *img, double *row_omega, int interp_on, long from_pix, int progress,
                        long *fail_pix, PixOut *fail_out)
{
    const NB *g = c->g;
    int s0 = g->roi_ymin < 0 ? 0 : g->roi_ymin;
    int s1 = g->roi_ymax >= g->spixels ? g->spixels - 1 : g->roi_ymax;
    int nrows = s1 - s0 + 1;
    long pixels_done = 0;
    Meter meter;
    int s;
    if (nrows <= 0) return;
    if (from_pix >= 0) s0 = (int)(from_pix / g->fpixels) > s0 ? (int)(from_pix / g->fpixels) : s0;
    meter.P = (long)(g->roi_xmax - g->roi_xmin + 1) * (g->roi_ymax - g->roi_ymin + 1);
    meter.next = 0;
    if (meter.P / 100 <= 0) progress = 0;   /* upstream's meter is silent for fewer than 100 pixels */
    nrows = s1 - s0 + 1;
    if (nrows <= 0) return;

#pragma omp parallel for schedule(dynamic, 1)
    for (s = s0; s <= s1; s++) {
        int f;
        long done, n_row = 0;
        double osum = 0.0;
        for (f = 0; f < g->fpixels; f++) {
            long pix = (long)s * g->fpixels + f;
            PixOut out;
            if (pix <= from_pix) continue;
            if (!pixel_rendered(g, s, f)) continue;
            render_pixel(c, s, f, interp_on, 0, 0, &out);
            n_row++;
            img[pix] = (float)out.S;
            osum += out.omega_sum;
            if (out.interp_failed) {
#pragma omp critical(nb_fail)
                {
                    if (*fail_pix < 0 || pix < *fail_pix) { *fail_pix = pix; *fail_out = out; }
                }
            }
        }
        if (row_omega) row_omega[s] = osum;
#pragma omp atomic capture
        done = pixels_done += n_row;
        if (progress) {
#ifdef _OPENMP
            if (omp_get_thread_num() == 0)
#endif
            {
                progress_report(&meter, done);
            }
        }
    }
    if (progress) progress_report(&meter, pixels_done);
}

/* upstream's -printout block for one pixel (spec 11.2), from the loop values its last path left */
static void print_pixel(const Ctx *c, int s, int f, int interp_on, float value)
{
    const NB *g = c->g;
    PixOut o;
    const double *P = o.p_P, *L = o.p_L;
    double twotheta;
    render_pixel(c, s, f, interp_on, 0, 1, &o);
    twotheta = atan2(sqrt(P[1] * P[1] + P[2] * P[2]), P[0]);
    printf("%4d %4d : stol = %g or %g\n", f, s, o.p_stol, sin(twotheta / 2.0) / (g->lambda0 * 1e10));
    printf("at %g %g %g\n", P[0], P[1], P[2]);
    printf("hkl= %f %f %f  hkl0= %d %d %d\n", o.p_hkl[0], o.p_hkl[1], o.p_hkl[2], o.p_hkl0[0], o.p_hkl0[1],
           o.p_hkl0[2]);
    printf(" F_cell=%g  F_latt=%g   I = %g\n", o.p_Fcell, o.p_Flatt, o.p_I);
    printf("I/steps %15.10g\n", o.p_I / g->steps);
    printf("polar   %15.10g\n", o.p_polar);
    printf("omega   %15.10g\n", o.p_omega);
    printf("capfrac %15.10g\n", o.p_cap);
    printf("pixel   %15.10g\n", (double)value);
    printf("real-space cell vectors (Angstrom):\n");
    printf("     %-10s  %-10s  %-10s\n", "a", "b", "c");
    printf("X: %11.8f %11.8f %11.8f\n", L[0] * 1e10, L[3] * 1e10, L[6] * 1e10);
    printf("Y: %11.8f %11.8f %11.8f\n", L[1] * 1e10, L[4] * 1e10, L[7] * 1e10);
    printf("Z: %11.8f %11.8f %11.8f\n", L[2] * 1e10, L[5] * 1e10, L[8] * 1e10);
}

void nb_render(NB *g, float *img, double *omega_sum_out)
{
    Ctx c;
    double *row_omega = calloc(g->spixels + 1, sizeof(double));
    long fail_pix = -1;
    PixOut fail_out;
    int s;
    int progress = g->progress && !g->printout && g->printout_f < 0;

    memset(&c, 0, sizeof c);
    c.g = g;
    build_tables(&c);
    find_first_path(&c);

    render_rows(&c, img, row_omega, g->interpolate, -1, progress, &fail_pix, &fail_out);
    if (g->interpolate && fail_pix >= 0) {
        /* interpolation is switched off for the rest of the run at the first out-of-range evaluation in
           raster order: re-render every later pixel without it */
        long dummy = -1;
        PixOut dout;
        printf("WARNING: out of range for three point interpolation: h,k,l,h0,k0,l0: %g,%g,%g,%d,%d,%d\n",
               fail_out.fail_hkl[0], fail_out.fail_hkl[1], fail_out.fail_hkl[2], fail_out.fail_hkl0[0],
               fail_out.fail_hkl0[1], fail_out.fail_hkl0[2]);
        printf("WARNING: further warnings will not be printed!\n");
        render_rows(&c, img, NULL, 0, fail_pix, 0, &dummy, &dout);
    }
    *omega_sum_out = 0.0;
    for (s = 0; s < g->spixels; s++) *omega_sum_out += row_omega[s];

    if (g->trace_s >= 0 && g->trace_f >= 0) {
        if (g->trace_s < g->spixels && g->trace_f < g->fpixels && pixel_rendered(g, g->trace_s, g->trace_f)) {
            long pix = (long)g->trace_s * g->fpixels + g->trace_f;
            PixOut out;
            int interp_on = g->interpolate && !(fail_pix >= 0 && pix > fail_pix);
            printf("TRACE_CONFIG: tracing pixel (spixel=%d, fpixel=%d)\n", g->trace_s, g->trace_f);
            render_pixel(&c, g->trace_s, g->trace_f, interp_on, 1, 0, &out);
            printf("TRACE_C: floatimage_accumulated %.15g\n", (double)img[pix]);
            fflush(stdout);
        } else {
            nb_warn("-trace_pixel %d %d: pixel is not rendered (outside the detector, the ROI or the mask)",
                    g->trace_s, g->trace_f);
        }
    }
    if (g->printout) {
        int f;
        for (s = 0; s < g->spixels; s++)
            for (f = 0; f < g->fpixels; f++) {
                long pix = (long)s * g->fpixels + f;
                if (!pixel_rendered(g, s, f)) continue;
                if (g->printout_f >= 0 && !(f == g->printout_f && s == g->printout_s)) continue;
                print_pixel(&c, s, f, g->interpolate && !(fail_pix >= 0 && pix > fail_pix), img[pix]);
            }
    }
    free(row_omega);
    free(c.phi); free(c.latN); free(c.latF);
}
