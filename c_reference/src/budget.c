/* The run budget (issue 22): what a command line will cost, counted before anything big is built, in the words and
   figures of the PyTorch side. Both engines read one spec, simulator/budget.def (#included below, parsed by
   simulator/budget.py), so the costs per item, the sentence and the refusals cannot drift apart. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nbref.h"

#define NB_COST(name, value) static const double C_##name = (value);
#define NB_WORDS(name, fmt) static const char W_##name[] = fmt;
#include "budget.def"
#undef NB_COST
#undef NB_WORDS

/* "7.11 PiB": binary units, three significant figures (budget.py format_bytes) */
static void format_bytes(double n, char *out, size_t size)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
    int i, last = (int)(sizeof units / sizeof units[0]) - 1;
    for (i = 0; i <= last; i++) {
        if (fabs(n) < 1024 || i == last) {
            if (i == 0) snprintf(out, size, W_BYTES_SMALL, (int)n);
            else snprintf(out, size, W_BYTES, n, units[i]);
            return;
        }
        n /= 1024;
    }
}

static void when(double s, char *out, size_t size)
{
    if (s < C_ONE_SECOND_S) snprintf(out, size, "%s", W_WHEN_UNDER_SECOND);
    else if (s < C_MINUTES_FROM_S) snprintf(out, size, W_WHEN_SECONDS, s);
    else if (s < C_HOURS_FROM_S) snprintf(out, size, W_WHEN_MINUTES, s / 60);
    else snprintf(out, size, W_WHEN_HOURS, s / 3600);
}

void nb_require_memory(double bytes, const char *flag, const char *what)
{
    double avail = nb_memory_available();
    if (bytes > avail) {
        char b[32], a[32];
        format_bytes(bytes, b, sizeof b);
        format_bytes(avail, a, sizeof a);
        nb_die(9, W_REFUSE_ONE, flag, what, b, a);
    }
}

void nb_grid_name(const NB *g, char *out, size_t size)
{
    snprintf(out, size, W_PART_GRID, g->hklfile, g->h_min, g->h_max, g->k_min, g->k_max, g->l_min, g->l_max);
}

int nb_list_max(void) { return (int)C_CONSOLE_LIST_MAX; }

/* after a console list of `total` lines was cut at nb_list_max() */
void nb_list_cut(long total, const char *what)
{
    if (total > (long)C_CONSOLE_LIST_MAX) {
        printf("nbref: ");
        printf(W_LIST_CUT, (int)(total - (long)C_CONSOLE_LIST_MAX), what);
        printf("\n");
    }
}

void nb_refuse_oversample(double n)
{
    nb_die(9, W_REFUSE_OVERSAMPLE, n);
}

void nb_refuse_mosaic_domains(int n)
{
    nb_die(9, W_REFUSE_MOSAIC_DOMAINS, n);
}

/* The memory and work of the run (simulator/preflight.py estimate): the image, the sources, the phi ticks, the
   mosaic domains and the structure-factor grid, in that order (the largest names the flag when the whole does not
   fit; the first of equals, as Python's max). Exit 9 when it does not fit, else one "nbref: estimate:" line. */
void nb_estimate(const NB *g)
{
    enum { PARTS = 5 };
    char names[PARTS][320], b1[32], b2[32], b3[32], t[48], line[1024];
    const char *flags[PARTS];
    double bytes[PARTS], total = 0, avail = nb_memory_available(), roi, work;
    int n = 0, k, big = 0;
    int hs = g->hdivsteps, vs = g->vdivsteps, ds = g->dispsteps;
    double sources = g->sourcefile ? (double)g->sources : (double)hs * vs * ds;

    snprintf(names[n], sizeof names[n], W_PART_IMAGE, g->fpixels, g->spixels);
    bytes[n] = C_IMAGE_BYTES_PER_PIXEL * (double)g->fpixels * g->spixels; flags[n++] = W_IMAGE_FLAG;
    snprintf(names[n], sizeof names[n], "%s", W_PART_SOURCES);
    bytes[n] = C_SOURCE_BYTES * sources;
    flags[n++] = g->sourcefile ? "-sourcefile" : (hs >= vs && hs >= ds) ? "-hdivsteps" : vs >= ds ? "-vdivsteps"
                                                                                                : "-dispsteps";
    snprintf(names[n], sizeof names[n], "%s", W_PART_PHI);
    bytes[n] = C_PHI_BYTES_PER_TICK * (double)g->phisteps; flags[n++] = "-phisteps";
    snprintf(names[n], sizeof names[n], "%s", W_PART_MOSAIC);
    bytes[n] = C_MOSAIC_BYTES_PER_DOMAIN * (double)g->mosaic_domains; flags[n++] = "-mosaic_domains";
    if (g->hklfile && g->hkls > 0) {
        nb_grid_name(g, names[n], sizeof names[n]);
        bytes[n] = C_GRID_BYTES_PER_CELL * ((double)g->h_range + 1) * ((double)g->k_range + 1)
                   * ((double)g->l_range + 1);
        flags[n++] = "-hkl";
    }
    for (k = 0; k < n; k++) {
        total += bytes[k];
        if (bytes[k] > bytes[big]) big = k;
    }
    if (total > avail) {
        format_bytes(total, b1, sizeof b1);
        format_bytes(bytes[big], b2, sizeof b2);
        format_bytes(avail, b3, sizeof b3);
        nb_die(9, W_REFUSE_RUN, flags[big], b1, names[big], b2, b3);
    }
    roi = ((double)(g->roi_xmax < g->fpixels - 1 ? g->roi_xmax : g->fpixels - 1) - g->roi_xmin + 1)
          * ((double)(g->roi_ymax < g->spixels - 1 ? g->roi_ymax : g->spixels - 1) - g->roi_ymin + 1);
    work = roi * g->oversample * g->oversample * g->detector_thicksteps * sources * g->phisteps * g->mosaic_domains;
    when(work / C_PATHS_PER_SECOND, t, sizeof t);
    format_bytes(total, b1, sizeof b1);
    format_bytes(avail, b2, sizeof b2);
    snprintf(line, sizeof line, W_ESTIMATE, g->fpixels, g->spixels, g->oversample, g->oversample,
             g->detector_thicksteps, (int)sources, g->phisteps, g->mosaic_domains, work, t, b1, b2);
    printf("nbref: ");
    printf(W_ESTIMATE_LINE, line);
    printf("\nnbref: ");
    printf(W_DERIVED_PHI, g->phisteps, g->phistep * NB_RTD, g->phi0 * NB_RTD, (g->phi0 + g->osc) * NB_RTD);
    printf("\nnbref: ");
    printf(W_DERIVED_MOSAIC, g->mosaic_domains, g->mosaic_spread * NB_RTD);
    printf("\nnbref: ");
    printf(W_DERIVED_OVERSAMPLE, g->oversample, g->oversample, g->oversample_auto ? W_OVERSAMPLE_AUTO : W_OVERSAMPLE_GIVEN);
    printf("\n");
    fflush(stdout);
}
