/* ldmbert_pblas.c — the PBLAS variant of the distributed LDMBert layers
 * (ldmbert.h): every dense product is one psgemm on a BLACS grid over the
 * channel communicator (mpi/pblas.h), weights block-cyclic (a rank reads
 * only its blocks), activations replicated between products:
 *
 *   h = LN1(x)                          replicated          [B·L, d]
 *   qkv = h · [Wq; Wk; Wv]ᵀ             psgemm → allgather  [B·L, 3·inner]
 *   ctx = attention(q, k, v)            every head, on every rank
 *   t = ctx · Woᵀ + bo                  psgemm → allgather  [B·L, d]
 *   x += t; h = LN2(x)
 *   f = act(h · W1ᵀ + b1)               psgemm, stays distributed
 *   t = f · W2ᵀ + b2                    psgemm (X distributed) → allgather
 *   x += t
 *
 * The gathers use buffers made at create (mpi/pblas.h's get allocates per
 * call); psgemm itself allocates its workspace inside ScaLAPACK.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/attention.h"
#include "kernels/elementwise.h"
#include "kernels/norm.h"
#include "models/ldmbert_internal.h"
#include "mpi/agree.h"
#include "mpi/pblas.h"
#include "mpi/util.h"

#define DEFAULT_BLOCK 64

typedef struct pblas_layer {
    ldm_pblas_matrix *qkv; /* W [3·inner, d] = q ‖ k ‖ v rows */
    ldm_pblas_matrix *out; /* W [d, inner] */
    ldm_pblas_matrix *fc1; /* W [ffn, d] */
    ldm_pblas_matrix *fc2; /* W [d, ffn] */
    float *out_b, *fc1_b, *fc2_b; /* borrowed from biases: [d], [ffn], [d] replicated */
} pblas_layer;

struct ldmbert_pblas {
    ldm_pblas_grid *grid;    /* owned */
    int64_t nlayers;
    pblas_layer *layers;     /* owned [layers] */
    float *biases;           /* owned [layers, d + ffn + d] */
    ldm_pblas_matrix *xd;    /* [B·L, d] LayerNorm output, set from m->h */
    ldm_pblas_matrix *xc;    /* [B·L, inner] attention output, set from m->ctx */
    ldm_pblas_matrix *yqkv;  /* [B·L, 3·inner] */
    ldm_pblas_matrix *yd;    /* [B·L, d] out_proj / fc2 output */
    ldm_pblas_matrix *yf;    /* [B·L, ffn] fc1 output, activated in place */
    float *gather;           /* owned [B·L · max(3·inner, d)]: Allgatherv target */
    int *counts, *displs;    /* owned [Pc]: per-rank float counts (recomputed per gather) */
};

/* Elements of a dimension of n in blocks nb that process p of np owns
 * (ScaLAPACK's numroc with source process 0). */
static int64_t owned(int64_t n, int64_t nb, int64_t p, int64_t np)
{
    int64_t blocks = n / nb, count = (blocks / np) * nb, extra = blocks % np;
    if (p < extra)
        count += nb;
    else if (p == extra)
        count += n % nb;
    return count;
}

static int64_t to_global(int64_t l, int64_t nb, int64_t p, int64_t np)
{
    return ((l / nb) * np + p) * nb + l % nb;
}

/* full [rows, cols] on every rank from the distributed a (the layout of
 * ldm_pblas_matrix_get, into buffers made at create). */
static ldm_status gather(ldmbert_pblas *pb, const ldm_pblas_matrix *a, float *full)
{
    ldm_status st = LDM_OK;
    const ldm_pblas_grid *g = a->grid;
    int size = g->nprow * g->npcol;
    for (int p = 0, off = 0; p < size; p++) {
        int prow = p / g->npcol, pcol = p % g->npcol;
        pb->counts[p] = (int)(owned(a->cols, a->block_cols, prow, g->nprow) *
                              owned(a->rows, a->block_rows, pcol, g->npcol));
        pb->displs[p] = off;
        off += pb->counts[p];
    }
    /* ld == local_cols whenever local_cols > 0: the local part is contiguous. */
    LDM_CHECK(ldm_mpi_check(MPI_Allgatherv(a->data, a->local_rows * a->local_cols, MPI_FLOAT,
                                           pb->gather, pb->counts, pb->displs, MPI_FLOAT, g->comm),
                            "LDMBert (PBLAS): MPI_Allgatherv"));
    for (int p = 0; p < size; p++) {
        int prow = p / g->npcol, pcol = p % g->npcol;
        int64_t lc = owned(a->cols, a->block_cols, prow, g->nprow);
        int64_t lr = owned(a->rows, a->block_rows, pcol, g->npcol);
        const float *src = pb->gather + pb->displs[p];
        for (int64_t i = 0; i < lr; i++) {
            float *row = full + to_global(i, a->block_rows, pcol, g->npcol) * a->cols;
            /* whole blocks of columns are contiguous on both sides */
            for (int64_t j = 0; j < lc; j += a->block_cols) {
                int64_t len = lc - j < a->block_cols ? lc - j : a->block_cols;
                memcpy(row + to_global(j, a->block_cols, prow, g->nprow), src + i * lc + j,
                       (size_t)len * sizeof(float));
            }
        }
    }
cleanup:
    return st;
}

/* This rank's blocks of a weight whose global rows are `parts` tensors
 * stacked (q ‖ k ‖ v: 3; otherwise 1), each [a->rows / parts, a->cols].
 * Runs of local rows (columns) that are consecutive globally and inside one
 * tensor are read as one block straight into a->data. */
static ldm_status load_matrix(ldm_pblas_matrix *a, const ldm_weights *w,
                              const char *const *names, int parts)
{
    ldm_status st = LDM_OK;
    const int64_t part_rows = a->rows / parts;
    for (int64_t i = 0; i < a->local_rows;) {
        int64_t g = ldm_pblas_global_row(a, i), part = g / part_rows, nr = 1;
        while (i + nr < a->local_rows && ldm_pblas_global_row(a, i + nr) == g + nr &&
               (g + nr) / part_rows == part)
            nr++;
        for (int64_t j = 0; j < a->local_cols;) {
            int64_t c = ldm_pblas_global_col(a, j), nc = 1;
            while (j + nc < a->local_cols && ldm_pblas_global_col(a, j + nc) == c + nc)
                nc++;
            LDM_CHECK(ldm_weights_read_block_f32(w, names[part], g - part * part_rows, nr, c, nc,
                                                 a->data + i * a->ld + j, a->ld));
            j += nc;
        }
        i += nr;
    }
cleanup:
    return st;
}

static ldm_status load_layer(ldm_ldmbert *m, const ldm_weights *w, int64_t l)
{
    ldm_status st = LDM_OK;
    ldmbert_pblas *pb = m->pb;
    pblas_layer *ly = &pb->layers[l];
    char names[3][96];
    const char *ptrs[3] = { names[0], names[1], names[2] };
    static const char *const qkv[3] = { "q_proj", "k_proj", "v_proj" };
    const long long i = (long long)l;
    for (int p = 0; p < 3; p++)
        snprintf(names[p], sizeof names[p], "model.layers.%lld.self_attn.%s.weight", i, qkv[p]);
    LDM_CHECK(load_matrix(ly->qkv, w, ptrs, 3));
    snprintf(names[0], sizeof names[0], "model.layers.%lld.self_attn.out_proj.weight", i);
    LDM_CHECK(load_matrix(ly->out, w, ptrs, 1));
    snprintf(names[0], sizeof names[0], "model.layers.%lld.self_attn.out_proj.bias", i);
    LDM_CHECK(ldm_weights_read_f32(w, names[0], NULL, 0, ly->out_b));
    snprintf(names[0], sizeof names[0], "model.layers.%lld.fc1.weight", i);
    LDM_CHECK(load_matrix(ly->fc1, w, ptrs, 1));
    snprintf(names[0], sizeof names[0], "model.layers.%lld.fc1.bias", i);
    LDM_CHECK(ldm_weights_read_f32(w, names[0], NULL, 0, ly->fc1_b));
    snprintf(names[0], sizeof names[0], "model.layers.%lld.fc2.weight", i);
    LDM_CHECK(load_matrix(ly->fc2, w, ptrs, 1));
    snprintf(names[0], sizeof names[0], "model.layers.%lld.fc2.bias", i);
    LDM_CHECK(ldm_weights_read_f32(w, names[0], NULL, 0, ly->fc2_b));
cleanup:
    return st;
}

ldm_status ldm_ldmbert_pblas_create(ldm_ldmbert *m, const ldm_weights *w,
                                    const ldm_ldmbert_options *opts)
{
    ldm_status st = LDM_OK;
    ldmbert_pblas *pb = NULL;
    const int64_t d = m->cfg.d_model, ffn = m->cfg.encoder_ffn_dim, inner = m->inner;
    const int64_t rows = m->rows, nl = m->cfg.encoder_layers;
    int nb = opts->pblas_block > 0 ? opts->pblas_block : DEFAULT_BLOCK;
    int nprow = opts->pblas_nprow, npcol = opts->pblas_npcol;
    if (nprow == 0 && npcol == 0) {
        nprow = 1; /* 1 × Pc: measured faster than Pc × 1 (docs/parallelism.md §4) */
        npcol = m->nranks;
    }
    if (opts->pblas_block < 0) {
        st = ldm_error(LDM_EINPUT, "LDMBert (PBLAS): block %d must be positive",
                       opts->pblas_block);
        goto cleanup;
    }
    /* Same arguments on every rank: local checks fail everywhere at once. */
    st = ldm_calloc(sizeof *pb, "LDMBert PBLAS", (void **)&pb);
    m->pb = pb; /* freed by ldm_ldmbert_destroy whatever happens next */
    LDM_CHECK(ldm_mpi_agree(m->comm, st));
    pb->nlayers = nl;
    st = ldm_pblas_grid_create(m->comm, nprow, npcol, &pb->grid);
    if (st != LDM_OK) {
        ldm_error_context("LDMBert text encoder (--grid, %d channel ranks): ", m->nranks);
        goto cleanup;
    }
    int64_t widest = 3 * inner > d ? 3 * inner : d;
    st = ldm_calloc((size_t)nl * sizeof *pb->layers, "LDMBert PBLAS layers",
                    (void **)&pb->layers);
    if (st == LDM_OK)
        st = ldm_alloc((size_t)(nl * (2 * d + ffn)) * sizeof(float), "LDMBert PBLAS biases",
                       (void **)&pb->biases);
    if (st == LDM_OK)
        st = ldm_alloc((size_t)(rows * widest) * sizeof(float), "LDMBert PBLAS gather",
                       (void **)&pb->gather);
    if (st == LDM_OK)
        st = ldm_alloc(2 * (size_t)m->nranks * sizeof(int), "LDMBert PBLAS counts",
                       (void **)&pb->counts);
    LDM_CHECK(ldm_mpi_agree(m->comm, st));
    pb->displs = pb->counts + m->nranks;
    const ldm_pblas_grid *g = pb->grid;
    LDM_CHECK(ldm_pblas_matrix_create(g, rows, d, nb, nb, &pb->xd));
    LDM_CHECK(ldm_pblas_matrix_create(g, rows, inner, nb, nb, &pb->xc));
    LDM_CHECK(ldm_pblas_matrix_create(g, rows, 3 * inner, nb, nb, &pb->yqkv));
    LDM_CHECK(ldm_pblas_matrix_create(g, rows, d, nb, nb, &pb->yd));
    LDM_CHECK(ldm_pblas_matrix_create(g, rows, ffn, nb, nb, &pb->yf));
    for (int64_t l = 0; l < nl; l++) {
        pblas_layer *ly = &pb->layers[l];
        LDM_CHECK(ldm_pblas_matrix_create(g, 3 * inner, d, nb, nb, &ly->qkv));
        LDM_CHECK(ldm_pblas_matrix_create(g, d, inner, nb, nb, &ly->out));
        LDM_CHECK(ldm_pblas_matrix_create(g, ffn, d, nb, nb, &ly->fc1));
        LDM_CHECK(ldm_pblas_matrix_create(g, d, ffn, nb, nb, &ly->fc2));
        ly->out_b = pb->biases + l * (2 * d + ffn);
        ly->fc1_b = ly->out_b + d;
        ly->fc2_b = ly->fc1_b + ffn;
    }
    /* Reads are local; one agreement after all of them. */
    for (int64_t l = 0; l < nl && st == LDM_OK; l++)
        st = load_layer(m, w, l);
    LDM_CHECK(ldm_mpi_agree(m->comm, st));
cleanup:
    return st; /* on failure m->pb (if set) is freed by ldm_ldmbert_destroy */
}

ldm_status ldm_ldmbert_pblas_layer(ldm_ldmbert *m, int64_t l)
{
    ldm_status st = LDM_OK;
    ldmbert_pblas *pb = m->pb;
    const pblas_layer *ly = &pb->layers[l];
    const ldmbert_layer *nrm = &m->layers[l];
    const int64_t rows = m->rows, d = m->cfg.d_model, inner = m->inner;
    const float *q = m->qkv, *k = m->qkv + inner, *v = m->qkv + 2 * inner;

    /* x = x + out_proj(attention(self_attn_layer_norm(x))) */
    LDM_CHECK(ldm_layer_norm(m->h, m->x, nrm->ln1_w, nrm->ln1_b, rows, d, LDMBERT_LN_EPS));
    ldm_pblas_matrix_set(pb->xd, m->h);
    LDM_CHECK(ldm_pblas_linear(pb->yqkv, pb->xd, ly->qkv, NULL));
    LDM_CHECK(gather(pb, pb->yqkv, m->qkv));                             /* [B·L, 3·inner] */
    LDM_CHECK(ldm_attention(&m->attn, m->ctx, q, k, v, m->attn_scratch,
                            m->attn_scratch_bytes));                     /* [B·L, inner] */
    ldm_pblas_matrix_set(pb->xc, m->ctx);
    LDM_CHECK(ldm_pblas_linear(pb->yd, pb->xc, ly->out, ly->out_b));
    LDM_CHECK(gather(pb, pb->yd, m->t));                                 /* [B·L, d] */
    ldm_add(m->x, m->x, m->t, rows * d);

    /* x = x + fc2(act(fc1(final_layer_norm(x)))) */
    LDM_CHECK(ldm_layer_norm(m->h, m->x, nrm->ln2_w, nrm->ln2_b, rows, d, LDMBERT_LN_EPS));
    ldm_pblas_matrix_set(pb->xd, m->h);
    LDM_CHECK(ldm_pblas_linear(pb->yf, pb->xd, ly->fc1, ly->fc1_b));     /* [B·L, ffn] */
    ldm_ldmbert_activate(m->cfg.activation, pb->yf->data,
                         (int64_t)pb->yf->local_rows * pb->yf->ld);
    LDM_CHECK(ldm_pblas_linear(pb->yd, pb->yf, ly->fc2, ly->fc2_b));
    LDM_CHECK(gather(pb, pb->yd, m->t));                                 /* [B·L, d] */
    ldm_add(m->x, m->x, m->t, rows * d);
cleanup:
    return st;
}

void ldm_ldmbert_pblas_destroy(ldmbert_pblas **ppb)
{
    if (!ppb || !*ppb)
        return;
    ldmbert_pblas *pb = *ppb;
    for (int64_t l = 0; pb->layers && l < pb->nlayers; l++) {
        ldm_pblas_matrix_destroy(&pb->layers[l].qkv);
        ldm_pblas_matrix_destroy(&pb->layers[l].out);
        ldm_pblas_matrix_destroy(&pb->layers[l].fc1);
        ldm_pblas_matrix_destroy(&pb->layers[l].fc2);
    }
    ldm_pblas_matrix_destroy(&pb->xd);
    ldm_pblas_matrix_destroy(&pb->xc);
    ldm_pblas_matrix_destroy(&pb->yqkv);
    ldm_pblas_matrix_destroy(&pb->yd);
    ldm_pblas_matrix_destroy(&pb->yf);
    ldm_pblas_grid_destroy(&pb->grid);
    ldm_free(pb->layers);
    ldm_free(pb->biases);
    ldm_free(pb->gather);
    ldm_free(pb->counts);
    ldm_free(pb);
    *ppb = NULL;
}
