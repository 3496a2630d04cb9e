# tools/scaling/scaling.awk — the table of tools/scaling/scaling.sh (read
# that file's header for what is computed). POSIX awk (mawk, gawk, busybox).
# Input: the CSV files; -v tsv=FILE -v md=FILE: where the table goes.

function fail(msg) {
    print "scaling.sh: " msg > "/dev/stderr"
    failed = 1
    exit 1
}

function series_of(path,    base) {
    base = path
    sub(/.*\//, "", base)
    sub(/\.csv$/, "", base)
    if (index(base, "-") > 0)
        return substr(base, 1, index(base, "-") - 1)
    return base
}

BEGIN {
    FS = ","
    ncols = split("world,groups,cfg,pc,ps,height,width,steps,batch,rank,category,name,calls,seconds,bytes_sent", want, ",")
    n = 0
}

# Header: map column names to positions (the order may differ).
FNR == 1 {
    n++
    file[n] = FILENAME
    rows[n] = 0
    for (k in col) delete col[k]
    for (i = 1; i <= NF; i++) {
        h = $i
        gsub(/[ \r"]/, "", h)
        col[h] = i
    }
    for (i = 1; i <= ncols; i++)
        if (!(want[i] in col))
            fail(FILENAME ": column \"" want[i] "\" is missing (header: " $0 ")")
    next
}

{
    sub(/\r$/, "")
    if ($0 == "") next
    rows[n]++
    if (rows[n] == 1) {
        world[n] = $col["world"] + 0; groups[n] = $col["groups"] + 0; cfg[n] = $col["cfg"] + 0
        pc[n] = $col["pc"] + 0; ps[n] = $col["ps"] + 0; height[n] = $col["height"] + 0
        width[n] = $col["width"] + 0; steps[n] = $col["steps"] + 0; batch[n] = $col["batch"] + 0
    }
    r = $col["rank"] + 0
    if (r < 0 || r >= world[n])
        fail(FILENAME ": line " FNR ": rank " r " is not in 0.." world[n] - 1)
    seen[n, r] = 1
    cat = $col["category"]; name = $col["name"]; s = $col["seconds"] + 0
    if (cat == "phase" && name == "total" && s > total[n]) total[n] = s
    if (cat == "phase" && name == "unet_step" && s > unet_step[n]) unet_step[n] = s
    if (cat == "compute") compute[n] += s
    if (cat == "comm") { comm[n] += s; sent[n] += $col["bytes_sent"] + 0 }
}

END {
    if (failed) exit 1
    for (i = 1; i <= n; i++) {
        if (rows[i] == 0) fail(file[i] ": no rows after the header")
        if (total[i] <= 0) fail(file[i] ": no phase \"total\" row with seconds > 0")
        for (r = 0; r < world[i]; r++)
            if (!((i, r) in seen)) fail(file[i] ": no rows of rank " r " (world " world[i] ")")
        ser[i] = series_of(file[i])
        compute[i] /= world[i]
        comm[i] /= world[i]
        other[i] = total[i] - compute[i] - comm[i]
        if (other[i] < 0) other[i] = 0
        order[i] = i
    }
    # Sort by series, then ranks, then time (insertion sort: few runs).
    for (i = 2; i <= n; i++) {
        v = order[i]
        for (j = i - 1; j >= 1 && later(order[j], v); j--) order[j + 1] = order[j]
        order[j + 1] = v
    }
    # Baseline of each series: its first run in that order (fewest ranks, fastest).
    for (k = 1; k <= n; k++) {
        i = order[k]
        if (!(ser[i] in base)) base[ser[i]] = i
    }
    print "series\tfile\tranks\tgroups\tcfg\tpc\tps\tsize\tsteps\tbatch\ttime_s\tunet_step_s\tspeedup\tefficiency\tcompute_share\tcomm_share\tother_share\tcompute_s\tcomm_s\tmb_sent\tlabel" > tsv
    print "| series | ranks | groups × cfg × Pc × Ps | size | steps | batch | time (s) | UNet/step (s) | speedup | efficiency | compute | comm | other | MB sent |" > md
    print "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" > md
    for (k = 1; k <= n; k++) {
        i = order[k]
        b = base[ser[i]]
        ratio = total[b] / total[i]
        if (ser[i] ~ /^weak/) { sp = ratio * world[i] / world[b]; eff = ratio }
        else { sp = ratio; eff = ratio * world[b] / world[i] }
        f = file[i]; sub(/.*\//, "", f)
        decomp = groups[i] " × " cfg[i] " × " pc[i] " × " ps[i]
        label = ser[i] " " world[i] " (" groups[i] "·" cfg[i] "·" pc[i] "x" ps[i] ")"
        printf "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%dx%d\t%d\t%d\t%.6f\t%.6f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.6f\t%.6f\t%.3f\t%s\n",
            ser[i], f, world[i], groups[i], cfg[i], pc[i], ps[i], height[i], width[i], steps[i], batch[i],
            total[i], unet_step[i], sp, eff, compute[i] / total[i], comm[i] / total[i], other[i] / total[i],
            compute[i], comm[i], sent[i] / 1e6, label > tsv
        printf "| %s | %d | %s | %dx%d | %d | %d | %.3f | %.4f | %.2f | %.0f%% | %.0f%% | %.0f%% | %.0f%% | %.2f |\n",
            ser[i], world[i], decomp, height[i], width[i], steps[i], batch[i], total[i], unet_step[i],
            sp, 100 * eff, 100 * compute[i] / total[i], 100 * comm[i] / total[i], 100 * other[i] / total[i],
            sent[i] / 1e6 > md
    }
    print "" > md
    print "time: the slowest rank's wall time; compute / comm / other: shares of it (mean over ranks);" > md
    print "speedup and efficiency against each series' run with the fewest ranks (weak: scaled speedup)." > md
}

function later(a, b) {
    if (ser[a] != ser[b]) return ser[a] > ser[b]
    if (world[a] != world[b]) return world[a] > world[b]
    return total[a] > total[b]
}
