# t_plot.sh — kiln plot: the activation picture and the numbers behind it
# (f and f' from kiln's emitted forward and backward passes, against the
# closed forms), the metrics picture, and one-line errors.  Needs gnuplot
# (Debian gnuplot-nox, which build.sh installs); SKIP lines without it.
plot_status() {  # NAME WANT_STATUS COMMAND... ; output kept in $TMP/plot.out
    local name=$1 want=$2; shift 2
    "$@" >"$TMP/plot.out" 2>&1; local rc=$?
    if [ $rc -eq "$want" ]; then pass "$name"; else fail "$name" "exit status $rc, want $want: $(head -c 300 "$TMP/plot.out")"; fi
}
one_line() {  # NAME PATTERN: $TMP/plot.out is exactly one line matching PATTERN (grep -E)
    if [ "$(wc -l <"$TMP/plot.out")" -eq 1 ] && grep -Eq "$2" "$TMP/plot.out"; then pass "$1"
    else fail "$1" "want one line like '$2', got: $(head -c 300 "$TMP/plot.out")"; fi
}
is_png() {  # NAME FILE
    if [ "$(head -c 8 "$2" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then pass "$1"
    else fail "$1" "$2 is not a PNG file"; fi
}

plot_status plot/help 0 "$KILN" plot --help
grep -q 'usage: kiln plot activations' "$TMP/plot.out" && grep -q 'kiln plot metrics FILE.csv' "$TMP/plot.out" \
    && pass plot/help/text || fail plot/help/text "no usage lines"
"$KILN" --help | grep -q '^  plot ' && pass plot/in-kiln-help || fail plot/in-kiln-help "kiln --help does not list plot"
plot_status plot/no-picture 2 "$KILN" plot
plot_status plot/unknown-picture 2 "$KILN" plot activation
one_line plot/unknown-picture/suggest "^kiln plot: unknown picture 'activation'; did you mean 'activations'\?"
plot_status plot/metrics-needs-csv 2 "$KILN" plot metrics
mkfifo "$TMP/metrics.fifo"   # refused, not waited on
plot_status plot/metrics-fifo-refused 1 timeout 10 "$KILN" plot metrics "$TMP/metrics.fifo" -o "$TMP/fifo.png"
one_line plot/metrics-fifo-refused/message "^kiln plot: cannot read $TMP/metrics.fifo: it is a FIFO, not a file"
mkdir -p "$TMP/picture.png"   # an output that is not a file: refused before gnuplot runs
plot_status plot/output-directory-refused 1 "$KILN" plot activations -o "$TMP/picture.png"
one_line plot/output-directory-refused/message "cannot write $TMP/picture.png: it is a directory"
plot_status plot/unknown-option 2 "$KILN" plot activations --fast

# without gnuplot: one line saying how to get it (PATH without gnuplot)
plot_status plot/no-gnuplot 1 env PATH=/nonexistent "$KILN" plot activations -o "$TMP/none.png"
one_line plot/no-gnuplot/message '^kiln plot: gnuplot is not installed; apt-get install gnuplot-nox$'

# the trainer writes the header kiln plot metrics reads
for h in epoch,loss,test_loss,train_acc,test_acc,seconds epoch,train_mse,test_mse,seconds; do
    grep -qF "\"$h\"" runtime/trainer.c && grep -qF "\"$h\"" compiler/plot.c \
        && pass "plot/metrics-header-matches-trainer ($h)" || fail plot/metrics-header-matches-trainer "runtime/trainer.c or compiler/plot.c has no '$h'"
done

if ! command -v gnuplot >/dev/null 2>&1; then
    skip plot/activations "gnuplot is not installed (apt-get install gnuplot-nox)"
    skip plot/metrics "gnuplot is not installed (apt-get install gnuplot-nox)"
else
    # activations: the harness is built with the tests' strict flags (and the
    # sanitizers in a --sanitize run); kiln's temporary files go to $TMP/plottmp
    mkdir -p "$TMP/plottmp"
    plot_status plot/activations 0 env TMPDIR="$TMP/plottmp" KILN_CFLAGS="$TRAINER_CFLAGS" \
        "$KILN" plot activations -o "$TMP/act.png" --data "$TMP/act.txt"
    is_png plot/activations/png "$TMP/act.png"
    [ -z "$(ls -A "$TMP/plottmp")" ] && pass plot/activations/temporary-files-removed \
        || fail plot/activations/temporary-files-removed "left $(ls "$TMP/plottmp" | head -3 | tr '\n' ' ')"

    # every sampled point: f and f' (from the emitted backward pass) against
    # relu = max(x, 0), relu' = [x > 0], sigmoid' = s(1 − s), tanh' = 1 − t²
    if [ -f "$TMP/act.txt" ]; then
        awk '
            function sig(x) { return 1 / (1 + exp(-x)) }
            function th(x) { return (exp(2 * x) - 1) / (exp(2 * x) + 1) }
            function abs(v) { return v < 0 ? -v : v }
            function check(what, got, want) {
                if (abs(got - want) > 1e-5) { printf "%s at x = %s: %.9g, want %.9g\n", what, $1, got, want; bad++ }
            }
            /^#/ { next }
            {
                n++
                if (NF != 7) { print "line " NR " has " NF " fields"; bad++; next }
                x = $1
                seen[x] = 1
                check("relu", $2, x > 0 ? x : 0);            check("relu'"'"'", $3, x > 0 ? 1 : 0)
                s = sig(x); check("sigmoid", $4, s);         check("sigmoid'"'"'", $5, s * (1 - s))
                t = th(x);  check("tanh", $6, t);            check("tanh'"'"'", $7, 1 - t * t)
            }
            END {
                if (n != 321) { print n " points, want 321"; bad++ }
                if (!(-8 in seen) || !(0 in seen) || !(8 in seen) || !(0.5 in seen)) { print "x = -8, 0, 0.5 or 8 not sampled"; bad++ }
                exit bad > 0
            }' "$TMP/act.txt" >"$TMP/plot.check" 2>&1 \
            && pass "plot/activations/values (f, f' at 321 points within 1e-5 of the closed forms)" \
            || fail plot/activations/values "$(head -n 3 "$TMP/plot.check" | tr '\n' ';')"
    else
        fail plot/activations/values "--data wrote no table"
    fi

    # metrics: a small CSV → a PNG
    printf 'epoch,loss,test_loss,train_acc,test_acc,seconds\n1,0.795,0.513,0.705,0.809,0.25\n2,0.484,0.560,0.824,0.795,0.22\n3,0.433,0.457,0.842,0.836,0.22\n' \
        >"$TMP/m.csv"
    plot_status plot/metrics 0 "$KILN" plot metrics "$TMP/m.csv" -o "$TMP/m.png"
    is_png plot/metrics/png "$TMP/m.png"
    [ ! -s "$TMP/plot.out" ] && pass plot/metrics/quiet || fail plot/metrics/quiet "$(head -c 300 "$TMP/plot.out")"
    # a regression model's CSV: its MSEs, no accuracy panel, no gnuplot warning
    printf 'epoch,train_mse,test_mse,seconds\n1,0.000162,0.000175,0.01\n2,9.78e-05,0.000108,0.00\n' >"$TMP/r.csv"
    plot_status plot/metrics/regression 0 "$KILN" plot metrics "$TMP/r.csv" -o "$TMP/r.png"
    is_png plot/metrics/regression/png "$TMP/r.png"
    [ ! -s "$TMP/plot.out" ] && pass plot/metrics/regression/quiet || fail plot/metrics/regression/quiet "$(head -c 300 "$TMP/plot.out")"
    # a CSV from a kiln before the test loss: still drawn
    printf 'epoch,loss,train_acc,test_acc,seconds\n1,0.0031,0.705,0.809,0.25\n2,0.0019,0.824,0.795,0.22\n' >"$TMP/old.csv"
    plot_status plot/metrics/old-csv 0 "$KILN" plot metrics "$TMP/old.csv" -o "$TMP/old.png"
    [ ! -s "$TMP/plot.out" ] && pass plot/metrics/old-csv/quiet || fail plot/metrics/old-csv/quiet "$(head -c 300 "$TMP/plot.out")"
    # the loss axis has a label
    grep -qF "mean loss per example" compiler/plot.c && grep -qF "mean squared error per example" compiler/plot.c \
        && pass plot/metrics/loss-axis-label || fail plot/metrics/loss-axis-label "compiler/plot.c labels no loss axis"
    head -n 2 "$TMP/m.csv" >"$TMP/m1.csv"
    plot_status plot/metrics/one-epoch 0 "$KILN" plot metrics "$TMP/m1.csv" -o "$TMP/m1.png"
    [ ! -s "$TMP/plot.out" ] && pass plot/metrics/one-epoch/quiet || fail plot/metrics/one-epoch/quiet "$(head -c 300 "$TMP/plot.out")"

    # bad input: exit 1, one line, no picture
    printf 'a,b,c\n1,2,3\n' >"$TMP/bad.csv"
    plot_status plot/metrics/bad-header 1 "$KILN" plot metrics "$TMP/bad.csv" -o "$TMP/bad.png"
    one_line plot/metrics/bad-header/message "^kiln plot: .*bad.csv is not a metrics CSV: its first line should be 'epoch,loss,test_loss,train_acc,test_acc,seconds' \(or 'epoch,train_mse,test_mse,seconds' for a regression model\)"
    [ ! -e "$TMP/bad.png" ] && pass plot/metrics/bad-header/no-picture || fail plot/metrics/bad-header/no-picture "a picture was written"
    printf 'epoch,loss,test_loss,train_acc,test_acc,seconds\n1,0.5,0.5,0.7,0.8,1\n2,oops,0.5,0.7,0.8,1\n' >"$TMP/badrow.csv"
    plot_status plot/metrics/bad-row 1 "$KILN" plot metrics "$TMP/badrow.csv" -o "$TMP/bad.png"
    one_line plot/metrics/bad-row/message "^kiln plot: .*badrow.csv:3: expected 6 numbers"
    printf 'epoch,loss,test_loss,train_acc,test_acc,seconds\n' >"$TMP/empty.csv"
    plot_status plot/metrics/no-epochs 1 "$KILN" plot metrics "$TMP/empty.csv" -o "$TMP/bad.png"
    one_line plot/metrics/no-epochs/message "^kiln plot: .*empty.csv has no epochs"
    plot_status plot/metrics/missing-file 1 "$KILN" plot metrics "$TMP/nope.csv" -o "$TMP/bad.png"
    one_line plot/metrics/missing-file/message "^kiln plot: cannot read .*nope.csv: No such file or directory$"
fi
