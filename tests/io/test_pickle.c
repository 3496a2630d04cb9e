/* Unit tests of io/pickle.c on pickles assembled byte by byte here, in the
 * shape torch.save writes them (protocol 2: GLOBAL, BINPUT, BINPERSID, …) and
 * in shapes it never writes (forbidden globals, forged memo indices, broken
 * geometry, truncation at every byte). */
#include "core/alloc.h"
#include "core/status.h"
#include "harness.h"
#include "io/pickle.h"

#include <stdint.h>

/* ---- a tiny pickle writer ---------------------------------------------- */

typedef struct pk {
    unsigned char b[8192];
    size_t n;
} pk;

static void raw(pk *p, const void *s, size_t n)
{
    if (p->n + n > sizeof p->b) {
        fprintf(stderr, "test pickle too long\n");
        return;
    }
    memcpy(p->b + p->n, s, n);
    p->n += n;
}

static void op(pk *p, unsigned char c) { raw(p, &c, 1); }

static void u32(pk *p, uint32_t x)
{
    unsigned char b[4] = { x & 0xff, (x >> 8) & 0xff, (x >> 16) & 0xff, x >> 24 };
    raw(p, b, 4);
}

static void str(pk *p, const char *s)
{
    op(p, 'X');
    u32(p, (uint32_t)strlen(s));
    raw(p, s, strlen(s));
}

static void global(pk *p, const char *mod, const char *name)
{
    op(p, 'c');
    raw(p, mod, strlen(mod));
    op(p, '\n');
    raw(p, name, strlen(name));
    op(p, '\n');
}

/* An int as torch's pickler writes it: BININT1, BININT2, BININT or LONG1. */
static void num(pk *p, int64_t v)
{
    if (v >= 0 && v < 256) {
        op(p, 'K');
        op(p, (unsigned char)v);
    } else if (v >= 0 && v < 65536) {
        op(p, 'M');
        op(p, v & 0xff);
        op(p, (unsigned char)(v >> 8));
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        op(p, 'J');
        u32(p, (uint32_t)v);
    } else {
        op(p, 0x8a);
        op(p, 8);
        for (int i = 0; i < 8; i++)
            op(p, (unsigned char)((uint64_t)v >> (8 * i)));
    }
}

static void tuple_of(pk *p, const int64_t *v, int n)
{
    op(p, '(');
    for (int i = 0; i < n; i++)
        num(p, v[i]);
    op(p, 't');
}

static void begin_od(pk *p)
{
    op(p, 0x80);
    op(p, 2);
    global(p, "collections", "OrderedDict");
    op(p, ')');
    op(p, 'R');
}

/* ('storage', torch.<cls>, skey, 'cpu', numel) BINPERSID */
static void pid(pk *p, const char *cls, const char *skey, int64_t numel)
{
    op(p, '(');
    str(p, "storage");
    global(p, "torch", cls);
    str(p, skey);
    str(p, "cpu");
    num(p, numel);
    op(p, 't');
    op(p, 'Q');
}

/* _rebuild_tensor_v2, MARK, storage, offset, shape, stride, False,
 * OrderedDict(): the argument tuple is left open for a caller to close. */
static void tensor_open(pk *p, const char *cls, const char *skey, int64_t numel, int64_t offset,
                        const int64_t *shape, const int64_t *stride, int ndim)
{
    global(p, "torch._utils", "_rebuild_tensor_v2");
    op(p, '(');
    pid(p, cls, skey, numel);
    num(p, offset);
    tuple_of(p, shape, ndim);
    tuple_of(p, stride, ndim);
    op(p, 0x89);
    global(p, "collections", "OrderedDict");
    op(p, ')');
    op(p, 'R');
}

/* key → the tensor, as torch writes one state-dict item. */
static void tensor_item(pk *p, const char *key, const char *cls, const char *skey, int64_t numel,
                        int64_t offset, const int64_t *shape, const int64_t *stride, int ndim)
{
    str(p, key);
    tensor_open(p, cls, skey, numel, offset, shape, stride, ndim);
    op(p, 't');
    op(p, 'R');
}

static ldm_status load(const pk *p, ldm_pickle_state_dict *sd)
{
    return ldm_pickle_load_state_dict("t/data.pkl", p->b, p->n, sd);
}

/* Expect failure with LDM_EINPUT and `needle` in the message. */
static void expect_bad(const pk *p, const char *needle)
{
    ldm_pickle_state_dict sd;
    CHECK_FAILS_WITH(load(p, &sd), LDM_EINPUT, needle);
    CHECK(sd.count == 0 && sd.tensors == NULL);
}

/* A one-tensor state dict with the given geometry. */
static void one_tensor(pk *p, int64_t numel, int64_t offset, const int64_t *shape,
                       const int64_t *stride, int ndim)
{
    p->n = 0;
    begin_od(p);
    op(p, '(');
    tensor_item(p, "w", "FloatStorage", "0", numel, offset, shape, stride, ndim);
    op(p, 'u');
    op(p, '.');
}

/* ---- tests ------------------------------------------------------------- */

static void test_torch_layout(void)
{
    static pk p;
    p.n = 0;
    begin_od(&p);
    op(&p, 'q');
    op(&p, 1);
    op(&p, '(');
    tensor_item(&p, "a.weight", "FloatStorage", "0", 12, 2, (int64_t[]){ 2, 3 },
                (int64_t[]){ 1, 2 }, 2);
    tensor_item(&p, "b", "HalfStorage", "1", 1, 0, NULL, NULL, 0);
    tensor_item(&p, "c", "BFloat16Storage", "2", 0, 0, (int64_t[]){ 0, 5 },
                (int64_t[]){ 5, 1 }, 2);
    tensor_item(&p, "d", "LongStorage", "3", 3000000000LL, 2999999999LL, (int64_t[]){ 1 },
                (int64_t[]){ 1 }, 1);
    op(&p, 'u');
    /* state_dict._metadata: BUILD with {'_metadata': OrderedDict(...)} */
    op(&p, '}');
    str(&p, "_metadata");
    global(&p, "collections", "OrderedDict");
    op(&p, ')');
    op(&p, 'R');
    str(&p, "");
    op(&p, '}');
    str(&p, "version");
    num(&p, 1);
    op(&p, 's');
    op(&p, 's');
    op(&p, 's');
    op(&p, 'b');
    op(&p, '.');

    ldm_pickle_state_dict sd;
    ldm_error_clear();
    CHECK_MSG(load(&p, &sd) == LDM_OK, "%s", ldm_error_message());
    CHECK(sd.count == 4);
    if (sd.count == 4) {
        ldm_pickle_tensor *t = sd.tensors;
        CHECK(strcmp(t[0].name, "a.weight") == 0 && strcmp(t[0].storage_key, "0") == 0);
        CHECK(t[0].dtype == LDM_DTYPE_F32 && t[0].storage_numel == 12 && t[0].storage_offset == 2);
        CHECK(t[0].ndim == 2 && t[0].shape[0] == 2 && t[0].shape[1] == 3);
        CHECK(t[0].stride[0] == 1 && t[0].stride[1] == 2);
        CHECK(t[1].dtype == LDM_DTYPE_F16 && t[1].ndim == 0 && strcmp(t[1].storage_key, "1") == 0);
        CHECK(t[2].dtype == LDM_DTYPE_BF16 && t[2].shape[0] == 0 && t[2].storage_numel == 0);
        CHECK(t[3].dtype == LDM_DTYPE_I64 && t[3].storage_numel == 3000000000LL &&
              t[3].storage_offset == 2999999999LL);
    }
    ldm_pickle_state_dict_free(&sd);
    CHECK(sd.tensors == NULL && sd.count == 0);

    /* Every prefix is a truncated pickle: refused, never a crash. */
    int all_refused = 1;
    for (size_t n = 0; n < p.n; n++) {
        ldm_error_clear();
        if (ldm_pickle_load_state_dict("t", p.b, n, &sd) != LDM_EINPUT)
            all_refused = 0;
    }
    CHECK(all_refused);

    /* Out of memory at every allocation: a runtime error, nothing leaked
     * (the ASan build of the fuzz targets checks leaks). */
    int oom_ok = 1;
    for (long k = 1; k < 40; k++) {
        ldm_error_clear();
        ldm_alloc_fail_after(k);
        ldm_status st = load(&p, &sd);
        ldm_alloc_fail_after(0);
        if (st == LDM_OK)
            ldm_pickle_state_dict_free(&sd);
        else if (st != LDM_ERUNTIME)
            oom_ok = 0;
    }
    CHECK(oom_ok);
    ldm_error_clear();
}

/* torch.save(..., pickle_protocol=4): FRAME, SHORT_BINUNICODE, MEMOIZE,
 * STACK_GLOBAL, a plain dict at the top, and BINGET to reuse strings. */
static void test_protocol4(void)
{
    static pk p;
    p.n = 0;
    op(&p, 0x80);
    op(&p, 4);
    op(&p, 0x95);
    u32(&p, 0); /* frame length patched below */
    u32(&p, 0);
    size_t frame_start = p.n;
    op(&p, '}');
    op(&p, 0x94); /* memo 0: the dict */
    op(&p, '(');
    op(&p, 0x8c);
    op(&p, 1);
    op(&p, 'w');
    op(&p, 0x8c);
    op(&p, 12);
    raw(&p, "torch._utils", 12);
    op(&p, 0x94); /* memo 1 */
    op(&p, 0x8c);
    op(&p, 18);
    raw(&p, "_rebuild_tensor_v2", 18);
    op(&p, 0x93);
    op(&p, '(');
    op(&p, '(');
    op(&p, 0x8c);
    op(&p, 7);
    raw(&p, "storage", 7);
    op(&p, 0x8c);
    op(&p, 5);
    raw(&p, "torch", 5);
    op(&p, 0x94); /* memo 2 */
    op(&p, 0x8c);
    op(&p, 13);
    raw(&p, "DoubleStorage", 13);
    op(&p, 0x93);
    op(&p, 0x8c);
    op(&p, 2);
    raw(&p, "k7", 2);
    op(&p, 0x8c);
    op(&p, 3);
    raw(&p, "cpu", 3);
    num(&p, 4);
    op(&p, 't');
    op(&p, 'Q');
    num(&p, 1);
    num(&p, 3);
    op(&p, 0x85);
    num(&p, 1);
    op(&p, 0x85);
    op(&p, 0x89);
    op(&p, 'N'); /* hooks may be None */
    op(&p, 't');
    op(&p, 'R');
    op(&p, 'u');
    op(&p, '.');
    uint64_t flen = p.n - frame_start;
    for (int i = 0; i < 8; i++)
        p.b[frame_start - 8 + i] = (unsigned char)(flen >> (8 * i));

    ldm_pickle_state_dict sd;
    ldm_error_clear();
    CHECK_MSG(load(&p, &sd) == LDM_OK, "%s", ldm_error_message());
    CHECK(sd.count == 1 && sd.tensors[0].dtype == LDM_DTYPE_F64 &&
          strcmp(sd.tensors[0].storage_key, "k7") == 0 && sd.tensors[0].storage_offset == 1 &&
          sd.tensors[0].shape[0] == 3);
    ldm_pickle_state_dict_free(&sd);

    /* A frame longer than the input. */
    p.b[frame_start - 8] = 0xff;
    p.b[frame_start - 7] = 0xff;
    expect_bad(&p, "truncated pickle: frame");
}

/* _rebuild_parameter(tensor, requires_grad, hooks) and the _with_state form;
 * one tensor under two names (BINGET); every storage class. */
static void test_parameters_and_dtypes(void)
{
    static const struct {
        const char *cls;
        ldm_dtype dtype;
    } classes[] = {
        { "FloatStorage", LDM_DTYPE_F32 }, { "HalfStorage", LDM_DTYPE_F16 },
        { "BFloat16Storage", LDM_DTYPE_BF16 }, { "DoubleStorage", LDM_DTYPE_F64 },
        { "LongStorage", LDM_DTYPE_I64 }, { "IntStorage", LDM_DTYPE_I32 },
        { "ShortStorage", LDM_DTYPE_I16 }, { "CharStorage", LDM_DTYPE_I8 },
        { "ByteStorage", LDM_DTYPE_U8 }, { "BoolStorage", LDM_DTYPE_BOOL },
    };
    static pk p;
    ldm_pickle_state_dict sd;
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        p.n = 0;
        begin_od(&p);
        op(&p, '(');
        tensor_item(&p, "x", classes[i].cls, "0", 2, 0, (int64_t[]){ 2 }, (int64_t[]){ 1 }, 1);
        op(&p, 'u');
        op(&p, '.');
        CHECK(load(&p, &sd) == LDM_OK && sd.count == 1 && sd.tensors[0].dtype == classes[i].dtype);
        ldm_pickle_state_dict_free(&sd);
    }

    p.n = 0;
    begin_od(&p);
    op(&p, '(');
    str(&p, "p");
    global(&p, "torch._utils", "_rebuild_parameter");
    tensor_open(&p, "FloatStorage", "0", 4, 0, (int64_t[]){ 4 }, (int64_t[]){ 1 }, 1);
    op(&p, 't');
    op(&p, 'R');
    op(&p, 'q');
    op(&p, 9); /* memo 9: the tensor */
    op(&p, 0x88);
    op(&p, '}');
    op(&p, 0x87);
    op(&p, 'R');
    str(&p, "q");
    global(&p, "torch._utils", "_rebuild_parameter_with_state");
    op(&p, '(');
    op(&p, 'h');
    op(&p, 9);
    op(&p, 0x88);
    op(&p, '}');
    op(&p, '}');
    str(&p, "tag");
    str(&p, "python state");
    op(&p, 's');
    op(&p, 't');
    op(&p, 'R');
    op(&p, 'u');
    op(&p, '.');
    ldm_error_clear();
    CHECK_MSG(load(&p, &sd) == LDM_OK, "%s", ldm_error_message());
    CHECK(sd.count == 2 && strcmp(sd.tensors[0].name, "p") == 0 &&
          strcmp(sd.tensors[1].name, "q") == 0 && sd.tensors[1].shape[0] == 4);
    ldm_pickle_state_dict_free(&sd);
}

static void test_forbidden(void)
{
    static pk p;
    /* GLOBAL os.system + REDUCE: refused when the global is read. */
    p.n = 0;
    op(&p, 0x80);
    op(&p, 2);
    global(&p, "os", "system");
    str(&p, "echo pwned");
    op(&p, 0x85);
    op(&p, 'R');
    op(&p, '.');
    expect_bad(&p, "t/data.pkl: unsupported pickle global 'os.system' at byte 2");

    /* STACK_GLOBAL builtins.eval */
    p.n = 0;
    op(&p, 0x80);
    op(&p, 4);
    str(&p, "builtins");
    str(&p, "eval");
    op(&p, 0x93);
    op(&p, '.');
    expect_bad(&p, "unsupported pickle global 'builtins.eval'");

    /* A storage class we have no dtype for. */
    p.n = 0;
    begin_od(&p);
    op(&p, '(');
    tensor_item(&p, "z", "ComplexFloatStorage", "0", 2, 0, (int64_t[]){ 2 }, (int64_t[]){ 1 }, 1);
    op(&p, 'u');
    op(&p, '.');
    expect_bad(&p, "unsupported pickle global 'torch.ComplexFloatStorage'");

    /* Control bytes in a global's name are not echoed raw. */
    p.n = 0;
    op(&p, 'c');
    raw(&p, "os\033[2J\nx\n", 10);
    expect_bad(&p, "unsupported pickle global 'os?[2J.x'");

    /* A GLOBAL line without a newline. */
    p.n = 0;
    op(&p, 'c');
    for (int i = 0; i < 300; i++)
        op(&p, 'a');
    expect_bad(&p, "GLOBAL name not terminated");

    /* Calling a storage class, or OrderedDict with arguments. */
    p.n = 0;
    global(&p, "torch", "FloatStorage");
    op(&p, ')');
    op(&p, 'R');
    op(&p, '.');
    expect_bad(&p, "pickle global 'torch.FloatStorage' cannot be called");
    p.n = 0;
    global(&p, "collections", "OrderedDict");
    num(&p, 1);
    op(&p, 0x85);
    op(&p, 'R');
    op(&p, '.');
    expect_bad(&p, "OrderedDict called with arguments");

    /* Opcodes torch never writes. */
    p.n = 0;
    op(&p, 0x80);
    op(&p, 2);
    op(&p, 'i');
    expect_bad(&p, "unsupported opcode 0x69 at byte 2");
    p.n = 0;
    op(&p, 0x81); /* NEWOBJ */
    expect_bad(&p, "unsupported opcode 0x81 at byte 0");
    p.n = 0;
    op(&p, 0x80);
    op(&p, 9);
    expect_bad(&p, "unsupported pickle protocol 9");

    /* BUILD on something other than a dict (would be __setstate__). */
    p.n = 0;
    op(&p, ']');
    op(&p, '}');
    op(&p, 'b');
    op(&p, '.');
    expect_bad(&p, "BUILD of a list");

    /* _rebuild_tensor_v2 with conj/neg metadata. */
    p.n = 0;
    begin_od(&p);
    op(&p, '(');
    str(&p, "w");
    tensor_open(&p, "FloatStorage", "0", 2, 0, (int64_t[]){ 2 }, (int64_t[]){ 1 }, 1);
    op(&p, '}');
    str(&p, "neg");
    op(&p, 0x88);
    op(&p, 's');
    op(&p, 't');
    op(&p, 'R');
    op(&p, 'u');
    op(&p, '.');
    expect_bad(&p, "metadata (conj/neg bits) is not supported");
}

static void test_structure(void)
{
    static pk p;
    /* Stack underflow, missing mark, unset memo, forged memo index. */
    p.n = 0;
    op(&p, 'R');
    expect_bad(&p, "pickle stack underflow at byte 0");
    p.n = 0;
    op(&p, 't');
    expect_bad(&p, "MARK missing");
    p.n = 0;
    op(&p, 'h');
    op(&p, 3);
    expect_bad(&p, "memo index 3 was never stored");
    p.n = 0;
    op(&p, 'N');
    op(&p, 'r');
    u32(&p, 0xfffffff0u);
    expect_bad(&p, "memo index 4294967280 out of range");
    /* Values above a mark cannot be popped by REDUCE. */
    p.n = 0;
    global(&p, "collections", "OrderedDict");
    op(&p, ')');
    op(&p, '(');
    op(&p, 'R');
    expect_bad(&p, "pickle stack underflow");
    /* Strings: longer than the input, longer than the cap, with a NUL. */
    p.n = 0;
    op(&p, 'X');
    u32(&p, 100);
    raw(&p, "abc", 3);
    expect_bad(&p, "truncated pickle");
    p.n = 0;
    op(&p, 'X');
    u32(&p, 0xffffffffu);
    expect_bad(&p, "longer than");
    p.n = 0;
    op(&p, 'X');
    u32(&p, 3);
    raw(&p, "a\0b", 3);
    expect_bad(&p, "NUL byte");
    /* LONG1 wider than int64. */
    p.n = 0;
    op(&p, 0x8a);
    op(&p, 9);
    expect_bad(&p, "integer of 9 bytes is too large");
    /* No STOP; an empty input. */
    p.n = 0;
    op(&p, 'N');
    expect_bad(&p, "no STOP opcode");
    p.n = 0;
    expect_bad(&p, "no STOP opcode");
    /* Not a dict at the top; a non-string key; a non-tensor value. */
    p.n = 0;
    num(&p, 5);
    op(&p, '.');
    expect_bad(&p, "the pickle holds a int, not a state dict");
    p.n = 0;
    op(&p, '}');
    num(&p, 1);
    num(&p, 2);
    op(&p, 's');
    op(&p, '.');
    expect_bad(&p, "state dict key 0 is a int");
    p.n = 0;
    op(&p, '}');
    str(&p, "epoch");
    num(&p, 3);
    op(&p, 's');
    op(&p, '.');
    expect_bad(&p, "value of 'epoch' is a int, not a tensor");
    /* A list that contains itself, stored in the dict: no recursion. */
    p.n = 0;
    op(&p, '}');
    str(&p, "loop");
    op(&p, ']');
    op(&p, 'q');
    op(&p, 0);
    op(&p, 'h');
    op(&p, 0);
    op(&p, 'a');
    op(&p, 's');
    op(&p, '.');
    expect_bad(&p, "value of 'loop' is a list");
    /* SETITEMS on a list, APPEND on a dict, odd SETITEMS. */
    p.n = 0;
    op(&p, ']');
    op(&p, '(');
    num(&p, 1);
    num(&p, 2);
    op(&p, 'u');
    expect_bad(&p, "SETITEM on a list");
    p.n = 0;
    op(&p, '}');
    num(&p, 1);
    op(&p, 'a');
    expect_bad(&p, "APPEND on a dict");
    p.n = 0;
    op(&p, '}');
    op(&p, '(');
    num(&p, 1);
    op(&p, 'u');
    expect_bad(&p, "odd number");
    /* A persistent id that is not a storage. */
    p.n = 0;
    str(&p, "x");
    op(&p, 'Q');
    expect_bad(&p, "persistent id is not");
    /* Many marks and values: capped by input size, no crash. */
    static pk deep;
    deep.n = 0;
    for (int i = 0; i < 4000; i++)
        op(&deep, '(');
    for (int i = 0; i < 4000; i++)
        op(&deep, 'N');
    op(&deep, '.');
    expect_bad(&deep, "the pickle holds a None");
    /* Duplicate names. */
    p.n = 0;
    begin_od(&p);
    op(&p, '(');
    tensor_item(&p, "w", "FloatStorage", "0", 2, 0, (int64_t[]){ 2 }, (int64_t[]){ 1 }, 1);
    tensor_item(&p, "w", "FloatStorage", "1", 2, 0, (int64_t[]){ 2 }, (int64_t[]){ 1 }, 1);
    op(&p, 'u');
    op(&p, '.');
    expect_bad(&p, "tensor name 'w' appears twice");
    /* The same string object as two keys (BINGET). */
    p.n = 0;
    begin_od(&p);
    op(&p, '(');
    tensor_item(&p, "w", "FloatStorage", "0", 2, 0, (int64_t[]){ 2 }, (int64_t[]){ 1 }, 1);
    op(&p, 'q');
    op(&p, 1); /* memo 1: the tensor */
    op(&p, 'u');
    op(&p, '(');
    str(&p, "v");
    op(&p, 'q');
    op(&p, 2); /* memo 2: the key */
    op(&p, 'h');
    op(&p, 1);
    op(&p, 'h');
    op(&p, 2);
    op(&p, 'h');
    op(&p, 1);
    op(&p, 'u');
    op(&p, '.');
    expect_bad(&p, "tensor name 'v' appears twice");
    /* One tensor under two names is fine (tied weights). */
    p.n -= 6;
    str(&p, "v2");
    op(&p, 'h');
    op(&p, 1);
    op(&p, 'u');
    op(&p, '.');
    ldm_pickle_state_dict sd;
    ldm_error_clear();
    CHECK_MSG(load(&p, &sd) == LDM_OK && sd.count == 3, "%s", ldm_error_message());
    ldm_pickle_state_dict_free(&sd);
    /* An over-long storage key. */
    p.n = 0;
    begin_od(&p);
    op(&p, '(');
    char key[300];
    memset(key, '7', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    tensor_item(&p, "w", "FloatStorage", key, 2, 0, (int64_t[]){ 2 }, (int64_t[]){ 1 }, 1);
    op(&p, 'u');
    op(&p, '.');
    expect_bad(&p, "storage key longer than 256 bytes");
    /* Keys and names with control bytes or a slash. */
    p.n = 0;
    begin_od(&p);
    op(&p, '(');
    tensor_item(&p, "w", "FloatStorage", "../0", 2, 0, (int64_t[]){ 2 }, (int64_t[]){ 1 }, 1);
    op(&p, 'u');
    op(&p, '.');
    expect_bad(&p, "storage key with a '/'");
    p.n = 0;
    begin_od(&p);
    op(&p, '(');
    tensor_item(&p, "w\033[2J", "FloatStorage", "0", 2, 0, (int64_t[]){ 2 }, (int64_t[]){ 1 }, 1);
    op(&p, 'u');
    op(&p, '.');
    expect_bad(&p, "tensor name 'w?[2J' contains control bytes");
}

static void test_geometry(void)
{
    static pk p;
    ldm_pickle_state_dict sd;
    /* Exactly fits: offset 2 + (2-1)*3 + (3-1)*1 = 7 < 8. */
    one_tensor(&p, 8, 2, (int64_t[]){ 2, 3 }, (int64_t[]){ 3, 1 }, 2);
    CHECK(load(&p, &sd) == LDM_OK && sd.count == 1);
    ldm_pickle_state_dict_free(&sd);
    one_tensor(&p, 7, 2, (int64_t[]){ 2, 3 }, (int64_t[]){ 3, 1 }, 2);
    expect_bad(&p, "t/data.pkl: tensor 'w' reaches element 7 but its storage '0' has 7 elements");
    one_tensor(&p, 12, 100, (int64_t[]){ 2 }, (int64_t[]){ 1 }, 1);
    expect_bad(&p, "tensor 'w' reaches element 101");
    /* A scalar: one element at the offset. */
    one_tensor(&p, 3, 2, NULL, NULL, 0);
    CHECK(load(&p, &sd) == LDM_OK);
    ldm_pickle_state_dict_free(&sd);
    one_tensor(&p, 3, 3, NULL, NULL, 0);
    expect_bad(&p, "reaches element 3");
    /* Empty tensors: the offset may equal the storage size, not exceed it. */
    one_tensor(&p, 4, 4, (int64_t[]){ 0, 3 }, (int64_t[]){ 3, 1 }, 2);
    CHECK(load(&p, &sd) == LDM_OK);
    ldm_pickle_state_dict_free(&sd);
    one_tensor(&p, 4, 5, (int64_t[]){ 0, 3 }, (int64_t[]){ 3, 1 }, 2);
    expect_bad(&p, "reaches element 5");
    /* Negative numbers. */
    one_tensor(&p, 4, -1, (int64_t[]){ 2 }, (int64_t[]){ 1 }, 1);
    expect_bad(&p, "tensor 'w' has negative storage offset -1");
    one_tensor(&p, 4, 0, (int64_t[]){ -2 }, (int64_t[]){ 1 }, 1);
    expect_bad(&p, "negative size or stride in dim 0");
    one_tensor(&p, 4, 0, (int64_t[]){ 2, 2 }, (int64_t[]){ 1, -1 }, 2);
    expect_bad(&p, "negative size or stride in dim 1");
    one_tensor(&p, -4, 0, (int64_t[]){ 2 }, (int64_t[]){ 1 }, 1);
    expect_bad(&p, "storage '0' has negative size -4");
    /* Overflow of the element count, of the extent, of the storage bytes. */
    one_tensor(&p, 4, 0, (int64_t[]){ 1LL << 62, 4 }, (int64_t[]){ 0, 0 }, 2);
    expect_bad(&p, "tensor 'w': element count overflows (dim 1");
    one_tensor(&p, 4, 0, (int64_t[]){ 3 }, (int64_t[]){ INT64_MAX / 2 + 1 }, 1);
    expect_bad(&p, "tensor 'w': extent overflows");
    one_tensor(&p, INT64_MAX, INT64_MAX - 1, (int64_t[]){ 1 }, (int64_t[]){ 1 }, 1);
    expect_bad(&p, "too large");
    /* Nine dimensions; sizes and strides of different lengths. */
    int64_t nine[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    one_tensor(&p, 4, 0, nine, nine, 9);
    expect_bad(&p, "tensor 'w' has more than 8 dimensions");
    p.n = 0;
    begin_od(&p);
    op(&p, '(');
    /* strides (None, None) */
    str(&p, "w");
    global(&p, "torch._utils", "_rebuild_tensor_v2");
    op(&p, '(');
    pid(&p, "FloatStorage", "0", 4);
    num(&p, 0);
    tuple_of(&p, (int64_t[]){ 2, 2 }, 2);
    op(&p, 'N');
    op(&p, 'N');
    op(&p, 0x86);
    op(&p, 0x89);
    op(&p, '}');
    op(&p, 't');
    op(&p, 'R');
    op(&p, 'u');
    op(&p, '.');
    expect_bad(&p, "arguments are not (storage, int, sizes, strides");
}

int main(void)
{
    test_torch_layout();
    test_protocol4();
    test_parameters_and_dtypes();
    test_forbidden();
    test_structure();
    test_geometry();
    return ldm_test_finish();
}
