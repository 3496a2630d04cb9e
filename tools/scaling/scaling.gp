# tools/scaling/scaling.gp — the plots of tools/scaling/scaling.sh, from its
# scaling.tsv. Variables (gnuplot -e): tsv, png, series (space-separated).
# Columns: 1 series, 3 ranks, 11 time_s, 13 speedup, 14 efficiency,
# 15-17 compute / comm / other share, 21 label.
set terminal pngcairo size 1200,900 font ",10"
set output png
set datafile separator "\t"
set key top left
set grid
set multiplot layout 2,2 title "ldm scaling study"
pick(s, c) = strcol(1) eq s ? column(c) : NaN

set title "time (slowest rank)"
set xlabel "ranks"
set ylabel "seconds"
set logscale x 2
set logscale y 2
plot for [s in series] tsv every ::1 using 3:(pick(s, 11)) with linespoints pt 7 title s

set title "speedup (weak: scaled)"
set ylabel "speedup"
plot for [s in series] tsv every ::1 using 3:(pick(s, 13)) with linespoints pt 7 title s, \
     x with lines dt 2 lc rgb "gray" title "ideal"

set title "parallel efficiency"
set key bottom left
unset logscale y
set ylabel "efficiency"
set yrange [0:1.1]
plot for [s in series] tsv every ::1 using 3:(pick(s, 14)) with linespoints pt 7 title s, \
     1 with lines dt 2 lc rgb "gray" title "ideal"

set title "where the time goes (share of each run's time)"
unset logscale x
unset xlabel
set ylabel "share"
set yrange [0:1.05]
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.7
set xtics rotate by -30 font ",8"
set key outside right
plot tsv every ::1 using 15:xtic(21) title "compute", '' every ::1 using 16 title "communication", \
     '' every ::1 using 17 title "other"
unset multiplot
