/* Output files (raw float, SMV int and noise images, PGM) and the console statistics (spec sections 9, 10). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nbref.h"

static int little_endian(void)
{
    unsigned short one = 1;
    return *(unsigned char *)&one == 1;
}

static void write_smv(const NB *g, const char *flag, const char *path, const unsigned short *data)
{
    char header[2048];
    int n, hb;
    long np = (long)g->fpixels * g->spixels;
    FILE *f;
    double px = g->pixel * 1000.0;
    n = snprintf(header, sizeof header,
                 "{\nHEADER_BYTES=512;\nDIM=2;\nBYTE_ORDER=%s;\nTYPE=unsigned_short;\n"
                 "SIZE1=%d;\nSIZE2=%d;\nPIXEL_SIZE=%g;\nDISTANCE=%g;\n"
                 "WAVELENGTH=%g;\nBEAM_CENTER_X=%g;\nBEAM_CENTER_Y=%g;\n"
                 "ADXV_CENTER_X=%g;\nADXV_CENTER_Y=%g;\n"
                 "MOSFLM_CENTER_X=%g;\nMOSFLM_CENTER_Y=%g;\n"
                 "DENZO_X_BEAM=%g;\nDENZO_Y_BEAM=%g;\n"
                 "DIALS_ORIGIN=%g,%g,%g\n"
                 "XDS_ORGX=%g;\nXDS_ORGY=%g;\nCLOSE_DISTANCE=%g;\n"
                 "PHI=%g;\nOSC_START=%g;\nOSC_RANGE=%g;\n"
                 "TWOTHETA=%g;\nDETECTOR_SN=000;\nBEAMLINE=fake;\n}\f",
                 little_endian() ? "little_endian" : "big_endian",
                 g->fpixels, g->spixels, px, g->distance * 1000.0,
                 g->lambda0 * 1e10, g->Xbeam * 1000.0, g->Ybeam * 1000.0,
                 g->Fbeam * 1000.0, (g->detsize_s - g->Sbeam) * 1000.0,
                 (g->Sbeam - 0.5 * g->pixel) * 1000.0, (g->Fbeam - 0.5 * g->pixel) * 1000.0,
                 g->Sbeam * 1000.0, g->Fbeam * 1000.0,
                 g->dials_origin[0], g->dials_origin[1], g->dials_origin[2],
                 g->ORGX, g->ORGY, g->close_distance * 1000.0,
                 g->phi0 * NB_RTD, g->phi0 * NB_RTD, g->osc * NB_RTD,
                 g->twotheta * NB_RTD);
    if (n < 0 || n >= (int)sizeof header) nb_die(9, "%s: SMV header too long", flag);
    /* nanoBragg pads with spaces up to byte 512; a longer header is written whole, unpadded */
    hb = n;
    if (hb < 512) { memset(header + n, ' ', 512 - n); hb = 512; }
    else nb_warn("%s: the SMV header of '%s' is %d bytes, longer than its HEADER_BYTES=512 (as nanoBragg writes it): "
                 "readers that trust HEADER_BYTES will misplace the data", flag, path, n);
    f = fopen(path, "wb");
    if (!f) nb_die(9, "%s: cannot open '%s' for writing", flag, path);
    printf("writing %s as %lu-byte integers\n", path, (unsigned long)sizeof(unsigned short));
    if (fwrite(header, 1, hb, f) != (size_t)hb || fwrite(data, sizeof(unsigned short), np, f) != (size_t)np)
        nb_die(9, "%s: error writing '%s'", flag, path);
    fclose(f);
}

void nb_write_outputs(NB *g, float *img)
{
    long np = (long)g->fpixels * g->spixels, i;
    int s, f;
    double max_I = 0.0, max_x = 0.0, max_y = 0.0, sum = 0.0, sumsq = 0.0, mean, rms, rmsd = 0.0;
    long n = 0, nroi = 0;
    double sub = g->pixel / g->oversample;
    unsigned short *u16;
    FILE *fp;

    /* statistics over rendered pixels (raster order) */
    for (s = 0; s < g->spixels; s++)
        for (f = 0; f < g->fpixels; f++) {
            long j = (long)s * g->fpixels + f;
            double v;
            if (f < g->roi_xmin || f > g->roi_xmax || s < g->roi_ymin || s > g->roi_ymax) continue;
            if (g->mask && g->mask[j] == 0) continue;
            v = img[j];
            if (v > max_I) {
                max_I = v;
                max_x = sub * (f * g->oversample + g->oversample - 1) + sub / 2.0;
                max_y = sub * (s * g->oversample + g->oversample - 1) + sub / 2.0;
            }
            sum += v; sumsq += v * v; n++;
        }
    if (n < 2) n = 2;
    mean = sum / n;
    rms = sqrt(sumsq / (n - 1));
    for (s = 0; s < g->spixels; s++)
        for (f = 0; f < g->fpixels; f++) {
            double d;
            if (f < g->roi_xmin || f > g->roi_xmax || s < g->roi_ymin || s > g->roi_ymax) continue;
            d = img[(long)s * g->fpixels + f] - mean;
            rmsd += d * d; nroi++;
        }
    if (nroi < 2) nroi = 2;
    rmsd = sqrt(rmsd / (n - 1));

    fp = fopen(g->floatfile, "wb");
    if (!fp) nb_die(9, "-floatfile: cannot open '%s' for writing", g->floatfile);
    printf("writing %s as %ld %lu-byte floats\n", g->floatfile, np, (unsigned long)sizeof(float));
    if (fwrite(img, sizeof(float), np, fp) != (size_t)np) nb_die(9, "-floatfile: error writing '%s'", g->floatfile);
    fclose(fp);

    printf("max_I = %g  at %g %g\n", max_I, max_x, max_y);
    printf("mean= %g rms= %g rmsd= %g\n", mean, rms, rmsd);

    /* integer image */
    if (g->intfile_scale <= 0.0) {
        g->intfile_scale = 1.0;
        if (max_I > 0.0) g->intfile_scale = 55000.0 / max_I;
    }
    printf("intfile_scale = %g\n", g->intfile_scale);
    u16 = (unsigned short *)calloc(np + 1, sizeof(unsigned short));
    for (s = 0; s < g->spixels; s++)
        for (f = 0; f < g->fpixels; f++) {
            long j = (long)s * g->fpixels + f;
            double v;
            if (f < g->roi_xmin || f > g->roi_xmax || s < g->roi_ymin || s > g->roi_ymax) continue;
            v = img[j] * g->intfile_scale + g->adc;
            if (v < 0.0) v = 0.0;
            if (v > 65535.0) v = 65535.0;
            /* floorf, as nanoBragg: v + 0.5 is rounded to float before the floor (spec 9.3, corrected) */
            u16[j] = (unsigned short)floorf((float)(v + 0.5));
        }
    write_smv(g, "-intfile", g->intfile, u16);

    /* PGM */
    if (g->write_pgm) {
        unsigned char *pg = (unsigned char *)calloc(np + 1, 1);
        if (g->pgm_scale <= 0.0) {
            g->pgm_scale = g->intfile_scale;
            if (rmsd > 0.0) g->pgm_scale = 250.0 / (5.0 * rmsd);
        }
        printf("pgm_scale = %g\n", g->pgm_scale);
        for (s = 0; s < g->spixels; s++)
            for (f = 0; f < g->fpixels; f++) {
                long j = (long)s * g->fpixels + f;
                double v;
                if (f < g->roi_xmin || f > g->roi_xmax || s < g->roi_ymin || s > g->roi_ymax) continue;
                v = img[j] * g->pgm_scale;
                if (v > 255.0) v = 255.0;
                pg[j] = (unsigned char)v;
            }
        fp = fopen(g->pgmfile, "wb");
        if (!fp) nb_die(9, "-pgmfile: cannot open '%s' for writing", g->pgmfile);
        printf("writing %s as %lu-byte integers\n", g->pgmfile, (unsigned long)sizeof(unsigned char));
        fprintf(fp, "P5\n%d %d\n", g->fpixels, g->spixels);
        fprintf(fp, "# pixels scaled by %lg\n", g->pgm_scale);
        fprintf(fp, "255\n");
        fwrite(pg, 1, np, fp);
        fclose(fp);
        free(pg);
    }

    /* Poisson noise */
    if (g->calc_noise) {
        long overloads = 0;
        double photons = 0.0;
        long seed = g->seed;
        memset(u16, 0, (np + 1) * sizeof(unsigned short));
        for (s = 0; s < g->spixels; s++)
            for (f = 0; f < g->fpixels; f++) {
                long j = (long)s * g->fpixels + f;
                double v;
                if (f < g->roi_xmin || f > g->roi_xmax || s < g->roi_ymin || s > g->roi_ymax) continue;
                v = nb_poidev(img[j], &seed);
                photons += v;
                v += g->adc;
                if (v > 65535.0) { v = 65535.0; overloads++; }
                if (v < 0.0) v = 0.0;
                u16[j] = (unsigned short)v;
            }
        printf("%.0f photons on noise image (%ld overloads)\n", photons, overloads);
        write_smv(g, "-noisefile", g->noisefile, u16);
    }
    free(u16);
    (void)i;
}
