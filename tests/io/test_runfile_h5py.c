/* The run file read without ldm: h5py (the recipe of docs/run-file.md) and
 * h5dump must see the items, progress, committed checkpoints and images the
 * C side wrote — while the writer still has the file open. Skipped (77) when no python3 with h5py is found (Debian:
 * python3-h5py); the h5dump part needs hdf5-tools. */
#include <mpi.h>
#include <stdlib.h>

#include "harness.h"
#include "test_runfile_common.h"

enum { N = 7 };

static const char *find_python(void)
{
    static const char *const candidates[] = { "/usr/bin/python3", "python3" };
    for (int k = 0; k < 2; k++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import h5py, numpy' >/dev/null 2>&1", candidates[k]);
        if (system(cmd) == 0)
            return candidates[k];
    }
    return NULL;
}

/* The reader, in Python: prints "ok" or what differs. Expected prompts come
 * as hex (UTF-8 bytes), patterns as in test_runfile_common.h. */
static const char *script =
    "import sys, h5py, numpy as np\n"
    "path, want_prompts = sys.argv[1], [bytes.fromhex(h).decode() for h in sys.argv[2:]]\n"
    "bad = []\n"
    "with h5py.File(path, 'r') as f:\n"
    "    a = f.attrs\n"
    "    if a['ldm_format'] != 'ldm-run' or a['ldm_format_version'] != 1: bad.append('format')\n"
    "    if not a['command_line'].startswith('ldm sweep'): bad.append('command_line')\n"
    "    prompts = list(f['items/prompt'].asstr()[:])\n"
    "    if prompts != want_prompts: bad.append('prompts %r' % prompts)\n"
    "    progress = f['status/progress'][:]\n"
    "    group, row = f['items/size_group'][:], f['items/group_index'][:]\n"
    "    for i in range(len(prompts)):\n"
    "        g, r, s = group[i], row[i], progress['slot'][i]\n"
    "        if progress['state'][i] == 2:\n"
    "            rgb = f[f'images/g{g}'][r]\n"
    "            k = np.arange(rgb.size)\n"
    "            if not np.array_equal(rgb.reshape(-1), ((i * 13 + k * 3) % 256).astype(np.uint8)):\n"
    "                bad.append('image %d' % i)\n"
    "        if s >= 0:\n"
    "            lat = f[f'checkpoint/g{g}/latents'][r, s]\n"
    "            step = f['checkpoint/slot_step'][i, s]\n"
    "            k = np.arange(lat.size)\n"
    "            f32 = np.float32\n"
    "            want = f32(i) * f32(1000) + f32(step) + (k % 97).astype(f32) * f32(0.001) - f32(0.5)\n"
    "            if progress['state'][i] == 1 and step != progress['step'][i]: bad.append('step %d' % i)\n"
    "            if not np.array_equal(lat.reshape(-1), want.astype(f32)): bad.append('latents %d' % i)\n"
    "print('ok' if not bad else ' '.join(bad))\n";

int main(int argc, char **argv)
{
    const char *python = find_python();
    if (!python) {
        fprintf(stderr, "skipped: no python3 with h5py and numpy (Debian: python3-h5py)\n");
        return 77;
    }
    setenv("OMPI_MCA_ess_singleton_isolated", "1", 1);
    setenv("OMPI_MCA_btl", "self", 1);
    setenv("OMPI_MCA_pml", "ob1", 1);
    MPI_Init(&argc, &argv);
    char dir[512], path[600], py[600];
    snprintf(dir, sizeof dir, "%s", LDM_TEST_TMP);
    t_mkdirs(dir);
    snprintf(path, sizeof path, "%s/run.h5", dir);
    snprintf(py, sizeof py, "%s/read.py", dir);

    /* Items 0-6: two checkpoints each, images for the even ones. */
    ldm_runfile_item items[N];
    ldm_model_identity id;
    t_make_items(items, N);
    CHECK(t_identity("h5py model", &id) == LDM_OK);
    ldm_runfile_spec spec = t_spec(&id);
    ldm_runfile *rf = NULL;
    CHECK(ldm_runfile_create(MPI_COMM_SELF, path, &spec, items, N, 1, &rf) == LDM_OK);
    static t_buffers b[N];
    ldm_runfile_slot slots[N];
    ldm_runfile_image images[N];
    int ni = 0;
    for (int step = 1; rf && step <= 2; step++) {
        for (int i = 0; i < N; i++)
            t_fill_slot(&items[i], i, step, &b[i], &slots[i]);
        CHECK(ldm_runfile_checkpoint_write(rf, slots, N) == LDM_OK);
    }
    for (int i = 0; i < N; i += 2)
        t_fill_image(&items[i], i, &b[i], &images[ni++]);
    CHECK(rf && ldm_runfile_image_write(rf, images, ni) == LDM_OK);
    /* The file stays open for writing: readers must not be locked out. */

    FILE *f = fopen(py, "w");
    if (f) {
        fputs(script, f);
        fclose(f);
    }
    char cmd[8192];
    int len = snprintf(cmd, sizeof cmd, "%s %s %s", python, py, path);
    for (int i = 0; i < N; i++) {
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " '");
        for (const unsigned char *p = (const unsigned char *)items[i].prompt; *p; p++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, "%02x", *p);
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, "'");
    }
    char out[4096] = "";
    FILE *p = popen(cmd, "r");
    if (p) {
        size_t got = fread(out, 1, sizeof out - 1, p);
        out[got] = '\0';
        pclose(p);
    }
    CHECK_MSG(strcmp(out, "ok\n") == 0, "h5py says: %s", out);

    /* h5dump, when installed, sees the format attribute and the progress. */
    if (system("h5dump --version >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd, "h5dump -a /ldm_format -d /status/progress '%s'", path);
        p = popen(cmd, "r");
        size_t got = p ? fread(out, 1, sizeof out - 1, p) : 0;
        out[got] = '\0';
        if (p)
            CHECK(pclose(p) == 0);
        CHECK(strstr(out, "\"ldm-run\"") != NULL && strstr(out, "\"slot\"") != NULL);
    }
    CHECK(ldm_runfile_close(&rf) == LDM_OK);
    MPI_Finalize();
    ldm_model_identity_free(&id);
    return ldm_test_finish();
}
