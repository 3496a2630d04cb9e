#include "kernels/threads.h"

#include <omp.h>

int ldm_kernels_cores(void)
{
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
}

int ldm_kernels_set_threads(int requested)
{
    int cores = ldm_kernels_cores();
    int n = requested <= 0 || requested > cores ? cores : requested;
    omp_set_num_threads(n);
    return n;
}

int ldm_kernels_threads(void)
{
    return omp_get_max_threads();
}
