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
    printf("\n");  /* upstream ends its progress meter with a blank line */
    printf("solid angle subtended by detector = %g steradian ( %g%% sphere)\n", omega_sum / g.steps,
           100.0 * omega_sum / g.steps / 4.0 / NB_PI);
    nb_write_outputs(&g, img);
    fflush(stdout);
    free(img);
    return 0;
}
