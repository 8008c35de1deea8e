/* Command-line handling with nanoBragg's matching rules: every argument that starts with '-' is tested
   against every flag by substring (a few flags need an exact length), so one argument can trigger several
   flags (-twotheta_axis also sets -twotheta, -misset_seed also sets -misset), values are never consumed, and later flags overwrite earlier
   ones.  Deliberate improvement (decisions D5): numeric values of a flag typed exactly are checked with
   strtod and rejected when malformed; substring side-matches keep nanoBragg's lenient atof/atoi. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "nbref.h"

static void set3(double *v, double x, double y, double z) { v[0] = x; v[1] = y; v[2] = z; }

void nb_defaults(NB *g)
{
    memset(g, 0, sizeof(*g));
    g->fpixels = g->spixels = 0;
    g->detsize_f = g->detsize_s = 0.1024;
    g->pixel = 0.0001;
    g->distance = 0.1;
    g->close_distance = NAN;
    g->Xbeam = g->Ybeam = g->Xclose = g->Yclose = g->ORGX = g->ORGY = NAN;
    g->Fbeam = g->Sbeam = g->Fclose = g->Sclose = NAN;
    g->convention = CONV_MOSFLM;
    g->pivot = PIVOT_BEAM;
    set3(g->beam, 1, 0, 0);
    set3(g->fdet, 0, 0, 1);
    set3(g->sdet, 0, -1, 0);
    set3(g->odet, 1, 0, 0);
    set3(g->twotheta_axis, 0, 1, 0);
    set3(g->polar_vec, 0, 0, 1);
    set3(g->spindle, 0, 0, 1);
    set3(g->pix0, 0, 0, 0);
    g->detector_thick = 0.0;
    g->detector_thickstep = -1.0;
    g->detector_thicksteps = -1;
    g->detector_mu = 0.0;

    g->Na = g->Nb = g->Nc = 1;
    g->misset_seed = -(long)time(NULL);
    g->seed = g->misset_seed;
    g->mosaic_seed = -12345678;
    g->mosaic_spread = -1.0;
    g->mosaic_domains = -1;
    g->xtal_shape = SHAPE_SQUARE;
    g->fudge = 1.0;

    g->default_F = 0.0;
    g->interpolate = 2;

    g->lambda0 = 1.0e-10;
    g->fluence = 125932015286227086360700780544.0;
    g->flux = 0.0;
    g->exposure = 1.0;
    g->beamsize = 1e-4;
    g->polarization = 0.0;
    g->dispersion = 0.0; g->dispstep = -1.0; g->dispsteps = -1;
    g->hdivrange = g->vdivrange = -1.0;
    g->hdivstep = g->vdivstep = -1.0;
    g->hdivsteps = g->vdivsteps = -1;
    g->round_div = 1;

    g->oversample = -1;
    g->phi0 = 0.0; g->osc = -1.0; g->phistep = -1.0; g->phisteps = -1;
    g->phi0_carryover = 1;

    g->floatfile = "floatimage.bin";
    g->intfile = "intimage.img";
    g->pgmfile = "image.pgm";
    g->noisefile = "noiseimage.img";
    g->write_pgm = 1;
    g->calc_noise = 1;
    g->adc = 40.0;
    g->roi_xmin = g->roi_xmax = g->roi_ymin = g->roi_ymax = -1;
    g->printout_f = g->printout_s = -1;
    g->progress = 1;
    g->trace_s = g->trace_f = -1;
    g->r_e_sqr = 7.94079248018965e-30;
}

void nb_usage(FILE *f)
{
    fprintf(f,
        "usage: nbref -mat auto.mat -hkl Fs.hkl [options]\n"
        "nbref: clean-room reference engine with nanoBragg's command line\n"
        "options:\n"
        "\t-mat filename.mat\tMOSFLM A matrix (three reciprocal cell vectors times lambda)\n"
        "\t-hkl filename.hkl\ttext file of h k l F (P1); '#' comments, blank lines, 4-6 columns\n"
        "\t-cell a b c al be ga\tunit cell (Angstrom, degrees), alternative to -mat\n"
        "\t-misset rx ry rz | random\tcrystal misset rotations about x,y,z (degrees)\n"
        "\t-misset_seed N   \tseed for -misset random\n"
        "\t-default_F F     \tstructure factor of every unlisted reflection (default: 0)\n"
        "\t-dump FILE       \twrite the padded structure-factor grid (Fdump format) to FILE\n"
        "\t-nointerpolate / -interpolate\tnearest-neighbour or tricubic structure factors\n"
        "\t-N n | -Na -Nb -Nc\tunit cells along each axis\n"
        "\t-xtalsize mm     \tcrystal size instead of -N (also -xtal_x/_y/_z, -samplesize)\n"
        "\t-square_xtal -round_xtal -gauss_xtal -tophat_spots\tlattice factor shape; -fudge f\n"
        "\t-mosaic deg -mosaic_dom n -mosaic_seed N\tmosaic spread, domains, seed\n"
        "\t-distance mm      -close_distance mm\tsample-detector distance\n"
        "\t-pixel mm        \tpixel size\n"
        "\t-detpixels n     \tpixels per side (also -detpixels_x/_f -detpixels_y/_s)\n"
        "\t-detsize mm      \tdetector size (also -detsize_f -detsize_s)\n"
        "\t-Xbeam -Ybeam mm \tdirect-beam position; -Xclose -Yclose mm; -ORGX -ORGY pixels\n"
        "\t-mosflm -xds -dials -adxv -denzo\tdetector/beam conventions (default: -mosflm)\n"
        "\t-fdet_vector -sdet_vector -odet_vector -beam_vector -polar_vector -spindle_axis\n"
        "\t-twotheta_axis -pix0_vector x y z\tcustom vectors (switch to the CUSTOM convention)\n"
        "\t-pivot beam|sample\tdetector pivot (CUSTOM convention only)\n"
        "\t-detector_rotx -detector_roty -detector_rotz -twotheta deg\tdetector rotations\n"
        "\t-detector_thick um -detector_thicksteps n -detector_abs um\tsensor absorption\n"
        "\t-curved_det -point_pixel\tcurved detector; no obliquity\n"
        "\t-lambda A | -energy eV\tx-ray wavelength\n"
        "\t-dispersion %% -dispsteps n\tspectral dispersion\n"
        "\t-divergence mrad -hdivrange -vdivrange -hdivstep -vdivstep -divsteps\tbeam divergence\n"
        "\t-round_div -square_div\telliptical or rectangular divergence grid\n"
        "\t-sourcefile FILE \tX Y Z weight lambda per line ('#' comments)\n"
        "\t-fluence ph/m^2 | -flux ph/s -exposure s -beamsize mm\tincident photons\n"
        "\t-polar K         \tKahn polarisation factor (default: 0); -nopolar\n"
        "\t-oversample n    \tsub-pixels per pixel side (default: automatic)\n"
        "\t-oversample_thick -oversample_polar -oversample_omega\tre-evaluate per sub-pixel\n"
        "\t-phi deg -osc deg -phistep deg -phisteps n\tspindle rotation\n"
        "\t-phi0_carryover on|off\treproduce nanoBragg's stale lattice at phi=0 (default: on)\n"
        "\t-dmin A          \tskip scattering beyond this resolution\n"
        "\t-water um        \twater background thickness\n"
        "\t-roi xmin xmax ymin ymax\trender only this region (pixels, inclusive)\n"
        "\t-mask FILE.img -img FILE.img\tSMV mask / header to start from\n"
        "\t-floatfile FILE  \traw float32 image (default: floatimage.bin)\n"
        "\t-intfile FILE    \tSMV integer image (default: intimage.img)\n"
        "\t-noisefile FILE  \tSMV Poisson-noise image (default: noiseimage.img); -nonoise\n"
        "\t-pgmfile FILE    \tPGM preview (default: image.pgm); -nopgm; -pgmscale s\n"
        "\t-scale s         \tint image scale (default: 55000/max)\n"
        "\t-adc counts      \tADC offset (default: 40)\n"
        "\t-seed N          \tnoise seed\n"
        "\t-trace_pixel s f \tprint TRACE_C lines for pixel (slow, fast)\n"
        "\t-printout -printout_pixel f s\tprint pixel values\n"
        "\t-noprogress      \tno progress meter\n"
        "\t-h, --help       \tthis text\n");
}

/* 0: no match; 1: substring match; 2: the argument is exactly the needle */
static int hit(const char *arg, const char *needle)
{
    if (!strstr(arg, needle)) return 0;
    return strcmp(arg, needle) == 0 ? 2 : 1;
}

static int any_hit;

static int hit_any(const char *arg, const char *needle)
{
    int r = hit(arg, needle);
    if (r) any_hit = 1;
    return r;
}

static double num_value(char **argv, int idx, int strict, const char *flag)
{
    const char *s = argv[idx];
    if (strict) {
        char *end;
        double v;
        errno = 0;
        v = strtod(s, &end);
        if (end == s || *end != '\0' || !isfinite(v))
            nb_die(9, "%s: expected a number, got '%s'", flag, s);
        return v;
    }
    return atof(s);
}

static int int_value(char **argv, int idx, int strict, const char *flag)
{
    const char *s = argv[idx];
    if (strict) {
        char *end;
        long v;
        errno = 0;
        v = strtol(s, &end, 10);
        if (end == s || *end != '\0' || errno != 0 || v > 2147483647L || v < -2147483647L)
            nb_die(9, "%s: expected an integer, got '%s'", flag, s);
        return (int)v;
    }
    return atoi(s);
}

static int need(int argc, int i, int n, int strict, const char *flag)
{
    if (argc > i + n) return 1;
    if (strict) nb_warn("%s needs %d value%s; ignored", flag, n, n > 1 ? "s" : "");
    return 0;
}

static int is_number(const char *s)
{
    char *end;
    strtod(s, &end);
    return end != s && *end == '\0';
}

#define NUM(k) num_value(argv, i + (k), st, A)
#define INT(k) int_value(argv, i + (k), st, A)

void nb_parse(NB *g, int argc, char **argv)
{
    int i, st;

    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            nb_usage(stdout);
            exit(0);
        }
    }

    /* pre-pass: -mask and -img (their headers are applied before the main pass) */
    for (i = 1; i < argc; ++i) {
        if (argv[i][0] != '-') continue;
        if (strstr(argv[i], "-mask") && argc > i + 1) g->maskfile = argv[i + 1];
        if (strstr(argv[i], "-img") && argc > i + 1) g->imgfile = argv[i + 1];
    }
    nb_read_headers(g);

    for (i = 1; i < argc; ++i) {
        const char *A = argv[i];
        int h1, h2, h3;
        if (A[0] != '-') continue;
        any_hit = 0;
#define H(n) hit_any(A, n)

        if ((h1 = H("-Na")) && need(argc, i, 1, st = (h1 == 2), A)) g->Na = INT(1);
        if ((h1 = H("-Nb")) && need(argc, i, 1, st = (h1 == 2), A)) g->Nb = INT(1);
        if ((h1 = H("-Nc")) && need(argc, i, 1, st = (h1 == 2), A)) g->Nc = INT(1);
        if (!strcmp(A, "-N")) {
            any_hit = 1; st = 1;
            if (need(argc, i, 1, st, A)) g->Na = g->Nb = g->Nc = INT(1);
        }
        if ((h1 = H("-cell")) && need(argc, i, 1, st = (h1 == 2), A)) {
            int k;
            g->user_cell = 1;
            for (k = 1; k <= 6; k++) {
                double v;
                if (argc <= i + k) break;
                if (argv[i + k][0] == '-') break;
                v = NUM(k);
                if (k <= 3) g->cell[k - 1] = v;
                else g->cell[k - 1] = v / NB_RTD;
            }
        }
        /* substring, as upstream main (decisions D8): -misset_seed N a b also sets the angles N, atof(a), atof(b);
           "-misset ...rand..." ends this argument's matching, as upstream's `continue` does */
        if ((h1 = H("-misset"))) {
            st = (h1 == 2);
            if (argc > i + 1 && strstr(argv[i + 1], "rand")) {
                g->misset_mode = -1;
                continue;
            } else if (need(argc, i, 3, st, A)) {
                g->misset_mode = 1;
                g->misset[0] = NUM(1) / NB_RTD;
                g->misset[1] = NUM(2) / NB_RTD;
                g->misset[2] = NUM(3) / NB_RTD;
            }
        }
        h2 = H("-samplesize"); h3 = H("-sample_size");
        if ((h2 || h3) && need(argc, i, 1, st = (h2 == 2 || h3 == 2), A))
            g->sample_x = g->sample_y = g->sample_z = NUM(1) / 1000.0;
        h2 = H("-sample_thick"); h3 = H("-sample_x");
        if ((h2 || h3) && need(argc, i, 1, st = (h2 == 2 || h3 == 2), A)) g->sample_x = NUM(1) / 1000.0;
        h1 = H("-sample_width"); h2 = H("-sample_y"); h3 = H("-width");
        if ((h1 || h2 || h3) && need(argc, i, 1, st = (h1 == 2 || h2 == 2 || h3 == 2), A)) g->sample_y = NUM(1) / 1000.0;
        h1 = H("-sample_heigh"); h2 = H("-sample_z"); h3 = H("-heigh");
        if ((h1 || h2 || h3) && need(argc, i, 1, st = (h1 == 2 || h2 == 2 || h3 == 2), A)) g->sample_z = NUM(1) / 1000.0;
        h2 = H("-xtalsize"); h3 = H("-xtal_size");
        if ((h2 || h3) && need(argc, i, 1, st = (h2 == 2 || h3 == 2), A))
            g->sample_x = g->sample_y = g->sample_z = NUM(1) / 1000.0;
        h2 = H("-xtal_thick"); h3 = H("-xtal_x");
        if ((h2 || h3) && need(argc, i, 1, st = (h2 == 2 || h3 == 2), A)) g->sample_x = NUM(1) / 1000.0;
        h1 = H("-xtal_width"); h2 = H("-xtal_y"); h3 = H("-width");
        if ((h1 || h2 || h3) && need(argc, i, 1, st = (h1 == 2 || h2 == 2 || h3 == 2), A)) g->sample_y = NUM(1) / 1000.0;
        h1 = H("-xtal_heigh"); h2 = H("-xtal_z"); h3 = H("-heigh");
        if ((h1 || h2 || h3) && need(argc, i, 1, st = (h1 == 2 || h2 == 2 || h3 == 2), A)) g->sample_z = NUM(1) / 1000.0;
        /* parsed without effect */
        h2 = H("-density"); h3 = H("-sample_den");
        (void)h2; (void)h3;
        if (!strcmp(A, "-MW")) any_hit = 1;
        (void)H("-molec");

        if ((h1 = H("-Xbeam")) && need(argc, i, 1, st = (h1 == 2), A)) { g->Xbeam = NUM(1) / 1000.0; g->pivot = PIVOT_BEAM; }
        if ((h1 = H("-Ybeam")) && need(argc, i, 1, st = (h1 == 2), A)) { g->Ybeam = NUM(1) / 1000.0; g->pivot = PIVOT_BEAM; }
        if ((h1 = H("-Xclose")) && need(argc, i, 1, st = (h1 == 2), A)) { g->Xclose = NUM(1) / 1000.0; g->pivot = PIVOT_SAMPLE; }
        if ((h1 = H("-Yclose")) && need(argc, i, 1, st = (h1 == 2), A)) { g->Yclose = NUM(1) / 1000.0; g->pivot = PIVOT_SAMPLE; }
        if ((h1 = H("-ORGX")) && need(argc, i, 1, st = (h1 == 2), A)) { g->ORGX = NUM(1); g->pivot = PIVOT_SAMPLE; }
        if ((h1 = H("-ORGY")) && need(argc, i, 1, st = (h1 == 2), A)) { g->ORGY = NUM(1); g->pivot = PIVOT_SAMPLE; }
        if ((h1 = H("-pivot")) && need(argc, i, 1, st = (h1 == 2), A)) {
            int ok = 0;
            if (strstr(argv[i + 1], "sample")) { g->pivot = PIVOT_SAMPLE; ok = 1; }
            if (strstr(argv[i + 1], "beam")) { g->pivot = PIVOT_BEAM; ok = 1; }
            if (!ok && st) nb_warn("-pivot: expected 'beam' or 'sample', got '%s'; ignored", argv[i + 1]);
        }
        if (H("-mosflm")) { g->convention = CONV_MOSFLM; g->pivot = PIVOT_BEAM; }
        if (H("-xds")) { g->convention = CONV_XDS; g->pivot = PIVOT_SAMPLE; }
        if (H("-adxv")) { g->convention = CONV_ADXV; g->pivot = PIVOT_BEAM; }
        if (H("-denzo")) { g->convention = CONV_DENZO; g->pivot = PIVOT_BEAM; }
        if (H("-dials")) { g->convention = CONV_DIALS; g->pivot = PIVOT_BEAM; }
        {
            static const char *vflags[8] = {"-fdet_vector", "-sdet_vector", "-odet_vector", "-beam_vector",
                                            "-polar_vector", "-spindle_axis", "-twotheta_axis", "-pix0_vector"};
            double *targets[8];
            int k;
            targets[0] = g->fdet; targets[1] = g->sdet; targets[2] = g->odet; targets[3] = g->beam;
            targets[4] = g->polar_vec; targets[5] = g->spindle; targets[6] = g->twotheta_axis; targets[7] = g->pix0;
            for (k = 0; k < 8; k++) {
                int hh = H(vflags[k]);
                if (!hh) continue;
                st = (hh == 2) || (k == 7 && !strcmp(A, "-pix0_vector_mm"));
                if (need(argc, i, 3, st, A)) {
                    g->convention = CONV_CUSTOM;
                    targets[k][0] = NUM(1);
                    targets[k][1] = NUM(2);
                    targets[k][2] = NUM(3);
                }
            }
        }
        if ((h1 = H("-distance")) && need(argc, i, 1, st = (h1 == 2), A)) {
            g->distance = NUM(1) / 1000.0; g->pivot = PIVOT_BEAM;
            if (st && g->distance <= 0.0) nb_die(9, "-distance: must be > 0, got '%s'", argv[i + 1]);
        }
        if ((h1 = H("-close_distance")) && need(argc, i, 1, st = (h1 == 2), A)) {
            g->close_distance = NUM(1) / 1000.0; g->pivot = PIVOT_SAMPLE;
        }
        if ((h1 = H("-detector_abs")) && need(argc, i, 1, st = (h1 == 2), A)) {
            if (strstr(argv[i + 1], "inf") || atof(argv[i + 1]) == 0.0) {
                if (st && !strstr(argv[i + 1], "inf")) (void)NUM(1);
                g->detector_thick = 0.0;
                g->detector_mu = 0.0;
                g->mu_set = 1;
            } else {
                g->detector_mu = 1.0 / (NUM(1) * 1e-6);
                g->mu_set = 1;
            }
        }
        if (H("-detector_thick") && strlen(A) == 15) {
            st = 1;
            if (need(argc, i, 1, st, A)) {
                g->detector_thick = NUM(1) * 1e-6;
                if (g->detector_thick < 0.0)
                    nb_die(9, "-detector_thick: expected a thickness in um >= 0, got '%s'", argv[i + 1]);
            }
        }
        if ((h1 = H("-detector_thicksteps")) && need(argc, i, 1, st = (h1 == 2), A)) g->detector_thicksteps = INT(1);
        if ((h1 = H("-thicksteps")) && need(argc, i, 1, st = (h1 == 2), A)) g->detector_thicksteps = INT(1);
        if ((h1 = H("-twotheta")) && need(argc, i, 1, st = (h1 == 2), A)) {
            g->twotheta = NUM(1) / NB_RTD; g->pivot = PIVOT_SAMPLE;
        }
        if ((h1 = H("-detector_rotx")) && need(argc, i, 1, st = (h1 == 2), A)) g->rotx = NUM(1) / NB_RTD;
        if ((h1 = H("-detector_roty")) && need(argc, i, 1, st = (h1 == 2), A)) g->roty = NUM(1) / NB_RTD;
        if ((h1 = H("-detector_rotz")) && need(argc, i, 1, st = (h1 == 2), A)) g->rotz = NUM(1) / NB_RTD;
        if (H("-detsize") && strlen(A) == 8) {
            st = 1;
            if (need(argc, i, 1, st, A)) {
                g->detsize_f = g->detsize_s = NUM(1) / 1000.0;
                if (g->detsize_f <= 0.0) nb_die(9, "-detsize: must be > 0, got '%s'", argv[i + 1]);
            }
        }
        if ((h1 = H("-detsize_f")) && need(argc, i, 1, st = (h1 == 2), A)) g->detsize_f = NUM(1) / 1000.0;
        if ((h1 = H("-detsize_s")) && need(argc, i, 1, st = (h1 == 2), A)) g->detsize_s = NUM(1) / 1000.0;
        if (H("-detpixels") && strlen(A) == 10) {
            st = 1;
            if (need(argc, i, 1, st, A)) {
                g->fpixels = g->spixels = INT(1);
                if (g->fpixels <= 0) nb_die(9, "-detpixels: expected a pixel count > 0, got '%s'", argv[i + 1]);
            }
        }
        h2 = H("-detpixels_f"); h3 = H("-detpixels_x");
        if ((h2 || h3) && need(argc, i, 1, st = (h2 == 2 || h3 == 2), A)) {
            g->fpixels = INT(1);
            if (g->fpixels <= 0) nb_die(9, "%s: expected a pixel count > 0, got '%s'", A, argv[i + 1]);
        }
        h2 = H("-detpixels_s"); h3 = H("-detpixels_y");
        if ((h2 || h3) && need(argc, i, 1, st = (h2 == 2 || h3 == 2), A)) {
            g->spixels = INT(1);
            if (g->spixels <= 0) nb_die(9, "%s: expected a pixel count > 0, got '%s'", A, argv[i + 1]);
        }
        if (H("-curved_det") && argc > i + 1) g->curved_det = 1;
        if ((h1 = H("-pixel")) && need(argc, i, 1, st = (h1 == 2), A)) {
            g->pixel = NUM(1) / 1000.0;
            if (st && !(g->pixel > 0.0)) nb_die(9, "-pixel: pixel size must be > 0, got '%s'", argv[i + 1]);
        }
        if (H("-point_pixel")) g->point_pixel = 1;
        if (H("-polar") && strlen(A) == 6) {
            st = 1;
            if (need(argc, i, 1, st, A)) { g->polarization = NUM(1); g->nopolar = 0; }
        }
        if (H("-nopolar")) g->nopolar = 1;
        if (H("-oversample_thick")) { g->oversample_thick = 1; continue; }
        if (H("-oversample_polar")) { g->oversample_polar = 1; continue; }
        if (H("-oversample_omega")) { g->oversample_omega = 1; continue; }
        if ((h1 = H("-oversample")) && need(argc, i, 1, st = (h1 == 2), A)) g->oversample = INT(1);
        if ((h1 = H("-roi")) && need(argc, i, 4, st = (h1 == 2), A)) {
            g->roi_xmin = INT(1); g->roi_xmax = INT(2); g->roi_ymin = INT(3); g->roi_ymax = INT(4);
            if (st && (g->roi_xmin > g->roi_xmax || g->roi_ymin > g->roi_ymax || g->roi_xmax < 0 || g->roi_ymax < 0))
                nb_die(9, "-roi: expected xmin xmax ymin ymax with xmin <= xmax and ymin <= ymax on the detector");
        }
        h2 = H("-lambda"); h3 = H("-wave");
        if ((h2 || h3) && need(argc, i, 1, st = (h2 == 2 || h3 == 2), A)) {
            g->lambda0 = NUM(1) / 1.0e10;
            if (st && !(g->lambda0 > 0.0)) nb_die(9, "%s: wavelength must be > 0, got '%s'", A, argv[i + 1]);
        }
        if ((h1 = H("-energy")) && need(argc, i, 1, st = (h1 == 2), A)) {
            double e = NUM(1);
            if (st && !(e > 0.0)) nb_die(9, "-energy: must be > 0, got '%s'", argv[i + 1]);
            g->lambda0 = (12398.42 / e) / 1.0e10;
        }
        if ((h1 = H("-fluence")) && need(argc, i, 1, st = (h1 == 2), A)) g->fluence = NUM(1);
        if ((h1 = H("-flux")) && need(argc, i, 1, st = (h1 == 2), A)) g->flux = NUM(1);
        if ((h1 = H("-exposure")) && need(argc, i, 1, st = (h1 == 2), A)) g->exposure = NUM(1);
        if ((h1 = H("-beamsize")) && need(argc, i, 1, st = (h1 == 2), A)) g->beamsize = NUM(1) / 1000.0;
        h1 = hit(A, "-mosaic"); h2 = H("-mosaici"); h3 = H("-mosaic_spr");
        if ((h1 && strlen(A) == 7) || h2 || h3) {
            any_hit = 1;
            st = (h1 == 2 || h2 == 2 || h3 == 2 || !strcmp(A, "-mosaicity") || !strcmp(A, "-mosaic_spread"));
            if (need(argc, i, 1, st, A)) {
                g->mosaic_spread = NUM(1) / NB_RTD;
                if (st && g->mosaic_spread < 0) nb_die(9, "%s: expected a value >= 0, got '%s'", A, argv[i + 1]);
            }
        }
        h2 = H("-mosaic_dom");
        if (h2 && need(argc, i, 1, st = (h2 == 2 || !strcmp(A, "-mosaic_domains")), A)) {
            g->mosaic_domains = INT(1);
            g->mosaic_domains_set = 1;
        }
        if ((h1 = H("-dispersion")) && need(argc, i, 1, st = (h1 == 2), A)) g->dispersion = NUM(1) / 100.0;
        if ((h1 = H("-dispsteps")) && need(argc, i, 1, st = (h1 == 2), A)) g->dispsteps = INT(1);
        if ((h1 = H("-divergence")) && need(argc, i, 1, st = (h1 == 2), A)) g->hdivrange = g->vdivrange = NUM(1) / 1000.0;
        if ((h1 = H("-hdivrange")) && need(argc, i, 1, st = (h1 == 2), A)) g->hdivrange = NUM(1) / 1000.0;
        if ((h1 = H("-vdivrange")) && need(argc, i, 1, st = (h1 == 2), A)) g->vdivrange = NUM(1) / 1000.0;
        if (H("-hdivstep") && strlen(A) == 9) { st = 1; if (need(argc, i, 1, st, A)) g->hdivstep = NUM(1) / 1000.0; }
        if ((h1 = H("-hdivsteps")) && need(argc, i, 1, st = (h1 == 2), A)) g->hdivsteps = INT(1);
        if (H("-vdivstep") && strlen(A) == 9) { st = 1; if (need(argc, i, 1, st, A)) g->vdivstep = NUM(1) / 1000.0; }
        if ((h1 = H("-vdivsteps")) && need(argc, i, 1, st = (h1 == 2), A)) g->vdivsteps = INT(1);
        if ((h1 = H("-divsteps")) && need(argc, i, 1, st = (h1 == 2), A)) g->hdivsteps = g->vdivsteps = INT(1);
        if (H("-round_div")) g->round_div = 1;
        if (H("-square_div")) g->round_div = 0;
        if ((h1 = H("-adc")) && need(argc, i, 1, st = (h1 == 2), A)) g->adc = NUM(1);
        if (H("-phi") && strlen(A) == 4) { st = 1; if (need(argc, i, 1, st, A)) g->phi0 = NUM(1) / NB_RTD; }
        if ((h1 = H("-osc")) && need(argc, i, 1, st = (h1 == 2), A)) g->osc = NUM(1) / NB_RTD;
        if (H("-phistep") && strlen(A) == 8) { st = 1; if (need(argc, i, 1, st, A)) g->phistep = NUM(1) / NB_RTD; }
        if ((h1 = H("-phisteps")) && need(argc, i, 1, st = (h1 == 2), A)) {
            g->phisteps = INT(1);
            if (st && g->phisteps < 0) nb_die(9, "-phisteps: expected a non-negative count, got '%s'", argv[i + 1]);
        }
        if ((h1 = H("-dmin")) && need(argc, i, 1, st = (h1 == 2), A)) g->dmin = NUM(1) * 1e-10;
        if (H("-mat") && need(argc, i, 1, 1, A)) g->matfile = argv[i + 1];
        if (H("-hkl") && need(argc, i, 1, 1, A)) g->hklfile = argv[i + 1];
        if ((h1 = H("-default_F")) && need(argc, i, 1, st = (h1 == 2), A)) g->default_F = NUM(1);
        if (H("-img")) { /* handled in the pre-pass */ }
        if (H("-mask")) { /* handled in the pre-pass */ }
        if (H("-stolout") && strlen(A) > 7) { /* never written by nanoBragg */ }
        if (H("-stol") && strlen(A) == 5) { /* read but unused by nanoBragg */ }
        if (H("-4stol") && strlen(A) == 6) { }
        if (H("-Q") && strlen(A) == 2) { }
        if (H("-sourcefile") && need(argc, i, 1, 1, A)) g->sourcefile = argv[i + 1];
        h2 = H("-floatfile"); h3 = H("-floatimage");
        if ((h2 || h3) && need(argc, i, 1, 1, A)) g->floatfile = argv[i + 1];
        h2 = H("-intfile"); h3 = H("-intimage");
        if ((h2 || h3) && need(argc, i, 1, 1, A)) g->intfile = argv[i + 1];
        h2 = H("-pgmfile"); h3 = H("-pgmimage");
        if ((h2 || h3) && need(argc, i, 1, 1, A)) { g->pgmfile = argv[i + 1]; g->write_pgm = 1; }
        h2 = H("-noisefile"); h3 = H("-noiseimage");
        if ((h2 || h3) && need(argc, i, 1, 1, A)) { g->noisefile = argv[i + 1]; g->calc_noise = 1; }
        if (H("-nonoise")) g->calc_noise = 0;
        if (H("-nopgm")) g->write_pgm = 0;
        if ((h1 = H("-scale")) && need(argc, i, 1, st = (h1 == 2), A)) g->intfile_scale = NUM(1);
        if ((h1 = H("-pgmscale")) && need(argc, i, 1, st = (h1 == 2), A)) { g->pgm_scale = NUM(1); g->write_pgm = 1; }
        (void)H("-coherent");
        if (H("-printout")) g->printout = 1;
        if (H("-noprogress")) g->progress = 0;
        if (H("-progress")) g->progress = 1;
        if (H("-interpolate")) g->interpolate = 1;
        if (H("-nointerpolate")) g->interpolate = 0;
        if (H("-round_xtal")) g->xtal_shape = SHAPE_ROUND;
        if (H("-square_xtal")) g->xtal_shape = SHAPE_SQUARE;
        if (H("-gauss_xtal")) g->xtal_shape = SHAPE_GAUSS;
        h2 = H("-binary_spots"); h3 = H("-tophat_spots");
        if (h2 || h3) g->xtal_shape = SHAPE_TOPHAT;
        if ((h1 = H("-fudge")) && need(argc, i, 1, st = (h1 == 2), A)) g->fudge = NUM(1);
        if ((h1 = H("-printout_pixel")) && need(argc, i, 2, st = (h1 == 2), A)) {
            g->printout_f = INT(1); g->printout_s = INT(2);
        }
        h2 = H("-trace_pixel"); h3 = H("-dump_pixel");
        if ((h2 || h3) && need(argc, i, 2, st = (h2 == 2 || h3 == 2), A)) {
            g->trace_s = INT(1); g->trace_f = INT(2);
        }
        if ((h1 = H("-seed")) && need(argc, i, 1, st = (h1 == 2), A)) g->seed = -INT(1);
        if ((h1 = H("-mosaic_seed")) && need(argc, i, 1, st = (h1 == 2), A)) g->mosaic_seed = -INT(1);
        if ((h1 = H("-misset_seed")) && need(argc, i, 1, st = (h1 == 2), A)) g->misset_seed = -INT(1);
        if ((h1 = H("-water")) && need(argc, i, 1, st = (h1 == 2), A)) g->water = NUM(1) / 1e6;
        /* this project's additions */
        if (!strcmp(A, "-phi0_carryover")) {
            any_hit = 1;
            if (argc <= i + 1) nb_die(9, "-phi0_carryover: expected 'on' or 'off'");
            if (!strcmp(argv[i + 1], "on") || !strcmp(argv[i + 1], "1")) g->phi0_carryover = 1;
            else if (!strcmp(argv[i + 1], "off") || !strcmp(argv[i + 1], "0")) g->phi0_carryover = 0;
            else nb_die(9, "-phi0_carryover: expected 'on' or 'off', got '%s'", argv[i + 1]);
        }
        if (!strcmp(A, "-dump")) {
            any_hit = 1;
            if (argc <= i + 1) nb_die(9, "-dump: expected a file name");
            g->dumpfile = argv[i + 1];
        }
#undef H
        if (!any_hit && !is_number(A)) nb_warn("unrecognised flag %s ignored", A);
    }
}
