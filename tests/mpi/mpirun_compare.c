/* mpirun_compare — the comparator of the tests/mpi/mpirun_*.sh tests.
 *
 *   mpirun_compare npy A.npy B.npy REL     same shape, ||A − B|| / ||A|| <= REL
 *   mpirun_compare png A.png B.png LEVELS  same size, max |A − B| <= LEVELS
 *   mpirun_compare csv FILE.csv WORLD       a --timings CSV of WORLD ranks:
 *       the header, 19 rows per rank in rank order, phases
 *       total >= unet >= unet_step, total >= decoder, conv and linear
 *       calls > 0 on every rank that ran the UNet, compute seconds within
 *       the total, bytes 0 on non-comm rows.
 * Exit 0 when the check holds, 1 (with a message) when not.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/npy.h"
#include "io/png.h"

static int compare_npy(const char *a, const char *b, double rel)
{
    ldm_npy x = { 0 }, y = { 0 };
    int bad = 1;
    if (ldm_npy_read(a, &x) != LDM_OK || ldm_npy_read(b, &y) != LDM_OK) {
        fprintf(stderr, "cannot read %s or %s: %s\n", a, b, ldm_error_message());
        goto done;
    }
    if (x.ndim != y.ndim || x.numel != y.numel ||
        memcmp(x.shape, y.shape, sizeof(int64_t) * (size_t)x.ndim) != 0) {
        fprintf(stderr, "%s and %s: shapes differ\n", a, b);
        goto done;
    }
    double num = 0, den = 0;
    for (int64_t i = 0; i < x.numel; i++) {
        double d = (double)x.data[i] - y.data[i];
        num += d * d;
        den += (double)x.data[i] * x.data[i];
    }
    double r = den > 0 ? sqrt(num / den) : sqrt(num);
    bad = !(r <= rel);
    fprintf(stderr, "%s vs %s: relative L2 %.3g (limit %.3g)\n", a, b, r, rel);
done:
    ldm_npy_free(&x);
    ldm_npy_free(&y);
    return bad;
}

static int compare_png(const char *a, const char *b, int levels)
{
    uint8_t *x = NULL, *y = NULL;
    ldm_png_text *ta = NULL, *tb = NULL;
    int wa, ha, wb, hb, na = 0, nb = 0, bad = 1;
    if (ldm_png_read(a, &x, &wa, &ha, &ta, &na) != LDM_OK ||
        ldm_png_read(b, &y, &wb, &hb, &tb, &nb) != LDM_OK) {
        fprintf(stderr, "cannot read %s or %s: %s\n", a, b, ldm_error_message());
        goto done;
    }
    if (wa != wb || ha != hb) {
        fprintf(stderr, "%s is %dx%d, %s is %dx%d\n", a, wa, ha, b, wb, hb);
        goto done;
    }
    int worst = 0;
    for (size_t i = 0; i < (size_t)wa * ha * 3; i++) {
        int d = abs((int)x[i] - (int)y[i]);
        worst = d > worst ? d : worst;
    }
    bad = worst > levels;
    fprintf(stderr, "%s vs %s: max difference %d level(s) (limit %d)\n", a, b, worst, levels);
done:
    ldm_png_texts_free(ta, na);
    ldm_png_texts_free(tb, nb);
    ldm_free(x);
    ldm_free(y);
    return bad;
}

enum { ROWS = 19 };

static int check_csv(const char *path, int world)
{
    static const char *header = "world,groups,cfg,pc,ps,height,width,steps,batch,rank,category,"
                                "name,calls,seconds,bytes_sent\n";
    static const char *names[ROWS] = { "phase,load", "phase,text_encoder", "phase,unet",
                                       "phase,unet_step", "phase,decoder", "phase,total",
                                       "compute,conv", "compute,linear", "compute,norm",
                                       "compute,attention", "compute,elementwise",
                                       "compute,other", "comm,halo", "comm,allgather",
                                       "comm,allreduce", "comm,reduce_scatter", "comm,sendrecv",
                                       "comm,bcast", "comm,other" };
    FILE *f = fopen(path, "r");
    char line[512];
    int bad = 0;
    if (!f || !fgets(line, sizeof line, f) || strcmp(line, header) != 0) {
        fprintf(stderr, "%s: missing or wrong header\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    for (int rank = 0; rank < world && !bad; rank++) {
        double sec[ROWS], calls[ROWS];
        for (int i = 0; i < ROWS; i++) {
            int w, g, cfg, pc, ps, h, wd, steps, batch, r;
            char cat[32], name[32];
            double c, s, bytes;
            if (!fgets(line, sizeof line, f) ||
                sscanf(line, "%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%31[^,],%31[^,],%lf,%lf,%lf", &w, &g,
                       &cfg, &pc, &ps, &h, &wd, &steps, &batch, &r, cat, name, &c, &s,
                       &bytes) != 15) {
                fprintf(stderr, "%s: rank %d row %d unreadable\n", path, rank, i);
                bad = 1;
                break;
            }
            char both[64];
            snprintf(both, sizeof both, "%s,%s", cat, name);
            if (w != world || r != rank || strcmp(both, names[i]) != 0 || g * cfg * pc * ps != w ||
                s < 0 || c < 0 || (strcmp(cat, "comm") != 0 && bytes != 0)) {
                fprintf(stderr, "%s: unexpected row for rank %d: %s", path, rank, line);
                bad = 1;
                break;
            }
            sec[i] = s;
            calls[i] = c;
        }
        if (bad)
            break;
        double compute = 0;
        for (int i = 6; i < 12; i++)
            compute += sec[i];
        const double slack = 1e-3;
        if (sec[5] + slack < sec[2] || sec[2] + slack < sec[3] || sec[5] + slack < sec[4] ||
            compute > sec[5] * 1.05 + slack) {
            fprintf(stderr, "%s: rank %d: implausible sums (total %g, unet %g, step %g, "
                            "decoder %g, kernels %g)\n",
                    path, rank, sec[5], sec[2], sec[3], sec[4], compute);
            bad = 1;
        }
        if (calls[2] > 0 && (calls[6] < 1 || calls[7] < 1)) {
            fprintf(stderr, "%s: rank %d ran the UNet but counted no conv/linear calls\n", path,
                    rank);
            bad = 1;
        }
    }
    if (!bad && fgets(line, sizeof line, f)) {
        fprintf(stderr, "%s: rows beyond %d ranks: %s", path, world, line);
        bad = 1;
    }
    fclose(f);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "csv") == 0)
        return check_csv(argv[2], atoi(argv[3]));
    if (argc != 5) {
        fprintf(stderr, "usage: mpirun_compare npy|png A B LIMIT | csv FILE WORLD\n");
        return 2;
    }
    if (strcmp(argv[1], "npy") == 0)
        return compare_npy(argv[2], argv[3], atof(argv[4]));
    if (strcmp(argv[1], "png") == 0)
        return compare_png(argv[2], argv[3], atoi(argv[4]));
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
}
