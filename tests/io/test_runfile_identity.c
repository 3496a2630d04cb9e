/* io/model_identity: SHA-256 against FIPS 180-2 vectors and coreutils'
 * sha256sum; the manifest of the tiny model folder line by line; what
 * changes the identity (a config byte, a weight file's size, another weight
 * format) and what does not (moving the folder). */
#include <stdlib.h>
#include <sys/stat.h>

#include "harness.h"
#include "io/model_identity.h"

/* coreutils' sha256sum of a file, the independent reference. */
static int sha256sum(const char *path, char hex[65])
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    int ok = fscanf(p, "%64s", hex) == 1;
    pclose(p);
    return ok && strlen(hex) == 64;
}

/* Every "file" line's hash and every "weights" line's size, checked. */
static void check_manifest(const char *dir, const ldm_model_identity *id)
{
    char line[1024], path[2048], hex[65], want[65];
    const char *p = id->manifest;
    int files = 0, weights = 0;
    CHECK(strncmp(p, "ldm-model-identity 1\n", 21) == 0);
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        p += len + (nl ? 1 : 0);
        char name[1024];
        long long size = -1;
        if (sscanf(line, "file %1000s sha256 %64s", name, hex) == 2) {
            snprintf(path, sizeof path, "%s/%s", dir, name);
            CHECK_MSG(sha256sum(path, want) && strcmp(hex, want) == 0, "%s", line);
            files++;
        } else if (sscanf(line, "weights %1000s %lld", name, &size) == 2) {
            struct stat sb;
            snprintf(path, sizeof path, "%s/%s", dir, name);
            CHECK_MSG(stat(path, &sb) == 0 && sb.st_size == size, "%s", line);
            weights++;
        }
    }
    /* model_index, 3 model configs, scheduler and tokenizer configs, vocab; 3 weights. */
    CHECK_MSG(files == 7 && weights == 3, "%d files, %d weights", files, weights);
    /* The identity is the manifest's hash. */
    snprintf(path, sizeof path, "%s/manifest.txt", LDM_TEST_TMP);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(id->manifest, f);
        fclose(f);
    }
    CHECK(sha256sum(path, want) && strcmp(id->digest, want) == 0);
}

static int run(const char *cmd)
{
    return system(cmd) == 0;
}

int main(void)
{
    char hex[65];
    mkdir(LDM_TEST_TMP, 0755);
    CHECK(ldm_sha256_hex("abc", 3, hex) == LDM_OK &&
          strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    CHECK(ldm_sha256_hex("", 0, hex) == LDM_OK &&
          strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(ldm_sha256_hex(two, strlen(two), hex) == LDM_OK &&
          strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);

    ldm_model_identity a, b, c;
    const char *tiny = LDM_FIXTURES "/tiny-ldm";
    CHECK(ldm_model_identity_compute(tiny, &a) == LDM_OK);
    check_manifest(tiny, &a);
    CHECK(strstr(a.manifest, "weights unet/diffusion_pytorch_model.safetensors ") != NULL);

    /* Another weight format of the same model: another identity. */
    CHECK(ldm_model_identity_compute(LDM_FIXTURES "/tiny-ldm-bin", &b) == LDM_OK);
    CHECK(strcmp(a.digest, b.digest) != 0);
    ldm_model_identity_free(&b);

    /* A copy elsewhere: the same identity. */
    char copy[512], cmd[4096];
    snprintf(copy, sizeof copy, "%s/copy", LDM_TEST_TMP);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && cp -r '%s'/. '%s'", copy, copy, tiny, copy);
    CHECK(run(cmd));
    CHECK(ldm_model_identity_compute(copy, &b) == LDM_OK && strcmp(a.digest, b.digest) == 0);
    ldm_model_identity_free(&b);

    /* One config byte: another identity. */
    snprintf(cmd, sizeof cmd, "printf ' ' >> '%s/unet/config.json'", copy);
    CHECK(run(cmd));
    CHECK(ldm_model_identity_compute(copy, &b) == LDM_OK && strcmp(a.digest, b.digest) != 0);
    /* A weight file one byte longer: another again. */
    snprintf(cmd, sizeof cmd, "printf ' ' >> '%s/vqvae/diffusion_pytorch_model.safetensors'", copy);
    CHECK(run(cmd));
    CHECK(ldm_model_identity_compute(copy, &c) == LDM_OK && strcmp(c.digest, b.digest) != 0 &&
          strcmp(c.digest, a.digest) != 0);
    ldm_model_identity_free(&b);
    ldm_model_identity_free(&c);

    /* Not a model folder: the folder's own error. */
    CHECK_FAILS_WITH(ldm_model_identity_compute(LDM_TEST_TMP "/nowhere", &b), LDM_EINPUT, "nowhere");
    CHECK(b.manifest == NULL);
    ldm_model_identity_free(&a);
    ldm_model_identity_free(NULL);
    return ldm_test_finish();
}
