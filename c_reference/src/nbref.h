/* nbref: a clean-room C99 reference engine reproducing nanoBragg's behaviour (see shared/spec/nanobragg.md). */
#ifndef NBREF_H
#define NBREF_H

#include <stddef.h>
#include <stdio.h>

#define NB_RTD (180.0 / 3.14159265358979323846)
#define NB_PI 3.14159265358979323846

enum { CONV_MOSFLM = 0, CONV_XDS, CONV_ADXV, CONV_DENZO, CONV_DIALS, CONV_CUSTOM };
enum { PIVOT_BEAM = 0, PIVOT_SAMPLE = 1 };
enum { SHAPE_SQUARE = 0, SHAPE_ROUND, SHAPE_GAUSS, SHAPE_TOPHAT };

typedef struct {
    /* ---- detector ---- */
    int fpixels, spixels;
    double detsize_f, detsize_s, pixel;
    double distance, close_distance;          /* close_distance NAN when unset */
    double Xbeam, Ybeam, Xclose, Yclose, ORGX, ORGY;   /* NAN when unset */
    double Fbeam, Sbeam, Fclose, Sclose;
    int convention, pivot;
    double fdet[3], sdet[3], odet[3], beam[3], polar_vec[3], spindle[3], twotheta_axis[3], pix0[3], vert[3];
    double rotx, roty, rotz, twotheta;
    double ratio;
    double dials_origin[3];
    int curved_det, point_pixel;
    double detector_thick, detector_thickstep, detector_mu;
    int detector_thicksteps, mu_set;

    /* ---- crystal ---- */
    double Na, Nb, Nc;
    double sample_x, sample_y, sample_z;
    double cell[6];              /* a b c (A), alpha beta gamma (rad) */
    int user_cell;
    const char *matfile;
    int misset_mode;             /* 0 none, 1 angles, -1 random */
    double misset[3];
    long misset_seed, mosaic_seed, seed;
    double mosaic_spread;        /* rad; -1 unset */
    int mosaic_domains;          /* -1 unset */
    int mosaic_domains_set;      /* given on the command line (a count <= 0 with a spread is refused) */
    int xtal_shape;
    double fudge;
    double a_star[3], b_star[3], c_star[3];   /* static, 1/A */
    double a0[3], b0[3], c0[3];               /* metres */
    double *umats;                            /* 9 per domain */

    /* ---- structure factors ---- */
    const char *hklfile;
    const char *dumpfile;
    double default_F;
    int interpolate;             /* 0, 1, or 2 (auto) */
    int hkls;
    int h_min, h_max, k_min, k_max, l_min, l_max, h_range, k_range, l_range;
    double *Fhkl;                /* (h_range+1)*(k_range+1)*(l_range+1) */

    /* ---- beam ---- */
    double lambda0, fluence, flux, exposure, beamsize;
    double polarization;
    int nopolar;
    double dispersion, dispstep; int dispsteps;
    double hdivrange, vdivrange, hdivstep, vdivstep; int hdivsteps, vdivsteps;
    int round_div;
    const char *sourcefile;
    double dmin;
    int sources, divsteps;       /* divsteps: generated divergence points (-1 with -sourcefile) */
    double *src_dir;             /* 3 per source: unit vector sample->source */
    double *src_lambda, *src_weight;
    double water;

    /* ---- sampling ---- */
    int oversample, oversample_thick, oversample_polar, oversample_omega;
    int oversample_auto;         /* 1 when auto-selected from the crystal size */
    double phi0, osc, phistep; int phisteps;
    int phi0_carryover;

    /* ---- output ---- */
    const char *floatfile, *intfile, *pgmfile, *noisefile;
    int write_pgm, calc_noise;
    double intfile_scale, pgm_scale, adc;
    int roi_xmin, roi_xmax, roi_ymin, roi_ymax;
    int printout, printout_f, printout_s, progress;
    int trace_s, trace_f;
    const char *maskfile, *imgfile;
    unsigned short *mask;

    /* ---- derived ---- */
    long steps;
    double r_e_sqr;
} NB;

/* util.c */
double nb_dot(const double *a, const double *b);
void nb_cross(const double *a, const double *b, double *out);
double nb_mag(const double *a);
double nb_unitize(const double *in, double *out);   /* returns the original length */
void nb_rotate_xyz(const double *v, double *out, double rx, double ry, double rz);
void nb_rotate_axis(const double *v, double *out, const double *axis, double phi);
void nb_rotate_umat(const double *v, double *out, const double *U);
float nb_ran1(long *idum);
void nb_mosaic_umat(float spread, double *U, long *seed);
void nb_umat2misset(const double *U, double *angles);
double nb_sincg(double x, double N);
double nb_sinc3(double x);
double nb_polarization(double kahn, const double *incident, const double *diffracted, const double *axis);
float nb_gammln(float xx);
float nb_gaussdev(long *idum);
float nb_poidev(float xm, long *idum);
void nb_polint(const double *xa, const double *ya, double x, double *y);
void nb_polin3(const double *x1a, const double *x2a, const double *x3a, const double *ya,
               double x1, double x2, double x3, double *y);
void nb_die(int code, const char *fmt, ...);
void nb_warn(const char *fmt, ...);
int nb_decimal(const char *tok, double *v);
void nb_require_regular(const char *flag, const char *path);
char *nb_read_text(const char *flag, const char *path);
double nb_memory_available(void);

/* budget.c: the run budget of simulator/budget.def */
void nb_require_memory(double bytes, const char *flag, const char *what);
void nb_grid_name(const NB *g, char *out, size_t size);
int nb_list_max(void);
void nb_list_cut(long total, const char *what);
void nb_refuse_oversample(double n);
void nb_refuse_mosaic_domains(int n);
void nb_estimate(const NB *g);

/* cli.c */
void nb_defaults(NB *g);
void nb_parse(NB *g, int argc, char **argv);
void nb_usage(FILE *f);

/* setup.c */
void nb_read_headers(NB *g);
void nb_setup(NB *g);

/* render.c */
void nb_render(NB *g, float *floatimage, double *omega_sum_out);

/* output.c */
void nb_write_outputs(NB *g, float *floatimage);

#endif
