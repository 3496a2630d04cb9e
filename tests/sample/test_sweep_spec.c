/* Sweep specs: the Cartesian product and its order, prompt files, and one
 * clear error naming the field for every bad spec (nothing allocated). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "sample/sweep_spec.h"

static ldm_status parse(const char *json, ldm_sweep_spec *s)
{
    return ldm_sweep_spec_parse("spec.json", LDM_TEST_TMP, json, strlen(json), s);
}

static void check_bad(const char *json, const char *needle)
{
    ldm_sweep_spec s;
    CHECK_FAILS_WITH(parse(json, &s), LDM_EINPUT, needle);
    CHECK(s.items == NULL && s.n_items == 0 && s.name == NULL);
}

static void test_product_order(void)
{
    ldm_sweep_spec s;
    const char *j = "{\"name\":\"t\",\"prompts\":[\"a\",\"b\"],\"seeds\":[5,6,7],"
                    "\"guidance_scales\":[1,3.5],\"steps\":4,\"etas\":[0,0.5],"
                    "\"sizes\":[[64,64],[32,48]],\"scheduler\":\"ddim\"}";
    CHECK(parse(j, &s) == LDM_OK);
    CHECK(s.n_items == 2 * 3 * 2 * 1 * 2 * 2);
    CHECK(strcmp(s.name, "t") == 0 && strcmp(s.scheduler, "ddim") == 0);
    CHECK(s.noise_seed == 67280421310721ULL && s.negative_prompt == NULL);
    /* index = ((((p·S + s)·G + g)·T + t)·E + e)·Z + z */
    for (int p = 0; p < 2; p++)
        for (int a = 0; a < 3; a++)
            for (int g = 0; g < 2; g++)
                for (int e = 0; e < 2; e++)
                    for (int z = 0; z < 2; z++) {
                        const ldm_sweep_item *it = &s.items[(((p * 3 + a) * 2 + g) * 2 + e) * 2 + z];
                        CHECK(strcmp(it->prompt, p ? "b" : "a") == 0 && it->prompt_index == p);
                        CHECK(it->seed == (uint64_t)(5 + a));
                        CHECK(it->guidance_scale == (g ? 3.5 : 1.0));
                        CHECK(it->steps == 4 && it->eta == (e ? 0.5 : 0.0));
                        CHECK(it->height == (z ? 32 : 64) && it->width == (z ? 48 : 64));
                    }
    ldm_sweep_spec_free(&s);
    /* Defaults: guidance 1, eta 0, model size. */
    CHECK(parse("{\"name\":\"d\",\"prompts\":\"x\",\"seeds\":1,\"steps\":[2,3],\"noise_seed\":9}", &s) == LDM_OK);
    CHECK(s.n_items == 2 && s.items[1].steps == 3 && s.items[0].guidance_scale == 1.0);
    CHECK(s.items[0].eta == 0.0 && s.items[0].height == 0 && s.noise_seed == 9);
    ldm_sweep_spec_free(&s);
}

static void test_prompt_file(void)
{
    mkdir(LDM_TEST_TMP, 0777);
    FILE *f = fopen(LDM_TEST_TMP "/prompts.txt", "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("a red circle\r\n\nblue square\n", f);
    fclose(f);
    ldm_sweep_spec s;
    CHECK(parse("{\"name\":\"f\",\"prompt_file\":\"prompts.txt\",\"seeds\":[0],\"steps\":2}", &s) == LDM_OK);
    CHECK(s.n_prompts == 2 && s.n_items == 2);
    CHECK(s.n_prompts == 2 && strcmp(s.prompts[0], "a red circle") == 0 &&
          strcmp(s.prompts[1], "blue square") == 0);
    ldm_sweep_spec_free(&s);
    f = fopen(LDM_TEST_TMP "/empty.txt", "w");
    if (f) {
        fputs("\n\n", f);
        fclose(f);
    }
    check_bad("{\"name\":\"f\",\"prompt_file\":\"empty.txt\",\"seeds\":0,\"steps\":2}", "\"prompt_file\"");
    check_bad("{\"name\":\"f\",\"prompt_file\":\"nope.txt\",\"seeds\":0,\"steps\":2}", "\"prompt_file\"");
    CHECK_FAILS_WITH(ldm_sweep_spec_load(LDM_TEST_TMP "/missing.json", &s), LDM_EINPUT, "missing.json");
}

static void test_bad_specs(void)
{
#define OK_REST "\"seeds\":[0],\"steps\":2"
    check_bad("[1,2]", "spec.json");
    check_bad("{\"name\":\"x\",", "spec.json");
    check_bad("{\"prompts\":[\"a\"]," OK_REST "}", "\"name\" is required");
    check_bad("{\"name\":3,\"prompts\":[\"a\"]," OK_REST "}", "\"name\" must be a non-empty string");
    check_bad("{\"name\":\"x\"," OK_REST "}", "\"prompts\" is required");
    check_bad("{\"name\":\"x\",\"prompts\":[]," OK_REST "}", "\"prompts\" must not be an empty list");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\",4]," OK_REST "}", "\"prompts\"[1] must be a string");
    check_bad("{\"name\":\"x\",\"prompts\":{}," OK_REST "}", "\"prompts\" must be a list of strings");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"],\"prompt_file\":\"p\"," OK_REST "}", "not both");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"],\"steps\":2}", "\"seeds\" is required");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"],\"seeds\":\"1\",\"steps\":2}", "\"seeds\" must be a number or a list");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"],\"seeds\":[],\"steps\":2}", "\"seeds\" must not be an empty list");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"],\"seeds\":[-1],\"steps\":2}", "\"seeds\"[0] must be an integer");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"],\"seeds\":[1.5],\"steps\":2}", "\"seeds\"[0] must be an integer");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"],\"seeds\":[0]}", "\"steps\" is required");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"],\"seeds\":[0],\"steps\":0}", "\"steps\"[0] must be an integer from 1 to 1000");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"],\"seeds\":[0],\"steps\":[2,\"3\"]}", "\"steps\"[1] must be a number");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"]," OK_REST ",\"guidance_scales\":[-1]}", "\"guidance_scales\"[0] must be from 0");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"]," OK_REST ",\"etas\":[1.5]}", "\"etas\"[0] must be from 0 to 1");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"]," OK_REST ",\"sizes\":[[64,60]]}", "\"sizes\"[0] width must be a multiple of 8");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"]," OK_REST ",\"sizes\":[[100,64]]}", "\"sizes\"[0] height must be a multiple of 8");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"]," OK_REST ",\"sizes\":[64,64]}", "\"sizes\"[0] must be a [height, width] pair");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"]," OK_REST ",\"sizes\":[]}", "\"sizes\" must not be an empty list");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"]," OK_REST ",\"scheduler\":\"euler\"}", "\"scheduler\" must be ddim, pndm or lms");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"]," OK_REST ",\"noise_seed\":[1]}", "\"noise_seed\" must be one integer");
    check_bad("{\"name\":\"x\",\"prompts\":[\"a\"]," OK_REST ",\"seed\":[1]}", "unknown field \"seed\"");
#undef OK_REST
}

/* The shipped examples parse. */
static void test_examples(void)
{
    const char *names[] = { "shapes-grid.json", "tiny-sweep.json" };
    for (int i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/../../jobs/%s", LDM_FIXTURES, names[i]);
        ldm_sweep_spec s;
        ldm_status st = ldm_sweep_spec_load(path, &s);
        CHECK_MSG(st == LDM_OK, "%s: %s", path, ldm_error_message());
        CHECK(s.n_items > 0);
        ldm_sweep_spec_free(&s);
    }
}

int main(void)
{
    test_product_order();
    test_prompt_file();
    test_bad_specs();
    test_examples();
    return ldm_test_finish();
}
