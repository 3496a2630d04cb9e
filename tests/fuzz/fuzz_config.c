/* fuzz_config.c — config.json parsing and every typed getter on arbitrary
 * bytes. Each key of an accepted object is read with each getter (most fail
 * with a type error, which is fine); failures must always record a message. */
#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/status.h"
#include "io/config.h"

static void expect_message(ldm_status st)
{
    if (st != LDM_OK && ldm_error_message()[0] == '\0')
        abort();
    ldm_error_clear();
}

static void read_key(const ldm_config *c, const char *key)
{
    long long i;
    double d;
    int b, n;
    const char *s;
    long long list[16];
    const char *strs[16];
    double *arr = NULL;
    (void)ldm_config_has(c, key);
    expect_message(ldm_config_int(c, key, 7, &i));
    expect_message(ldm_config_int_required(c, key, &i));
    expect_message(ldm_config_double(c, key, 0.5, &d));
    expect_message(ldm_config_bool(c, key, 1, &b));
    expect_message(ldm_config_string(c, key, "x", &s));
    expect_message(ldm_config_string_required(c, key, &s));
    expect_message(ldm_config_int_list(c, key, 1, 4, list, 16, &n));
    if (n < 0 || n > 16)
        abort();
    expect_message(ldm_config_int_list(c, key, 0, 0, list, 2, &n));
    expect_message(ldm_config_string_list(c, key, strs, 16, &n));
    expect_message(ldm_config_double_array(c, key, &arr, &n));
    ldm_free(arr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ldm_config c;
    ldm_error_clear();
    ldm_status st = ldm_config_parse("fuzz.json", (const char *)data, size, &c);
    if (st != LDM_OK) {
        if (c.root != NULL || c.path != NULL || ldm_error_message()[0] == '\0')
            abort();
        ldm_error_clear();
        return 0;
    }
    const cJSON *it;
    int count = 0;
    cJSON_ArrayForEach(it, c.root)
    {
        if (count++ < 64)
            read_key(&c, it->string);
    }
    read_key(&c, "absent key");
    read_key(&c, "");
    ldm_config_free(&c);
    ldm_config_free(&c); /* twice is fine */
    return 0;
}
