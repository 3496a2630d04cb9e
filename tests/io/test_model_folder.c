/* test_model_folder.c — the diffusers pipeline folder: the two fixture
 * folders saved by LDMTextToImagePipeline.save_pretrained (safetensors and
 * .bin), then broken copies built in LDM_TEST_TMP, each failing with
 * LDM_EINPUT and a message naming the file or folder and the component.
 * Single process. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/file.h"
#include "harness.h"
#include "io/model_folder.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t a = s ? strlen(s) : 0, b = strlen(suffix);
    return s && a >= b && strcmp(s + a - b, suffix) == 0;
}

static void test_fixture(const char *dir, int bin)
{
    ldm_model_folder *mf = NULL;
    ldm_status st = ldm_model_folder_open(dir, &mf);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st != LDM_OK)
        return;
    CHECK(strcmp(mf->class_name, "LDMTextToImagePipeline") == 0);
    CHECK(strcmp(mf->diffusers_version, "0.27.2") == 0);
    CHECK(mf->count == 5);
    const ldm_component *c;

    CHECK(ldm_model_folder_component(mf, "bert", &c) == LDM_OK);
    CHECK(strcmp(c->library, "latent_diffusion") == 0 && strcmp(c->class_name, "LDMBertModel") == 0);
    CHECK(c->kind == LDM_COMPONENT_MODEL && ends_with(c->dir, "/bert"));
    CHECK(ends_with(c->config_path, "bert/config.json"));
    CHECK(ends_with(c->weights_path, bin ? "bert/pytorch_model.bin" : "bert/model.safetensors"));
    long long d_model = 0;
    CHECK(ldm_config_int_required(&c->config, "d_model", &d_model) == LDM_OK && d_model == 32);

    CHECK(ldm_model_folder_component(mf, "unet", &c) == LDM_OK);
    CHECK(strcmp(c->library, "diffusers") == 0 &&
          strcmp(c->class_name, "UNet2DConditionModel") == 0);
    CHECK(ends_with(c->weights_path, bin ? "unet/diffusion_pytorch_model.bin"
                                         : "unet/diffusion_pytorch_model.safetensors"));
    CHECK(c->vocab_path == NULL);

    CHECK(ldm_model_folder_component(mf, "vqvae", &c) == LDM_OK);
    CHECK(strcmp(c->class_name, "AutoencoderKL") == 0 && c->kind == LDM_COMPONENT_MODEL);

    CHECK(ldm_model_folder_component(mf, "scheduler", &c) == LDM_OK);
    CHECK(c->kind == LDM_COMPONENT_SCHEDULER && strcmp(c->class_name, "DDIMScheduler") == 0);
    CHECK(ends_with(c->config_path, "scheduler/scheduler_config.json") && !c->weights_path);
    double beta_start = 0;
    CHECK(ldm_config_double(&c->config, "beta_start", 0, &beta_start) == LDM_OK &&
          beta_start == 0.00085);

    CHECK(ldm_model_folder_component(mf, "tokenizer", &c) == LDM_OK);
    CHECK(c->kind == LDM_COMPONENT_TOKENIZER && strcmp(c->library, "transformers") == 0);
    CHECK(ends_with(c->vocab_path, "tokenizer/vocab.txt"));
    CHECK(ends_with(c->config_path, "tokenizer/tokenizer_config.json"));

    CHECK_FAILS_WITH(ldm_model_folder_component(mf, "safety_checker", &c), LDM_EINPUT,
                     "model_index.json: no component \"safety_checker\"");
    ldm_weights *w = NULL;
    CHECK_FAILS_WITH(ldm_model_folder_open_weights(mf, "scheduler", &w), LDM_EINPUT,
                     "component \"scheduler\" (DDIMScheduler) has no weights");
    if (!bin) {
        st = ldm_model_folder_open_weights(mf, "unet", &w);
        CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
        CHECK(ldm_weights_count(w) == 208); /* len(UNet2DConditionModel(tiny).state_dict()) */
        ldm_weights_close(&w);
    }
    ldm_model_folder_close(&mf);
    CHECK(mf == NULL);
    ldm_model_folder_close(&mf);
}

/* ---- broken folders ---- */

static char path_buf[4096];

static const char *at(const char *root, const char *rel)
{
    int n = snprintf(path_buf, sizeof path_buf, "%s/%s", root, rel);
    if (n < 0 || (size_t)n >= sizeof path_buf)
        abort();
    return path_buf;
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(1);
    }
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

static void copy_fixture(const char *root, const char *rel)
{
    char src[4096];
    snprintf(src, sizeof src, "%s/tiny-ldm/%s", LDM_FIXTURES, rel);
    char *text = NULL;
    size_t len = 0;
    if (ldm_read_file(src, &text, &len) != LDM_OK) {
        fprintf(stderr, "%s\n", ldm_error_message());
        exit(1);
    }
    write_text(at(root, rel), text);
    ldm_free(text);
}

/* A complete folder under LDM_TEST_TMP/<name>: the fixture's JSON files and
 * vocabulary, and empty weight files (opening the folder does not read
 * them). Files a previous run left are overwritten or removed. */
static const char *good_folder(const char *name)
{
    static char root[1024];
    int n = snprintf(root, sizeof root, "%s/%s", LDM_TEST_TMP, name);
    if (n < 0 || (size_t)n >= sizeof root)
        abort();
    make_dir(root);
    static const char *dirs[] = { "bert", "unet", "vqvae", "scheduler", "tokenizer" };
    for (int i = 0; i < 5; i++)
        make_dir(at(root, dirs[i]));
    static const char *files[] = { "model_index.json", "bert/config.json", "unet/config.json",
                                   "vqvae/config.json", "scheduler/scheduler_config.json",
                                   "tokenizer/vocab.txt", "tokenizer/tokenizer_config.json" };
    for (int i = 0; i < 7; i++)
        copy_fixture(root, files[i]);
    write_text(at(root, "bert/model.safetensors"), "");
    write_text(at(root, "unet/diffusion_pytorch_model.safetensors"), "");
    write_text(at(root, "vqvae/diffusion_pytorch_model.bin"), "");
    return root;
}

static void expect_fails(const char *root, const char *who, const char *needle)
{
    ldm_model_folder *mf = NULL;
    ldm_error_clear();
    ldm_status st = ldm_model_folder_open(root, &mf);
    const char *msg = ldm_error_message();
    CHECK_MSG(st == LDM_EINPUT && mf == NULL, "%s: status %d (%s)", root, (int)st, msg);
    CHECK_MSG(strstr(msg, who) != NULL, "message \"%s\" does not name \"%s\"", msg, who);
    CHECK_MSG(strstr(msg, needle) != NULL, "message \"%s\" lacks \"%s\"", msg, needle);
    ldm_model_folder_close(&mf);
    ldm_error_clear();
}

static const char *INDEX_HEAD = "{\"_class_name\": \"LDMTextToImagePipeline\", ";

static void set_index(const char *root, const char *components)
{
    char text[2048];
    snprintf(text, sizeof text, "%s%s}", INDEX_HEAD, components);
    write_text(at(root, "model_index.json"), text);
}

static void test_broken(void)
{
    const char *root = good_folder("good");
    ldm_model_folder *mf = NULL;
    CHECK_MSG(ldm_model_folder_open(root, &mf) == LDM_OK, "%s", ldm_error_message());
    const ldm_component *c = NULL;
    if (mf)
        CHECK(ldm_model_folder_component(mf, "vqvae", &c) == LDM_OK &&
              ends_with(c->weights_path, "vqvae/diffusion_pytorch_model.bin"));
    ldm_model_folder_close(&mf);

    expect_fails(at(LDM_TEST_TMP, "no-such-folder"), "no-such-folder", "model folder not found");

    root = good_folder("no-index");
    unlink(at(root, "model_index.json"));
    expect_fails(root, "no-index/model_index.json", "missing");

    root = good_folder("index-not-json");
    write_text(at(root, "model_index.json"), "{\"unet\": [\"diffusers\", ");
    expect_fails(root, "index-not-json/model_index.json", "invalid JSON");

    root = good_folder("index-array");
    write_text(at(root, "model_index.json"), "[\"unet\"]");
    expect_fails(root, "index-array/model_index.json", "top level must be a JSON object");

    root = good_folder("index-empty");
    write_text(at(root, "model_index.json"), "{\"_class_name\": \"X\"}");
    expect_fails(root, "index-empty/model_index.json", "lists no components");

    root = good_folder("index-bad-entry");
    set_index(root, "\"unet\": [\"diffusers\"]");
    expect_fails(root, "index-bad-entry/model_index.json",
                 "component \"unet\" must be [library, class name]");
    set_index(root, "\"unet\": [\"diffusers\", 3]");
    expect_fails(root, "model_index.json", "component \"unet\" must be [library, class name]");
    set_index(root, "\"..\": [\"diffusers\", \"UNet2DConditionModel\"]");
    expect_fails(root, "model_index.json", "component name \"..\" is not a folder name");
    set_index(root, "\"unet\": [\"diffusers\", \"UNet2DConditionModel\"], "
                    "\"unet\": [\"diffusers\", \"UNet2DConditionModel\"]");
    expect_fails(root, "model_index.json", "component \"unet\" appears twice");
    /* [null, null] is an absent component; non-list values are attributes */
    set_index(root, "\"unet\": [\"diffusers\", \"UNet2DConditionModel\"], "
                    "\"safety_checker\": [null, null], \"requires_safety_checker\": true");
    CHECK_MSG(ldm_model_folder_open(root, &mf) == LDM_OK, "%s", ldm_error_message());
    CHECK(mf && mf->count == 1);
    ldm_model_folder_close(&mf);

    root = good_folder("no-component-dir");
    set_index(root, "\"unet\": [\"diffusers\", \"UNet2DConditionModel\"], "
                    "\"vqvae2\": [\"diffusers\", \"AutoencoderKL\"]");
    expect_fails(root, "no-component-dir/vqvae2",
                 "missing folder of component \"vqvae2\" (AutoencoderKL)");

    root = good_folder("no-config");
    unlink(at(root, "unet/config.json"));
    expect_fails(root, "no-config/unet/config.json",
                 "missing config of component \"unet\" (UNet2DConditionModel)");

    root = good_folder("bad-config");
    write_text(at(root, "unet/config.json"), "{\"sample_size\": 8,\n \"in_channels\": }");
    expect_fails(root, "bad-config/unet/config.json", "invalid JSON at line 2");

    root = good_folder("config-array");
    write_text(at(root, "bert/config.json"), "[]");
    expect_fails(root, "config-array/bert/config.json", "top level must be a JSON object");

    root = good_folder("no-scheduler-config");
    unlink(at(root, "scheduler/scheduler_config.json"));
    expect_fails(root, "no-scheduler-config/scheduler/scheduler_config.json",
                 "missing scheduler config of component \"scheduler\" (DDIMScheduler)");

    root = good_folder("no-vocab");
    unlink(at(root, "tokenizer/vocab.txt"));
    expect_fails(root, "no-vocab/tokenizer/vocab.txt",
                 "missing vocabulary of component \"tokenizer\" (BertTokenizer)");

    /* tokenizer_config.json is optional */
    root = good_folder("no-tokenizer-config");
    unlink(at(root, "tokenizer/tokenizer_config.json"));
    CHECK_MSG(ldm_model_folder_open(root, &mf) == LDM_OK, "%s", ldm_error_message());
    if (mf && ldm_model_folder_component(mf, "tokenizer", &c) == LDM_OK)
        CHECK(c->config_path == NULL && c->config.root == NULL);
    ldm_model_folder_close(&mf);

    root = good_folder("no-weights");
    unlink(at(root, "unet/diffusion_pytorch_model.safetensors"));
    expect_fails(root, "no-weights/unet", "component \"unet\" (UNet2DConditionModel): ");
    expect_fails(root, "no-weights/unet", "no weights file");
}

/* Every allocation may fail: LDM_ERUNTIME, nothing leaks (ASan build). */
static void test_alloc_failures(void)
{
    int ok = 0;
    for (long k = 1; k < 2000 && !ok; k++) {
        ldm_model_folder *mf = NULL;
        ldm_error_clear();
        ldm_alloc_fail_after(k);
        ldm_status st = ldm_model_folder_open(LDM_FIXTURES "/tiny-ldm", &mf);
        ldm_alloc_fail_after(0);
        if (st == LDM_OK)
            ok = 1;
        else
            CHECK_MSG(st == LDM_ERUNTIME && mf == NULL, "alloc %ld: status %d (%s)", k, (int)st,
                      ldm_error_message());
        ldm_model_folder_close(&mf);
    }
    CHECK(ok);
    ldm_error_clear();
}

int main(void)
{
    make_dir(LDM_TEST_TMP);
    test_fixture(LDM_FIXTURES "/tiny-ldm", 0);
    test_fixture(LDM_FIXTURES "/tiny-ldm-bin", 1);
    test_broken();
    test_alloc_failures();
    return ldm_test_finish();
}
