/* numpy's float64 linspace, arange and round, operation for operation, as
 * diffusers' set_timesteps uses them (numpy 1.24). Getting these bit-exact
 * matters: e.g. np.arange(1000, 0, -1000/61) has 62 elements, not 61, and
 * diffusers then runs 62 "trailing" steps. */
#include <math.h>

#include "sample/scheduler_impl.h"

void ldm_sched_np_linspace(double start, double stop, int num, double *out)
{
    /* numpy: y = arange(num) * (delta / div) + start; y[-1] = stop.
     * num == 1: y = [0 * delta + start]. */
    double delta = stop - start;
    int div = num - 1;
    if (div > 0) {
        double step = delta / div;
        for (int i = 0; i < num; i++) {
            if (step == 0)
                out[i] = (double)i / div * delta + start;
            else
                out[i] = (double)i * step + start;
        }
        out[num - 1] = stop;
    } else if (num == 1) {
        out[0] = 0.0 * delta + start;
    }
}

int ldm_sched_arange_len(double start, double stop, double step)
{
    /* numpy's _calc_length: ceil((stop - start) / step), at least 0. */
    double len = ceil((stop - start) / step);
    return len > 0 ? (int)len : 0;
}

void ldm_sched_np_arange(double start, double step, int len, double *out)
{
    /* numpy fills [start, start + step] and then DOUBLE_fill:
     * delta = buffer[1] - buffer[0]; buffer[i] = start + i * delta. */
    if (len > 0)
        out[0] = start;
    if (len > 1)
        out[1] = start + step;
    if (len > 2) {
        double delta = out[1] - start;
        for (int i = 2; i < len; i++)
            out[i] = start + (double)i * delta;
    }
}

double ldm_sched_np_round(double x)
{
    /* np.round: round half to even, which is rint in the default rounding mode. */
    return nearbyint(x);
}
