/* threads.h — the one thread count the kernels use.
 *
 * Kernels run on OpenMP threads, and so does oneDNN in Debian's build (one
 * runtime, libgomp: no second pool spinning against the first). The count is
 * set explicitly by the program from its rank layout (DESIGN.md §4: ranks ×
 * threads = cores); it never exceeds the cores this process may use.
 */
#ifndef LDM_KERNELS_THREADS_H
#define LDM_KERNELS_THREADS_H

/* Cores available to this process (OpenMP's omp_get_num_procs: honours the
 * affinity mask a launcher such as srun or mpirun sets). */
int ldm_kernels_cores(void);

/* Set the thread count for kernels and oneDNN on the calling thread's
 * OpenMP context: `requested` clamped to [1, ldm_kernels_cores()];
 * requested <= 0 means all available cores. Returns the count set. */
int ldm_kernels_set_threads(int requested);

/* The thread count kernels will use (omp_get_max_threads). */
int ldm_kernels_threads(void);

#endif
