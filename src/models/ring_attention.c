/* ring_attention.c — self-attention over row strips by a ring of K/V
 * blocks (see ring_attention.h). */
#include "models/ring_attention.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timers.h"
#include "mpi/util.h"

/* Keys per accumulate call: between calls the ring tests its requests so
 * that MPI progresses the transfer while the kernel works. */
enum { CHUNK_KEYS = 1024, RING_TAG = 0x7269 };

struct ldm_ring_attention {
    MPI_Comm comm;              /* borrowed */
    int size, rank;
    ldm_attention_desc d;       /* local queries; lk = the largest block */
    int64_t inner, ld_kv;
    int64_t *starts;            /* [size + 1] tokens of every rank */
    int *counts;                /* [size] floats of each rank's block: batch·n·2·inner */
    int pack;                   /* ld_kv > 2·inner: copy the own block into a buffer first */
    int nbufs;                  /* block buffers: min(size − 1, 2), or 2 when packing */
    size_t buf_bytes, state_bytes;
    int64_t chunk;              /* keys per accumulate call */
};

static size_t align64(size_t n)
{
    return (n + 63) / 64 * 64;
}

/* Local checks of the description (the kernel checks again at run). */
static ldm_status check_local(const ldm_attention_desc *d, int64_t ld_kv)
{
    const struct { const char *name; int64_t v, min; } f[] = {
        {"batch", d->batch, 1}, {"heads", d->heads, 1}, {"head_dim", d->head_dim, 1},
        {"lq", d->lq, 0}, {"block_q", d->block_q, 0}, {"block_k", d->block_k, 0},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < f[i].min)
            return ldm_error(LDM_EINPUT, "ring attention: %s = %lld (must be >= %lld)",
                             f[i].name, (long long)f[i].v, (long long)f[i].min);
    const int64_t inner = d->heads * d->head_dim;
    if ((d->ldq && d->ldq < inner) || (d->ldo && d->ldo < inner))
        return ldm_error(LDM_EINPUT, "ring attention: ldq = %lld / ldo = %lld < heads*head_dim "
                         "= %lld", (long long)d->ldq, (long long)d->ldo, (long long)inner);
    if (ld_kv && ld_kv < 2 * inner)
        return ldm_error(LDM_EINPUT, "ring attention: ld_kv = %lld < 2*heads*head_dim = %lld",
                         (long long)ld_kv, (long long)(2 * inner));
    if (!(d->scale >= 0.0f) || isinf(d->scale))
        return ldm_error(LDM_EINPUT, "ring attention: scale = %g", (double)d->scale);
    return LDM_OK;
}

/* Every rank's (valid, lq, batch, heads, head_dim) in one allgather; the
 * same verdict on every rank. */
static ldm_status exchange_sizes(ldm_ring_attention *r, ldm_status local)
{
    ldm_status st = LDM_OK;
    int64_t mine[5] = {local == LDM_OK, r->d.lq, r->d.batch, r->d.heads, r->d.head_dim};
    int64_t *all = NULL;
    LDM_CHECK(ldm_calloc(sizeof *all * 5 * (size_t)r->size, "ring sizes", (void **)&all));
    LDM_CHECK(ldm_mpi_check(MPI_Allgather(mine, 5, MPI_INT64_T, all, 5, MPI_INT64_T, r->comm),
                            "ring attention: MPI_Allgather of the block sizes"));
    if (local != LDM_OK) {
        st = local;  /* keep this rank's own message */
        goto cleanup;
    }
    r->starts[0] = 0;
    for (int i = 0; i < r->size; i++) {
        const int64_t *o = all + 5 * i;
        if (!o[0]) {
            st = ldm_error(LDM_EINPUT, "ring attention: rank %d has a bad description", i);
            goto cleanup;
        }
        if (o[2] != r->d.batch || o[3] != r->d.heads || o[4] != r->d.head_dim) {
            st = ldm_error(LDM_EINPUT, "ring attention: rank %d has batch %lld, heads %lld, "
                           "head_dim %lld; rank %d has %lld, %lld, %lld", i, (long long)o[2],
                           (long long)o[3], (long long)o[4], r->rank, (long long)r->d.batch,
                           (long long)r->d.heads, (long long)r->d.head_dim);
            goto cleanup;
        }
        r->starts[i + 1] = r->starts[i] + o[1];
    }
cleanup:
    ldm_free(all);
    return st;
}

ldm_status ldm_ring_attention_create(MPI_Comm comm, const ldm_attention_desc *desc,
                                     int64_t ld_kv, ldm_ring_attention **out)
{
    ldm_status st = LDM_OK;
    ldm_ring_attention *r = NULL;
    *out = NULL;
    LDM_CHECK(ldm_calloc(sizeof *r, "ring attention", (void **)&r));
    r->comm = comm;
    LDM_CHECK(ldm_mpi_check(MPI_Comm_size(comm, &r->size), "ring attention: MPI_Comm_size"));
    LDM_CHECK(ldm_mpi_check(MPI_Comm_rank(comm, &r->rank), "ring attention: MPI_Comm_rank"));
    LDM_CHECK(ldm_calloc(sizeof *r->starts * (size_t)(r->size + 1), "ring starts",
                         (void **)&r->starts));
    LDM_CHECK(ldm_calloc(sizeof *r->counts * (size_t)r->size, "ring counts",
                         (void **)&r->counts));
    r->d = *desc;
    LDM_CHECK(exchange_sizes(r, check_local(desc, ld_kv)));
    r->inner = desc->heads * desc->head_dim;
    r->ld_kv = ld_kv ? ld_kv : 2 * r->inner;
    int64_t largest = 0;
    for (int i = 0; i < r->size; i++) {
        int64_t n = r->starts[i + 1] - r->starts[i];
        largest = n > largest ? n : largest;
        LDM_CHECK(ldm_mpi_count((size_t)(desc->batch * n * 2 * r->inner), &r->counts[i]));
    }
    if (largest == 0) {
        st = ldm_error(LDM_EINPUT, "ring attention: every rank has 0 tokens");
        goto cleanup;
    }
    r->d.lk = largest;
    r->d.ldk = r->d.ldv = 2 * r->inner;  /* received blocks; run sets ld_kv for its own */
    /* A strided block would go out as a derived datatype, which Open MPI's
     * shared-memory path pipelines in 32 KB fragments moved only inside MPI
     * calls (no overlap); a contiguous one is read in one single copy at
     * the first test. So a strided block is packed once, into a buffer that
     * later receives too. */
    r->pack = r->size > 1 && r->ld_kv != 2 * r->inner;
    r->nbufs = r->pack ? 2 : (r->size - 1 < 2 ? r->size - 1 : 2);
    r->buf_bytes = align64((size_t)(desc->batch * largest * 2 * r->inner) * sizeof(float));
    r->state_bytes = align64((size_t)(desc->batch * desc->heads * desc->lq) * sizeof(float)) * 2;
    r->chunk = CHUNK_KEYS;
    if (desc->block_k > 0)  /* whole tiles per call */
        r->chunk = (CHUNK_KEYS + desc->block_k - 1) / desc->block_k * desc->block_k;
    *out = r;
    r = NULL;
cleanup:
    ldm_ring_attention_destroy(&r);
    return st;
}

size_t ldm_ring_attention_work_bytes(const ldm_ring_attention *r)
{
    return r->state_bytes + (size_t)r->nbufs * r->buf_bytes;
}

size_t ldm_ring_attention_scratch_bytes(const ldm_ring_attention *r, int threads)
{
    ldm_attention_desc d = r->d;
    if (d.lq < 1)  /* nothing to compute: any valid size */
        d.lq = 1;
    return ldm_attention_scratch_bytes(&d, threads);
}

size_t ldm_ring_attention_kv_bytes(const ldm_ring_attention *r)
{
    return (size_t)r->nbufs * r->buf_bytes;
}

const int64_t *ldm_ring_attention_starts(const ldm_ring_attention *r)
{
    return r->starts;
}

/* The block in hand: n keys ‖ values of one rank, rows ld apart. */
typedef struct block {
    const float *kv;
    int64_t n, ld;
} block;

/* Accumulate a block in chunks; between chunks, test the step's requests
 * (their MPI time joins *comm). */
static ldm_status accumulate(ldm_ring_attention *r, ldm_attention_partial *p, const float *q,
                             const block *b, MPI_Request *req, int nreq, double *comm,
                             void *scratch, size_t scratch_bytes)
{
    ldm_status st = LDM_OK;
    p->desc.ldk = p->desc.ldv = b->ld;  /* the state does not depend on the strides */
    for (int64_t c0 = 0; c0 < b->n; c0 += r->chunk) {
        int64_t cn = b->n - c0 < r->chunk ? b->n - c0 : r->chunk;
        const float *k = b->kv + c0 * b->ld;
        LDM_CHECK(ldm_attention_partial_accumulate(p, q, k, k + r->inner, cn, b->n, scratch,
                                                   scratch_bytes));
        if (nreq && c0 + cn < b->n) {
            int done;
            double t0 = ldm_timer_now();
            LDM_CHECK(ldm_mpi_check(MPI_Testall(nreq, req, &done, MPI_STATUSES_IGNORE),
                                    "ring attention: MPI_Testall"));
            *comm += ldm_timer_now() - t0;
        }
    }
cleanup:
    return st;
}

ldm_status ldm_ring_attention_run(ldm_ring_attention *r, float *out, const float *q,
                                  const float *kv, void *work, void *scratch,
                                  size_t scratch_bytes)
{
    ldm_status st = LDM_OK, kst = LDM_OK;  /* MPI failures; this rank's kernel failures */
    const int np = r->size, me = r->rank;
    const int next = (me + 1) % np, prev = (me - 1 + np) % np;
    float *bufs[2] = {(float *)((char *)work + r->state_bytes),
                      (float *)((char *)work + r->state_bytes + r->buf_bytes)};
    ldm_attention_partial part;
    const int computing = r->d.lq > 0;
    if (computing)
        kst = ldm_attention_partial_init(&part, &r->d, out, work, r->state_bytes);
    block cur = {kv, r->d.lq, r->ld_kv};
    if (r->pack) {  /* into bufs[1]: free again once step 0 has sent it */
        const size_t row = sizeof(float) * (size_t)(2 * r->inner);
        for (int64_t i = 0; i < r->d.batch * r->d.lq; i++)
            memcpy((char *)bufs[1] + (size_t)i * row, kv + i * r->ld_kv, row);
        cur = (block){bufs[1], r->d.lq, 2 * r->inner};
    }
    int owner = me, nb = 0;
    for (int s = 0; s < np; s++) {
        MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
        const int moving = s < np - 1, from = (me - s - 1 + 2 * np) % np;
        double comm = 0.0, t0 = ldm_timer_now();
        uint64_t sent = 0;
        if (moving) {
            /* the block of rank `from` arrives while this one is used */
            LDM_CHECK(ldm_mpi_check(MPI_Irecv(bufs[nb], r->counts[from], MPI_FLOAT, prev,
                                              RING_TAG + s, r->comm, &req[0]),
                                    "ring attention: MPI_Irecv"));
            LDM_CHECK(ldm_mpi_check(MPI_Isend(cur.kv, r->counts[owner], MPI_FLOAT, next,
                                              RING_TAG + s, r->comm, &req[1]),
                                    "ring attention: MPI_Isend"));
            sent = (uint64_t)r->counts[owner] * sizeof(float);
            comm += ldm_timer_now() - t0;
        }
        if (computing && kst == LDM_OK)
            kst = accumulate(r, &part, q, &cur, req, moving ? 2 : 0, &comm, scratch,
                             scratch_bytes);
        if (moving) {
            t0 = ldm_timer_now();
            LDM_CHECK(ldm_mpi_check(MPI_Waitall(2, req, MPI_STATUSES_IGNORE),
                                    "ring attention: MPI_Waitall"));
            comm += ldm_timer_now() - t0;
            ldm_timer_add(LDM_T_COMM_SENDRECV, comm, sent);
            cur = (block){bufs[nb], r->starts[from + 1] - r->starts[from], 2 * r->inner};
            owner = from;
            nb = r->nbufs > 1 ? 1 - nb : 0;
        }
    }
    if (computing && kst == LDM_OK)
        kst = ldm_attention_partial_finish(&part);
cleanup:
    return st != LDM_OK ? st : kst;
}

void ldm_ring_attention_destroy(ldm_ring_attention **rp)
{
    if (!rp || !*rp)
        return;
    ldm_ring_attention *r = *rp;
    ldm_free(r->starts);
    ldm_free(r->counts);
    ldm_free(r);
    *rp = NULL;
}
