/* pickle.c — a restricted unpickler for `torch.save(state_dict)` data.pkl.
 *
 * A tiny pickle virtual machine: a value stack, a mark stack and a memo,
 * over objects of a few kinds (None, bool, int, float, str, tuple, list,
 * dict, allow-listed global, storage, tensor). Globals are matched by name
 * when they are read, so a forbidden callable is rejected before REDUCE
 * could ever meet it; REDUCE on an allowed global is evaluated by hand
 * (building a dict or recording a tensor's geometry). Nothing is executed.
 *
 * All objects live in one arena freed at the end: objects are never shared
 * with the caller, cycles (a list appended to itself) cost nothing, and no
 * operation walks an object graph recursively. Every opcode creates at most
 * one object and pushes at most one reference, so memory is a small multiple
 * of the input size, and the arena, stack, marks, memo and strings are
 * capped on top of that. No opcode costs more than the values it pops, so a
 * memoized object reused many times (BINGET) cannot make time quadratic.
 */
#include "pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

enum {
    MAX_STACK = 1 << 20,        /* values on the stack (torch batches 1000 items) */
    MAX_MARKS = 1 << 20,
    MAX_MEMO = 1 << 24,         /* highest memo index */
    MAX_STR = 1 << 16,          /* bytes of one string (names, keys, metadata) */
    MAX_GLOBAL_NAME = 256,      /* bytes of a GLOBAL module or name line */
    MAX_STORAGE_KEY = 256,      /* torch's keys are decimal numbers */
    MAX_TENSORS = 1 << 20,
    CHUNK_BYTES = 64 * 1024,
    SHOW_MAX = 120              /* bytes of untrusted text quoted in messages */
};

/* All objects of one parse: a data.pkl of a real model needs a few MB. */
static const size_t MAX_ARENA = (size_t)1 << 30;

typedef enum kind {
    K_NONE, K_BOOL, K_INT, K_FLOAT, K_STR, K_TUPLE, K_LIST, K_DICT, K_GLOBAL, K_STORAGE, K_TENSOR
} kind;

static const char *const kind_names[] = { "None", "bool", "int", "float", "str", "tuple",
                                          "list", "dict", "global", "storage", "tensor" };

/* The allow-list. Storage classes carry their dtype. */
typedef enum global_id {
    G_ORDERED_DICT, G_REBUILD_TENSOR_V2, G_REBUILD_TENSOR, G_REBUILD_PARAMETER,
    G_REBUILD_PARAMETER_WITH_STATE, G_STORAGE
} global_id;

static const struct {
    const char *module, *name;
    global_id id;
    ldm_dtype dtype;
} allowed[] = {
    { "collections", "OrderedDict", G_ORDERED_DICT, LDM_DTYPE_F32 },
    { "torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR_V2, LDM_DTYPE_F32 },
    { "torch._utils", "_rebuild_tensor", G_REBUILD_TENSOR, LDM_DTYPE_F32 },
    { "torch._utils", "_rebuild_parameter", G_REBUILD_PARAMETER, LDM_DTYPE_F32 },
    { "torch._utils", "_rebuild_parameter_with_state", G_REBUILD_PARAMETER_WITH_STATE,
      LDM_DTYPE_F32 },
    { "torch", "FloatStorage", G_STORAGE, LDM_DTYPE_F32 },
    { "torch", "HalfStorage", G_STORAGE, LDM_DTYPE_F16 },
    { "torch", "BFloat16Storage", G_STORAGE, LDM_DTYPE_BF16 },
    { "torch", "DoubleStorage", G_STORAGE, LDM_DTYPE_F64 },
    { "torch", "LongStorage", G_STORAGE, LDM_DTYPE_I64 },
    { "torch", "IntStorage", G_STORAGE, LDM_DTYPE_I32 },
    { "torch", "ShortStorage", G_STORAGE, LDM_DTYPE_I16 },
    { "torch", "CharStorage", G_STORAGE, LDM_DTYPE_I8 },
    { "torch", "ByteStorage", G_STORAGE, LDM_DTYPE_U8 },
    { "torch", "BoolStorage", G_STORAGE, LDM_DTYPE_BOOL },
};

typedef struct pobj pobj;

typedef struct ptensor {
    const pobj *storage;            /* K_STORAGE */
    int64_t offset;                 /* elements; checked later, with the tensor's name */
    int ndim;                       /* as written; may exceed LDM_MAX_DIMS (reported later) */
    int64_t shape[LDM_MAX_DIMS];
    int64_t stride[LDM_MAX_DIMS];
} ptensor;

struct pobj {
    kind kind;
    int is_key; /* already a state-dict key: a second use is a duplicate */
    union {
        int64_t i;                                      /* K_BOOL, K_INT */
        double f;                                       /* K_FLOAT */
        struct { char *s; size_t len; } str;            /* K_STR, NUL-terminated */
        struct { pobj **items; size_t n, cap; } seq;    /* K_TUPLE, K_LIST; K_DICT as k,v pairs */
        struct { global_id id; ldm_dtype dtype; int index; } glob;
        struct { ldm_dtype dtype; const char *key; int64_t numel; } storage;
        ptensor *tensor;
    } u;
};

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} chunk;

typedef struct vm {
    const char *name;
    const unsigned char *p;
    size_t len, pos, op_pos;
    chunk *arena;
    size_t arena_total;
    pobj **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t nmarks, marks_cap;
    pobj **memo;
    size_t memo_cap, memo_count;
} vm;

/* ---- errors ------------------------------------------------------------ */

/* Quote untrusted text: at most SHOW_MAX bytes, control bytes as '?'. */
static const char *show(const char *s, size_t len, char out[SHOW_MAX + 4])
{
    size_t n = len < SHOW_MAX ? len : SHOW_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    strcpy(out + n, len > n ? "..." : "");
    return out;
}

/* No control bytes: names end up in messages and on terminals. */
static int printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static ldm_status bad(const vm *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static ldm_status bad(const vm *v, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ldm_error(LDM_EINPUT, "%s: %s at byte %zu", v->name, what, v->op_pos);
}

/* ---- memory ------------------------------------------------------------ */

static ldm_status arena_alloc(vm *v, size_t bytes, void **out)
{
    bytes = (bytes + 15) & ~(size_t)15;
    chunk *c = v->arena;
    if (!c || c->cap - c->used < bytes) {
        size_t cap = bytes > CHUNK_BYTES ? bytes : CHUNK_BYTES;
        if (cap > MAX_ARENA - v->arena_total)
            return bad(v, "pickle needs more than %zu MiB of objects", MAX_ARENA >> 20);
        v->arena_total += cap;
        ldm_status st = ldm_alloc(sizeof(chunk) + cap, "pickle objects", (void **)&c);
        if (st != LDM_OK)
            return st;
        c->next = v->arena;
        c->used = 0;
        c->cap = cap;
        v->arena = c;
    }
    *out = c->data + c->used;
    c->used += bytes;
    return LDM_OK;
}

/* Grow a heap array to hold `need` elements (doubling), up to `limit`. */
static ldm_status grow(const vm *v, void **arr, size_t *cap, size_t need, size_t elem,
                       size_t limit, const char *what)
{
    if (need <= *cap)
        return LDM_OK;
    if (need > limit)
        return bad(v, "%s exceeds %zu entries", what, limit);
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need)
        ncap *= 2;
    if (ncap > limit)
        ncap = limit;
    void *p;
    ldm_status st = ldm_alloc(ncap * elem, what, &p);
    if (st != LDM_OK)
        return st;
    if (*cap)
        memcpy(p, *arr, *cap * elem);
    ldm_free(*arr);
    *arr = p;
    *cap = ncap;
    return LDM_OK;
}

static ldm_status new_obj(vm *v, kind k, pobj **out)
{
    ldm_status st = arena_alloc(v, sizeof(pobj), (void **)out);
    if (st == LDM_OK) {
        memset(*out, 0, sizeof(pobj));
        (*out)->kind = k;
    }
    return st;
}

/* Append to a list/dict's item array (arena; the old block is abandoned). */
static ldm_status seq_push(vm *v, pobj *o, pobj *item)
{
    if (o->u.seq.n == o->u.seq.cap) {
        size_t ncap = o->u.seq.cap ? 2 * o->u.seq.cap : 8;
        pobj **items;
        ldm_status st = arena_alloc(v, ncap * sizeof(pobj *), (void **)&items);
        if (st != LDM_OK)
            return st;
        if (o->u.seq.n)
            memcpy(items, o->u.seq.items, o->u.seq.n * sizeof(pobj *));
        o->u.seq.items = items;
        o->u.seq.cap = ncap;
    }
    o->u.seq.items[o->u.seq.n++] = item;
    return LDM_OK;
}

/* ---- stack ------------------------------------------------------------- */

static size_t frame_bottom(const vm *v)
{
    return v->nmarks ? v->marks[v->nmarks - 1] : 0;
}

static ldm_status push(vm *v, pobj *o)
{
    ldm_status st = grow(v, (void **)&v->stack, &v->stack_cap, v->sp + 1, sizeof(pobj *),
                         MAX_STACK, "pickle stack");
    if (st == LDM_OK)
        v->stack[v->sp++] = o;
    return st;
}

/* Pop one value above the innermost mark. */
static ldm_status pop(vm *v, pobj **out)
{
    if (v->sp <= frame_bottom(v))
        return bad(v, "pickle stack underflow");
    *out = v->stack[--v->sp];
    return LDM_OK;
}

static ldm_status top(vm *v, pobj **out)
{
    if (v->sp <= frame_bottom(v))
        return bad(v, "pickle stack underflow");
    *out = v->stack[v->sp - 1];
    return LDM_OK;
}

/* Remove the innermost mark; the values above it are stack[*first .. sp). */
static ldm_status pop_mark(vm *v, size_t *first)
{
    if (!v->nmarks)
        return bad(v, "pickle MARK missing");
    *first = v->marks[--v->nmarks];
    return LDM_OK;
}

/* ---- reading the input ------------------------------------------------- */

static ldm_status need(const vm *v, size_t n)
{
    if (n > v->len - v->pos)
        return bad(v, "truncated pickle: opcode needs %zu more bytes", n);
    return LDM_OK;
}

static uint64_t read_le(vm *v, size_t n)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x |= (uint64_t)v->p[v->pos + i] << (8 * i);
    v->pos += n;
    return x;
}

static ldm_status push_int(vm *v, kind k, int64_t i)
{
    pobj *o;
    ldm_status st = new_obj(v, k, &o);
    if (st == LDM_OK) {
        o->u.i = i;
        st = push(v, o);
    }
    return st;
}

/* LONG1: n-byte little-endian two's complement; n <= 8 fits int64. */
static ldm_status op_long1(vm *v)
{
    ldm_status st = need(v, 1);
    if (st != LDM_OK)
        return st;
    size_t n = v->p[v->pos++];
    if (n > 8)
        return bad(v, "integer of %zu bytes is too large", n);
    if ((st = need(v, n)) != LDM_OK)
        return st;
    uint64_t u = read_le(v, n);
    if (n > 0 && n < 8 && (u >> (8 * n - 1)) & 1)
        u |= ~(uint64_t)0 << (8 * n);
    int64_t i = u > (uint64_t)INT64_MAX ? -(int64_t)(~u) - 1 : (int64_t)u;
    return push_int(v, K_INT, i);
}

static ldm_status op_binfloat(vm *v)
{
    ldm_status st = need(v, 8);
    if (st != LDM_OK)
        return st;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = bits << 8 | v->p[v->pos++];
    pobj *o;
    if ((st = new_obj(v, K_FLOAT, &o)) != LDM_OK)
        return st;
    memcpy(&o->u.f, &bits, 8);
    return push(v, o);
}

/* BINUNICODE family: `lenbytes`-byte length, then the UTF-8 bytes. */
static ldm_status op_string(vm *v, size_t lenbytes)
{
    ldm_status st = need(v, lenbytes);
    if (st != LDM_OK)
        return st;
    uint64_t n = read_le(v, lenbytes);
    if (n > MAX_STR)
        return bad(v, "string of %llu bytes is longer than %d", (unsigned long long)n, MAX_STR);
    if ((st = need(v, (size_t)n)) != LDM_OK)
        return st;
    const char *src = (const char *)v->p + v->pos;
    if (memchr(src, '\0', (size_t)n))
        return bad(v, "string contains a NUL byte");
    pobj *o;
    if ((st = new_obj(v, K_STR, &o)) != LDM_OK)
        return st;
    if ((st = arena_alloc(v, (size_t)n + 1, (void **)&o->u.str.s)) != LDM_OK)
        return st;
    memcpy(o->u.str.s, src, (size_t)n);
    o->u.str.s[n] = '\0';
    o->u.str.len = (size_t)n;
    v->pos += (size_t)n;
    return push(v, o);
}

/* ---- containers -------------------------------------------------------- */

static ldm_status make_tuple(vm *v, size_t first)
{
    size_t n = v->sp - first;
    pobj *o;
    ldm_status st = new_obj(v, K_TUPLE, &o);
    if (st == LDM_OK && n)
        st = arena_alloc(v, n * sizeof(pobj *), (void **)&o->u.seq.items);
    if (st != LDM_OK)
        return st;
    if (n)
        memcpy(o->u.seq.items, v->stack + first, n * sizeof(pobj *));
    o->u.seq.n = o->u.seq.cap = n;
    v->sp = first;
    return push(v, o);
}

/* TUPLE1/2/3: the n values on top (not crossing a mark). */
static ldm_status op_tuple_n(vm *v, size_t n)
{
    if (v->sp - frame_bottom(v) < n)
        return bad(v, "pickle stack underflow");
    return make_tuple(v, v->sp - n);
}

static ldm_status op_tuple_mark(vm *v)
{
    size_t first = 0;
    ldm_status st = pop_mark(v, &first);
    return st == LDM_OK ? make_tuple(v, first) : st;
}

/* APPEND(S) / SETITEM(S): values stack[first..sp) go into the container
 * just below them; `pairs` for dicts. */
static ldm_status fill(vm *v, size_t first, int pairs)
{
    if (first <= frame_bottom(v))
        return bad(v, "pickle stack underflow");
    pobj *c = v->stack[first - 1];
    kind want = pairs ? K_DICT : K_LIST;
    if (c->kind != want)
        return bad(v, "%s on a %s", pairs ? "SETITEM" : "APPEND", kind_names[c->kind]);
    if (pairs && (v->sp - first) % 2)
        return bad(v, "SETITEMS with an odd number of values");
    for (size_t i = first; i < v->sp; i++) {
        ldm_status st = seq_push(v, c, v->stack[i]);
        if (st != LDM_OK)
            return st;
    }
    v->sp = first;
    return LDM_OK;
}

static ldm_status op_fill_mark(vm *v, int pairs)
{
    size_t first = 0;
    ldm_status st = pop_mark(v, &first);
    return st == LDM_OK ? fill(v, first, pairs) : st;
}

static ldm_status op_fill_n(vm *v, int pairs)
{
    size_t n = pairs ? 2 : 1;
    if (v->sp - frame_bottom(v) < n)
        return bad(v, "pickle stack underflow");
    return fill(v, v->sp - n, pairs);
}

static ldm_status push_empty(vm *v, kind k)
{
    pobj *o;
    ldm_status st = new_obj(v, k, &o);
    return st == LDM_OK ? push(v, o) : st;
}

/* ---- memo -------------------------------------------------------------- */

static ldm_status memo_put(vm *v, uint64_t idx)
{
    /* Picklers number memo entries 0, 1, 2, … and each BINPUT takes at
     * least two bytes, so an index beyond the input length is forged. */
    if (idx >= MAX_MEMO || idx >= v->len)
        return bad(v, "memo index %llu out of range", (unsigned long long)idx);
    pobj *o;
    ldm_status st = top(v, &o);
    if (st != LDM_OK)
        return st;
    size_t old = v->memo_cap;
    if ((st = grow(v, (void **)&v->memo, &v->memo_cap, (size_t)idx + 1, sizeof(pobj *),
                   MAX_MEMO, "pickle memo")) != LDM_OK)
        return st;
    if (v->memo_cap > old)
        memset(v->memo + old, 0, (v->memo_cap - old) * sizeof(pobj *));
    if (!v->memo[idx])
        v->memo_count++;
    v->memo[idx] = o;
    return LDM_OK;
}

static ldm_status op_put(vm *v, size_t nbytes)
{
    ldm_status st = need(v, nbytes);
    return st == LDM_OK ? memo_put(v, read_le(v, nbytes)) : st;
}

static ldm_status op_get(vm *v, size_t nbytes)
{
    ldm_status st = need(v, nbytes);
    if (st != LDM_OK)
        return st;
    uint64_t idx = read_le(v, nbytes);
    if (idx >= v->memo_cap || !v->memo[idx])
        return bad(v, "memo index %llu was never stored", (unsigned long long)idx);
    return push(v, v->memo[idx]);
}

/* ---- globals, REDUCE, persistent ids, BUILD ---------------------------- */

static ldm_status push_global(vm *v, const char *mod, size_t mlen, const char *name,
                              size_t nlen)
{
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        if (strlen(allowed[i].module) == mlen && !memcmp(allowed[i].module, mod, mlen) &&
            strlen(allowed[i].name) == nlen && !memcmp(allowed[i].name, name, nlen)) {
            pobj *o;
            ldm_status st = new_obj(v, K_GLOBAL, &o);
            if (st != LDM_OK)
                return st;
            o->u.glob.id = allowed[i].id;
            o->u.glob.dtype = allowed[i].dtype;
            o->u.glob.index = (int)i;
            return push(v, o);
        }
    }
    char m[SHOW_MAX + 4], n[SHOW_MAX + 4];
    return bad(v, "unsupported pickle global '%s.%s'", show(mod, mlen, m), show(name, nlen, n));
}

/* GLOBAL: "module\nname\n" in the opcode stream. */
static ldm_status read_line(vm *v, const char **s, size_t *len)
{
    size_t avail = v->len - v->pos;
    if (avail > MAX_GLOBAL_NAME + 1)
        avail = MAX_GLOBAL_NAME + 1;
    const unsigned char *nl = memchr(v->p + v->pos, '\n', avail);
    if (!nl)
        return bad(v, "GLOBAL name not terminated within %d bytes", MAX_GLOBAL_NAME);
    *s = (const char *)v->p + v->pos;
    *len = (size_t)(nl - (v->p + v->pos));
    v->pos += *len + 1;
    return LDM_OK;
}

static ldm_status op_global(vm *v)
{
    const char *mod = NULL, *name = NULL;
    size_t mlen = 0, nlen = 0;
    ldm_status st = read_line(v, &mod, &mlen);
    if (st == LDM_OK)
        st = read_line(v, &name, &nlen);
    return st == LDM_OK ? push_global(v, mod, mlen, name, nlen) : st;
}

static ldm_status op_stack_global(vm *v)
{
    pobj *name = NULL, *mod = NULL;
    ldm_status st = pop(v, &name);
    if (st == LDM_OK)
        st = pop(v, &mod);
    if (st != LDM_OK)
        return st;
    if (mod->kind != K_STR || name->kind != K_STR)
        return bad(v, "STACK_GLOBAL needs two strings");
    return push_global(v, mod->u.str.s, mod->u.str.len, name->u.str.s, name->u.str.len);
}

/* BINPERSID: ('storage', torch.<T>Storage, key, location, numel). */
static ldm_status op_persid(vm *v)
{
    pobj *pid = NULL;
    ldm_status st = pop(v, &pid);
    if (st != LDM_OK)
        return st;
    pobj **it = pid->u.seq.items;
    if (pid->kind != K_TUPLE || pid->u.seq.n != 5 || it[0]->kind != K_STR ||
        strcmp(it[0]->u.str.s, "storage") != 0 || it[1]->kind != K_GLOBAL ||
        it[1]->u.glob.id != G_STORAGE || it[2]->kind != K_STR || it[2]->u.str.len == 0 ||
        it[3]->kind != K_STR || it[4]->kind != K_INT)
        return bad(v, "persistent id is not ('storage', torch.<T>Storage, key, location, numel)");
    if (it[2]->u.str.len > MAX_STORAGE_KEY)
        return bad(v, "storage key longer than %d bytes", MAX_STORAGE_KEY);
    /* The key names the zip entry <archive>/data/<key>. */
    if (!printable(it[2]->u.str.s, it[2]->u.str.len) || strchr(it[2]->u.str.s, '/'))
        return bad(v, "storage key with a '/' or a control byte");
    if (it[4]->u.i < 0)
        return bad(v, "storage '%s' has negative size %lld", it[2]->u.str.s,
                   (long long)it[4]->u.i);
    pobj *o;
    if ((st = new_obj(v, K_STORAGE, &o)) != LDM_OK)
        return st;
    o->u.storage.dtype = it[1]->u.glob.dtype;
    o->u.storage.key = it[2]->u.str.s;
    o->u.storage.numel = it[4]->u.i;
    return push(v, o);
}

/* A size or stride tuple: ints only. More than LDM_MAX_DIMS entries give
 * ndim = LDM_MAX_DIMS + 1, reported later with the tensor's name. */
static int read_dims(const pobj *t, int64_t *dims, int *ndim)
{
    if (t->kind != K_TUPLE && t->kind != K_LIST)
        return 0;
    /* Too many dims is an error anyway: do not scan a long (perhaps
     * memoized and reused) tuple on every REDUCE. */
    if (t->u.seq.n > LDM_MAX_DIMS) {
        *ndim = LDM_MAX_DIMS + 1;
        return 1;
    }
    for (size_t i = 0; i < t->u.seq.n; i++) {
        if (t->u.seq.items[i]->kind != K_INT)
            return 0;
        dims[i] = t->u.seq.items[i]->u.i;
    }
    *ndim = (int)t->u.seq.n;
    return 1;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
 * and _rebuild_tensor(storage, offset, size, stride). */
static ldm_status rebuild_tensor(vm *v, const pobj *args, int v2, pobj **out)
{
    size_t n = args->u.seq.n;
    pobj **a = args->u.seq.items;
    const char *fn = v2 ? "_rebuild_tensor_v2" : "_rebuild_tensor";
    if (v2 ? (n != 6 && n != 7) : n != 4)
        return bad(v, "%s with %zu arguments", fn, n);
    ptensor *t;
    ldm_status st = arena_alloc(v, sizeof *t, (void **)&t);
    if (st != LDM_OK)
        return st;
    int nstride = 0;
    if (a[0]->kind != K_STORAGE || a[1]->kind != K_INT || !read_dims(a[2], t->shape, &t->ndim) ||
        !read_dims(a[3], t->stride, &nstride))
        return bad(v, "%s arguments are not (storage, int, sizes, strides, ...)", fn);
    if (nstride != t->ndim)
        return bad(v, "%s: %d sizes but %d strides", fn, t->ndim, nstride);
    if (v2 && ((a[4]->kind != K_BOOL && a[4]->kind != K_INT) ||
               (a[5]->kind != K_DICT && a[5]->kind != K_NONE)))
        return bad(v, "%s: requires_grad or backward_hooks of the wrong type", fn);
    /* metadata records conj/neg bits; a set bit would change the values. */
    if (n == 7 && a[6]->kind != K_NONE && !(a[6]->kind == K_DICT && a[6]->u.seq.n == 0))
        return bad(v, "%s: tensor metadata (conj/neg bits) is not supported", fn);
    t->storage = a[0];
    t->offset = a[1]->u.i;
    if ((st = new_obj(v, K_TENSOR, out)) != LDM_OK)
        return st;
    (*out)->u.tensor = t;
    return LDM_OK;
}

static ldm_status op_reduce(vm *v)
{
    pobj *args = NULL, *fn = NULL, *res = NULL;
    ldm_status st = pop(v, &args);
    if (st == LDM_OK)
        st = pop(v, &fn);
    if (st != LDM_OK)
        return st;
    if (fn->kind != K_GLOBAL)
        return bad(v, "REDUCE on a %s", kind_names[fn->kind]);
    if (args->kind != K_TUPLE)
        return bad(v, "REDUCE arguments are a %s, not a tuple", kind_names[args->kind]);
    size_t n = args->u.seq.n;
    pobj **a = args->u.seq.items;
    switch (fn->u.glob.id) {
    case G_ORDERED_DICT:
        if (n != 0)
            return bad(v, "collections.OrderedDict called with arguments");
        st = new_obj(v, K_DICT, &res);
        break;
    case G_REBUILD_TENSOR_V2:
    case G_REBUILD_TENSOR:
        st = rebuild_tensor(v, args, fn->u.glob.id == G_REBUILD_TENSOR_V2, &res);
        break;
    case G_REBUILD_PARAMETER:
    case G_REBUILD_PARAMETER_WITH_STATE:
        /* (tensor, requires_grad, hooks[, state]): the parameter is its data. */
        if (n != (fn->u.glob.id == G_REBUILD_PARAMETER ? 3u : 4u) || a[0]->kind != K_TENSOR)
            return bad(v, "%s arguments are not (tensor, requires_grad, hooks, ...)",
                       allowed[fn->u.glob.index].name);
        res = a[0];
        break;
    case G_STORAGE:
        return bad(v, "pickle global 'torch.%s' cannot be called", allowed[fn->u.glob.index].name);
    }
    return st == LDM_OK ? push(v, res) : st;
}

/* BUILD: only OrderedDict attributes (torch's `state_dict._metadata`),
 * which are accepted and ignored. */
static ldm_status op_build(vm *v)
{
    pobj *state = NULL, *target = NULL;
    ldm_status st = pop(v, &state);
    if (st == LDM_OK)
        st = top(v, &target);
    if (st != LDM_OK)
        return st;
    if (target->kind != K_DICT || (state->kind != K_DICT && state->kind != K_NONE))
        return bad(v, "BUILD of a %s with a %s state is not supported", kind_names[target->kind],
                   kind_names[state->kind]);
    return LDM_OK;
}

/* ---- the opcode loop --------------------------------------------------- */

static ldm_status op_proto(vm *v)
{
    ldm_status st = need(v, 1);
    if (st != LDM_OK)
        return st;
    unsigned proto = v->p[v->pos++];
    if (proto < 2 || proto > 5)
        return bad(v, "unsupported pickle protocol %u", proto);
    return LDM_OK;
}

/* FRAME (protocol 4): an 8-byte length announcing the next opcodes. */
static ldm_status op_frame(vm *v)
{
    ldm_status st = need(v, 8);
    if (st != LDM_OK)
        return st;
    uint64_t n = read_le(v, 8);
    if (n > v->len - v->pos)
        return bad(v, "truncated pickle: frame of %llu bytes", (unsigned long long)n);
    return LDM_OK;
}

static ldm_status op_mark(vm *v)
{
    ldm_status st = grow(v, (void **)&v->marks, &v->marks_cap, v->nmarks + 1, sizeof(size_t),
                         MAX_MARKS, "pickle marks");
    if (st == LDM_OK)
        v->marks[v->nmarks++] = v->sp;
    return st;
}

static ldm_status op_fixed_int(vm *v, size_t nbytes, int is_signed)
{
    ldm_status st = need(v, nbytes);
    if (st != LDM_OK)
        return st;
    uint64_t u = read_le(v, nbytes);
    int64_t i = is_signed ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
    return push_int(v, K_INT, i);
}

/* One opcode; *done is set by STOP with the result in *result. */
static ldm_status step(vm *v, int *done, pobj **result)
{
    pobj *o = NULL;
    unsigned op = v->p[v->pos++];
    switch (op) {
    case 0x80: return op_proto(v);
    case 0x95: return op_frame(v);
    case '.': *done = 1; return pop(v, result);
    case '(': return op_mark(v);
    case '0': return pop(v, &o);
    case '}': return push_empty(v, K_DICT);
    case ']': return push_empty(v, K_LIST);
    case ')': return push_empty(v, K_TUPLE);
    case 'N': return push_empty(v, K_NONE);
    case 0x88: return push_int(v, K_BOOL, 1);
    case 0x89: return push_int(v, K_BOOL, 0);
    case 'J': return op_fixed_int(v, 4, 1);
    case 'K': return op_fixed_int(v, 1, 0);
    case 'M': return op_fixed_int(v, 2, 0);
    case 0x8a: return op_long1(v);
    case 'G': return op_binfloat(v);
    case 'X': return op_string(v, 4);
    case 0x8c: return op_string(v, 1);
    case 0x8d: return op_string(v, 8);
    case 't': return op_tuple_mark(v);
    case 0x85: return op_tuple_n(v, 1);
    case 0x86: return op_tuple_n(v, 2);
    case 0x87: return op_tuple_n(v, 3);
    case 'a': return op_fill_n(v, 0);
    case 'e': return op_fill_mark(v, 0);
    case 's': return op_fill_n(v, 1);
    case 'u': return op_fill_mark(v, 1);
    case 'q': return op_put(v, 1);
    case 'r': return op_put(v, 4);
    case 0x94: return memo_put(v, v->memo_count);
    case 'h': return op_get(v, 1);
    case 'j': return op_get(v, 4);
    case 'c': return op_global(v);
    case 0x93: return op_stack_global(v);
    case 'R': return op_reduce(v);
    case 'Q': return op_persid(v);
    case 'b': return op_build(v);
    default: return bad(v, "unsupported opcode 0x%02x", op);
    }
}

/* ---- from the unpickled dict to ldm_pickle_tensor ---------------------- */

/* Offsets, sizes and strides are non-negative and every element, including
 * the furthest one reachable through shape and stride, lies inside the
 * storage: offset + sum((size_i - 1) * stride_i) < numel. */
static ldm_status check_tensor(const char *file, const char *name, const ptensor *t)
{
    const int64_t numel = t->storage->u.storage.numel;
    const char *key = t->storage->u.storage.key;
    if (t->ndim > LDM_MAX_DIMS)
        return ldm_error(LDM_EINPUT, "%s: tensor '%s' has more than %d dimensions", file, name,
                         LDM_MAX_DIMS);
    if (t->offset < 0)
        return ldm_error(LDM_EINPUT, "%s: tensor '%s' has negative storage offset %lld", file,
                         name, (long long)t->offset);
    int64_t count = 1, last = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        int64_t s = t->shape[i], d = t->stride[i];
        if (s < 0 || d < 0)
            return ldm_error(LDM_EINPUT, "%s: tensor '%s' has negative size or stride in dim %d",
                             file, name, i);
        if (s > 0 && count > INT64_MAX / s)
            return ldm_error(LDM_EINPUT, "%s: tensor '%s': element count overflows (dim %d of size %lld)",
                             file, name, i, (long long)s);
        count *= s;
        if (s > 1 && d > (INT64_MAX - last) / (s - 1))
            return ldm_error(LDM_EINPUT, "%s: tensor '%s': extent overflows (dim %d: size %lld, stride %lld)",
                             file, name, i, (long long)s, (long long)d);
        if (s > 1)
            last += (s - 1) * d;
    }
    if ((uint64_t)numel > (uint64_t)INT64_MAX / ldm_dtype_size(t->storage->u.storage.dtype))
        return ldm_error(LDM_EINPUT, "%s: tensor '%s': storage '%s' of %lld elements is too large",
                         file, name, key, (long long)numel);
    if (count > 0 ? last >= numel : t->offset > numel)
        return ldm_error(LDM_EINPUT,
                         "%s: tensor '%s' reaches element %lld but its storage '%s' has %lld elements",
                         file, name, (long long)(count > 0 ? last : t->offset), key,
                         (long long)numel);
    return LDM_OK;
}

static int cmp_names(const void *a, const void *b)
{
    const ldm_pickle_tensor *x = *(const ldm_pickle_tensor *const *)a;
    const ldm_pickle_tensor *y = *(const ldm_pickle_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static ldm_status check_unique(const char *file, ldm_pickle_state_dict *sd)
{
    ldm_pickle_tensor **idx = NULL;
    ldm_status st = ldm_alloc((size_t)sd->count * sizeof *idx + 1, "tensor index", (void **)&idx);
    if (st != LDM_OK)
        return st;
    for (int i = 0; i < sd->count; i++)
        idx[i] = &sd->tensors[i];
    qsort(idx, (size_t)sd->count, sizeof *idx, cmp_names);
    for (int i = 1; i < sd->count && st == LDM_OK; i++) {
        if (strcmp(idx[i - 1]->name, idx[i]->name) == 0) {
            char s[SHOW_MAX + 4];
            st = ldm_error(LDM_EINPUT, "%s: tensor name '%s' appears twice", file,
                           show(idx[i]->name, strlen(idx[i]->name), s));
        }
    }
    ldm_free(idx);
    return st;
}

static ldm_status extract(const char *file, pobj *root, ldm_pickle_state_dict *sd)
{
    if (root->kind != K_DICT)
        return ldm_error(LDM_EINPUT, "%s: the pickle holds a %s, not a state dict", file,
                         kind_names[root->kind]);
    size_t n = root->u.seq.n / 2;
    if (n > MAX_TENSORS)
        return ldm_error(LDM_EINPUT, "%s: more than %d tensors", file, MAX_TENSORS);
    ldm_status st = ldm_calloc(n * sizeof(ldm_pickle_tensor) + 1, "state dict",
                               (void **)&sd->tensors);
    if (st != LDM_OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        pobj *key = root->u.seq.items[2 * i];
        const pobj *val = root->u.seq.items[2 * i + 1];
        char s[SHOW_MAX + 4];
        if (key->kind != K_STR)
            return ldm_error(LDM_EINPUT, "%s: state dict key %zu is a %s, not a string", file, i,
                             kind_names[key->kind]);
        const char *name = show(key->u.str.s, key->u.str.len, s);
        /* One string object used as many keys (BINGET) would cost a copy
         * and a comparison each; equal strings of distinct objects are
         * bounded by the input size and caught by check_unique. */
        if (key->is_key++)
            return ldm_error(LDM_EINPUT, "%s: tensor name '%s' appears twice", file, name);
        if (!printable(key->u.str.s, key->u.str.len))
            return ldm_error(LDM_EINPUT, "%s: tensor name '%s' contains control bytes", file, name);
        if (val->kind != K_TENSOR)
            return ldm_error(LDM_EINPUT,
                             "%s: value of '%s' is a %s, not a tensor (a training checkpoint "
                             "rather than a state dict?)", file, name, kind_names[val->kind]);
        const ptensor *t = val->u.tensor;
        if ((st = check_tensor(file, name, t)) != LDM_OK)
            return st;
        ldm_pickle_tensor *out = &sd->tensors[sd->count++];
        if ((st = ldm_strdup(key->u.str.s, &out->name)) != LDM_OK ||
            (st = ldm_strdup(t->storage->u.storage.key, &out->storage_key)) != LDM_OK)
            return st;
        out->dtype = t->storage->u.storage.dtype;
        out->storage_numel = t->storage->u.storage.numel;
        out->storage_offset = t->offset;
        out->ndim = t->ndim;
        memcpy(out->shape, t->shape, sizeof out->shape);
        memcpy(out->stride, t->stride, sizeof out->stride);
    }
    return check_unique(file, sd);
}

ldm_status ldm_pickle_load_state_dict(const char *name, const unsigned char *data, size_t len,
                                      ldm_pickle_state_dict *out)
{
    ldm_status st = LDM_OK;
    vm v = { .name = name, .p = data, .len = len };
    memset(out, 0, sizeof *out);
    pobj *result = NULL;
    for (int done = 0; !done;) {
        if (v.pos >= v.len) {
            v.op_pos = v.pos;
            LDM_CHECK(bad(&v, "truncated pickle: no STOP opcode"));
        }
        v.op_pos = v.pos;
        LDM_CHECK(step(&v, &done, &result));
    }
    LDM_CHECK(extract(name, result, out));
cleanup:
    while (v.arena) {
        chunk *next = v.arena->next;
        ldm_free(v.arena);
        v.arena = next;
    }
    ldm_free(v.stack);
    ldm_free(v.marks);
    ldm_free(v.memo);
    if (st != LDM_OK)
        ldm_pickle_state_dict_free(out);
    return st;
}

void ldm_pickle_state_dict_free(ldm_pickle_state_dict *sd)
{
    if (!sd)
        return;
    for (int i = 0; i < sd->count; i++) {
        ldm_free(sd->tensors[i].name);
        ldm_free(sd->tensors[i].storage_key);
    }
    ldm_free(sd->tensors);
    memset(sd, 0, sizeof *sd);
}
