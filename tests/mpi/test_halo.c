/* test_halo: row strips and halo exchange against the single-rank conv.
 *
 * A global NHWC activation is generated identically on every rank; each rank
 * takes its strip, exchanges halos (checked row by row against the global
 * tensor), runs kernels/conv2d.h on its local buffer with the padding of
 * ldm_halo_conv_pads, and compares its output rows with the same rows of the
 * single-rank convolution: 3×3 stride 1 (padding 1), stride 2 padding 1, and
 * diffusers' Downsample2D padding 0 = (0, 1, 0, 1), for even, odd and uneven
 * heights. Also checks the strip rule of halo.h (boundaries halve from one
 * level to the next; nearest upsampling, also to forced odd sizes, reads
 * only its own coarse strip; a distributed 2× upsampling equals the global
 * one) and the error for strips too thin for their halo.
 * Expected: "N ranks: P passed, 0 failed" at np 1-4. */
#include <stdlib.h>

#include "core/alloc.h"
#include "kernels/conv2d.h"
#include "kernels/resample.h"
#include "mpi/halo.h"
#include "mpi/util.h"
#include "mpi_harness.h"

typedef struct conv_case {
    int64_t h, w, stride, pad_top, pad_bottom, align;
} conv_case;

enum { N = 2, C_IN = 3, C_OUT = 4 };

static ldm_status conv(const ldm_conv2d_desc *d, const float *wt, const float *bias, float *out,
                       const float *in)
{
    ldm_conv2d_plan *plan = NULL;
    void *scratch = NULL;
    ldm_status st = ldm_conv2d_plan_create(d, wt, bias, &plan);
    if (st == LDM_OK)
        st = ldm_alloc(ldm_conv2d_scratch_bytes(plan), "scratch", &scratch);
    if (st == LDM_OK)
        st = ldm_conv2d_run(plan, out, in, scratch);
    ldm_free(scratch);
    ldm_conv2d_plan_destroy(&plan);
    return st;
}

static void run_case(const conv_case *k)
{
    const int64_t row_in = k->w * C_IN;
    ldm_conv2d_desc gd = { .n = N, .c_in = C_IN, .h = k->h, .w = k->w, .c_out = C_OUT, .kh = 3,
                           .kw = 3, .stride_h = k->stride, .stride_w = k->stride,
                           .pad_top = k->pad_top, .pad_bottom = k->pad_bottom,
                           .pad_left = k->pad_top, .pad_right = k->pad_bottom,
                           .layout = LDM_LAYOUT_NHWC, .algo = LDM_CONV_DIRECT };
    int64_t oh = 0, ow = 0;
    CHECK(ldm_conv2d_out_size(&gd, &oh, &ow) == LDM_OK);
    const int64_t row_out = ow * C_OUT;
    float *x = malloc(sizeof(float) * (size_t)(N * k->h * row_in));
    float *y = malloc(sizeof(float) * (size_t)(N * oh * row_out));
    float wt[C_OUT * C_IN * 9], bias[C_OUT];
    ldm_mpi_test_fill(x, N * k->h * row_in, 1 + (uint64_t)k->h, 0.0f);
    ldm_mpi_test_fill(wt, C_OUT * C_IN * 9, 2, 0.0f);
    ldm_mpi_test_fill(bias, C_OUT, 3, 0.0f);
    CHECK(conv(&gd, wt, bias, y, x) == LDM_OK);

    ldm_halo_desc hd = { .n = N, .h = k->h, .w = k->w, .c = C_IN, .align = k->align };
    ldm_halo_conv_rows(3, k->stride, k->pad_top, &hd.above, &hd.below);
    ldm_halo *halo = NULL;
    if ((k->h + k->align - 1) / k->align < ldm_mpi_test_size) {
        /* Fewer units than ranks: some strip would be empty. */
        CHECK_FAILS_WITH(ldm_halo_create(MPI_COMM_WORLD, &hd, &halo), LDM_EINPUT,
                         "use fewer spatial ranks");
        goto done;
    }
    ldm_error_clear();
    ldm_status st = ldm_halo_create(MPI_COMM_WORLD, &hd, &halo);
    CHECK_MSG(st == LDM_OK, "h %lld: %s", (long long)k->h, ldm_error_message());
    if (st != LDM_OK)
        goto done;
    /* Local buffer: our rows from the global tensor, NaN in the halo until exchanged. */
    const int64_t own = halo->r1 - halo->r0;
    float *buf = malloc(sizeof(float) * (size_t)(N * halo->local_h * row_in));
    for (int64_t i = 0; i < N * halo->local_h * row_in; i++)
        buf[i] = NAN;
    for (int64_t b = 0; b < N; b++)
        memcpy(buf + (b * halo->local_h + halo->above) * row_in, x + (b * k->h + halo->r0) * row_in,
               sizeof(float) * (size_t)(own * row_in));
    CHECK(ldm_halo_exchange(halo, buf) == LDM_OK);
    int same = 1;
    for (int64_t b = 0; b < N; b++)
        same = same && memcmp(buf + b * halo->local_h * row_in,
                              x + (b * k->h + halo->r0 - halo->above) * row_in,
                              sizeof(float) * (size_t)(halo->local_h * row_in)) == 0;
    CHECK_MSG(same, "halo rows of strip %d (h %lld) differ from the global rows", halo->rank,
              (long long)k->h);

    /* The local conv gives exactly our strip of the output partition. */
    ldm_conv2d_desc ld = gd;
    ld.h = halo->local_h;
    ldm_halo_conv_pads(halo, k->pad_top, k->pad_bottom, &ld.pad_top, &ld.pad_bottom);
    int64_t loh = 0, low = 0, o0, o1;
    CHECK(ldm_conv2d_out_size(&ld, &loh, &low) == LDM_OK);
    ldm_mpi_partition(oh, halo->size, halo->rank, k->align / k->stride, &o0, &o1);
    CHECK_MSG(loh == o1 - o0 && o0 == halo->r0 / k->stride, "h %lld stride %lld: %lld rows, want %lld..%lld",
              (long long)k->h, (long long)k->stride, (long long)loh, (long long)o0, (long long)o1);
    if (loh == o1 - o0) {
        float *ly = malloc(sizeof(float) * (size_t)(N * loh * row_out + 1));
        CHECK(conv(&ld, wt, bias, ly, buf) == LDM_OK);
        double worst = 0.0;
        for (int64_t b = 0; b < N; b++)
            for (int64_t i = 0; i < loh * row_out; i++) {
                double a = ly[b * loh * row_out + i], e = y[(b * oh + o0) * row_out + i];
                double rel = fabs(a - e) / fmax(fabs(e), 1e-3);
                worst = rel > worst ? rel : worst;
            }
        CHECK_MSG(worst <= 1e-5, "h %lld stride %lld pad %lld: rel. error %g", (long long)k->h,
                  (long long)k->stride, (long long)k->pad_top, worst);
        free(ly);
    }
    free(buf);
    ldm_halo_destroy(&halo);
    CHECK(halo == NULL);
done:
    free(x);
    free(y);
}

/* halo.h's rule: with align = 2^k at the top, the boundaries of each level
 * below (ceil(h/2) rows) are exactly half those above, down to align 1. */
static void test_strip_rule(void)
{
    for (int64_t h = 1; h <= 70; h++) {
        for (int parts = 1; parts <= 5; parts++) {
            int ok = 1;
            int64_t rows = h, align = 8;
            while (align > 1) {
                int64_t next = (rows + 1) / 2;   /* stride 2, padding 1 */
                for (int i = 0; i <= parts; i++) {
                    int64_t b0, e0, b1, e1;
                    ldm_mpi_partition(rows, parts, i < parts ? i : parts - 1, align, &b0, &e0);
                    ldm_mpi_partition(next, parts, i < parts ? i : parts - 1, align / 2, &b1, &e1);
                    ok = ok && b1 * 2 == b0 && (e0 == rows ? e1 == next : e1 * 2 == e0);
                }
                rows = next;
                align /= 2;
            }
            CHECK_MSG(ok, "strip rule fails for h %lld, %d parts", (long long)h, parts);
        }
    }
    /* Nearest resize to a forced size (the UNet's odd skip sizes): fine row y
     * reads coarse row ⌊y·hc/hf⌋; every row of fine strip i must read inside
     * coarse strip i, with hc = ceil(hf/2) and align 2 above align 1. */
    for (int64_t hf = 2; hf <= 70; hf++) {
        const int64_t hc = (hf + 1) / 2;
        for (int parts = 1; parts <= 5 && parts <= hc; parts++) {
            int ok = 1;
            for (int i = 0; i < parts; i++) {
                int64_t f0, f1, c0, c1;
                ldm_mpi_partition(hf, parts, i, 2, &f0, &f1);
                ldm_mpi_partition(hc, parts, i, 1, &c0, &c1);
                for (int64_t y = f0; y < f1; y++)
                    ok = ok && y * hc / hf >= c0 && y * hc / hf < c1;
            }
            CHECK_MSG(ok, "forced nearest resize to %lld rows, %d parts", (long long)hf, parts);
        }
    }
    int64_t above, below;
    ldm_halo_conv_rows(3, 1, 1, &above, &below);
    CHECK(above == 1 && below == 1);
    ldm_halo_conv_rows(3, 2, 1, &above, &below);
    CHECK(above == 1 && below == 0);
    ldm_halo_conv_rows(3, 2, 0, &above, &below);
    CHECK(above == 0 && below == 1);
    ldm_halo_conv_rows(1, 1, 0, &above, &below);
    CHECK(above == 0 && below == 0);
}

/* Nearest 2× upsampling of a coarse strip (align 1) is exactly the fine
 * strip (align 2) of the global upsampling: no halo. */
static void test_upsample(int64_t hc)
{
    enum { W = 3, C = 2 };
    const int64_t hf = 2 * hc;
    if (hc < ldm_mpi_test_size)
        return;
    float *x = malloc(sizeof(float) * (size_t)(N * hc * W * C));
    float *y = malloc(sizeof(float) * (size_t)(N * hf * 2 * W * C));
    ldm_mpi_test_fill(x, N * hc * W * C, 5, 0.0f);
    ldm_upsample_nearest2x(y, x, N, C, hc, W, LDM_LAYOUT_NHWC);
    int64_t c0, c1, f0, f1;
    ldm_mpi_partition(hc, ldm_mpi_test_size, ldm_mpi_test_rank, 1, &c0, &c1);
    ldm_mpi_partition(hf, ldm_mpi_test_size, ldm_mpi_test_rank, 2, &f0, &f1);
    CHECK(f0 == 2 * c0 && f1 == 2 * c1);
    const int64_t rin = W * C, rout = 2 * W * C, rows = c1 - c0;
    float *xs = malloc(sizeof(float) * (size_t)(N * rows * rin));
    float *ys = malloc(sizeof(float) * (size_t)(N * 2 * rows * rout));
    for (int64_t b = 0; b < N; b++)
        memcpy(xs + b * rows * rin, x + (b * hc + c0) * rin, sizeof(float) * (size_t)(rows * rin));
    ldm_upsample_nearest2x(ys, xs, N, C, rows, W, LDM_LAYOUT_NHWC);
    int same = 1;
    for (int64_t b = 0; b < N; b++)
        same = same && memcmp(ys + b * 2 * rows * rout, y + (b * hf + f0) * rout,
                              sizeof(float) * (size_t)(2 * rows * rout)) == 0;
    CHECK_MSG(same, "upsampled strip of %lld coarse rows differs", (long long)hc);
    free(x);
    free(y);
    free(xs);
    free(ys);
}

static void test_errors(int size)
{
    ldm_halo *halo = NULL;
    ldm_halo_desc d = { .n = 1, .h = 2, .w = 3, .c = 2, .align = 1, .above = 1, .below = 1 };
    if (size > 2) {   /* 2 rows cannot make 3 or 4 strips */
        CHECK_FAILS_WITH(ldm_halo_create(MPI_COMM_WORLD, &d, &halo), LDM_EINPUT,
                         "has 0 rows of 2 (align 1), fewer than the 1 its neighbours need");
        CHECK(halo == NULL);
    }
    d.h = 4;
    d.above = 2;
    if (size > 2)
        CHECK_FAILS_WITH(ldm_halo_create(MPI_COMM_WORLD, &d, &halo), LDM_EINPUT,
                         "use fewer spatial ranks");
    d.w = 0;
    CHECK_FAILS_WITH(ldm_halo_create(MPI_COMM_WORLD, &d, &halo), LDM_EINPUT, "is empty");
    ldm_halo_destroy(&halo);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    test_strip_rule();
    const conv_case cases[] = {
        { 16, 5, 1, 1, 1, 1 }, { 13, 4, 1, 1, 1, 1 }, { 7, 3, 1, 1, 1, 2 },
        { 16, 5, 2, 1, 1, 2 }, { 13, 4, 2, 1, 1, 2 }, { 9, 6, 2, 1, 1, 4 },
        { 16, 5, 2, 0, 1, 2 }, { 14, 5, 2, 0, 1, 4 }, { 32, 4, 2, 1, 1, 8 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
    test_upsample(4);
    test_upsample(7);
    test_errors(ldm_mpi_test_size);
    return ldm_mpi_test_finish();
}
