/* nbref: entry point. */
#include <stdio.h>
#include <stdlib.h>
#include "nbref.h"

int main(int argc, char **argv)
{
    static NB g;
    float *img;
    double omega_sum = 0.0;
    long np;

    nb_defaults(&g);
    nb_parse(&g, argc, argv);
    nb_setup(&g);

    np = (long)g.fpixels * g.spixels;
    img = (float *)calloc((size_t)np + 10, sizeof(float));
    if (!img) nb_die(9, "out of memory for a %d x %d image", g.fpixels, g.spixels);

    nb_render(&g, img, &omega_sum);
    printf("solid angle subtended by detector = %g sr\n", omega_sum / g.steps);
    nb_write_outputs(&g, img);
    fflush(stdout);
    free(img);
    return 0;
}
