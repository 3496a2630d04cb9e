/* wire_strips — src/sample/pipeline_strips.c at 1-4 ranks: the rows a rank
 * cuts are ldm_model_parallel_rows' (align 2 and 8, uneven and empty
 * strips), gathering every rank's cut gives back the whole tensor, and a
 * scheduler-state blob of the strips gathers to the whole blob (header
 * with the whole n, every array whole) and cuts back to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "mpi_harness.h"

#include "models/parallel.h"
#include "sample/pipeline_strips.h"

static void check_shape(int64_t planes, int64_t h, int64_t w, int64_t align)
{
    ldm_strips s;
    ldm_model_parallel mp = { .channel = MPI_COMM_NULL,
                              .spatial = ldm_mpi_test_size > 1 ? MPI_COMM_WORLD : MPI_COMM_NULL };
    CHECK(ldm_strips_create(MPI_COMM_WORLD, planes, h, w, align, &s) == LDM_OK);
    int64_t r0, r1;
    ldm_model_parallel_rows(&mp, h, align, &r0, &r1);
    CHECK_MSG(s.r0 == r0 && s.r1 == r1, "rows [%lld, %lld), model rows [%lld, %lld)",
              (long long)s.r0, (long long)s.r1, (long long)r0, (long long)r1);
    const int64_t nw = ldm_strips_whole_count(&s), nl = ldm_strips_local_count(&s);
    CHECK(nl == planes * (r1 - r0) * w);
    float *whole = malloc(sizeof(float) * (size_t)nw), *back = calloc((size_t)nw, sizeof(float));
    float *strip = malloc(sizeof(float) * (size_t)(nl ? nl : 1));
    ldm_mpi_test_fill(whole, nw, 7, 0.0f);
    ldm_strips_cut(&s, whole, strip);
    CHECK(nl == 0 || strip[0] == whole[r0 * w]);
    CHECK(ldm_strips_gather(&s, strip, back) == LDM_OK);
    CHECK(memcmp(whole, back, sizeof(float) * (size_t)nw) == 0);

    /* A scheduler blob: header (n at offset 24) + 3 arrays of n floats. */
    enum { H = LDM_STRIPS_SCHED_HEADER, K = 3 };
    size_t lb = H + K * sizeof(float) * (size_t)nl, wb = H + K * sizeof(float) * (size_t)nw;
    unsigned char *lblob = calloc(lb, 1), *wblob = calloc(wb, 1), *wref = calloc(wb, 1);
    unsigned char *lback = calloc(lb, 1);
    memcpy(wref, "LDMSCHS1", 8);
    memcpy(wref + 24, &nw, 8);
    for (int k = 0; k < K; k++)
        ldm_mpi_test_fill((float *)(void *)(wref + H + k * sizeof(float) * (size_t)nw), nw,
                          (uint64_t)(11 + k), 0.0f);
    ldm_strips_sched_cut(&s, wref, wb, lblob, lb);
    int64_t n_local;
    memcpy(&n_local, lblob + 24, 8);
    CHECK(n_local == nl);
    CHECK(ldm_strips_sched_gather(&s, lblob, lb, wblob, wb) == LDM_OK);
    CHECK(memcmp(wblob, wref, wb) == 0);
    ldm_strips_sched_cut(&s, wblob, wb, lback, lb);
    CHECK(memcmp(lback, lblob, lb) == 0);
    free(lblob); free(wblob); free(wref); free(lback);
    free(whole); free(back); free(strip);
    ldm_strips_destroy(&s);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    check_shape(8, 8, 8, 2);   /* [2 images × 4 channels, 8, 8]: the tiny model's 64² */
    check_shape(4, 64, 48, 2); /* 512 × 384: uneven strips */
    check_shape(2, 32, 32, 8); /* real UNet align at 256² */
    check_shape(1, 3, 5, 1);   /* fewer rows than 4 ranks: an empty strip */
    return ldm_mpi_test_finish();
}
