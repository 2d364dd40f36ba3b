# t_cli.sh — kiln's command line: help texts, bad usage, the graph printer,
# compile to stdout, build and its staleness check, and no Lua subprocess.
expect_status() {  # NAME WANT_STATUS COMMAND... ; output kept in $TMP/out
    local name=$1 want=$2; shift 2
    "$@" >"$TMP/out" 2>&1; local rc=$?
    if [ $rc -eq "$want" ]; then pass "$name"; else fail "$name" "exit status $rc, want $want: $(head -c 300 "$TMP/out")"; fi
}
expect_status cli/help 0 "$KILN" --help
grep -q 'compile SPEC' "$TMP/out" && grep -q 'graph SPEC' "$TMP/out" || fail cli/help/text "kiln --help does not list the commands"
for cmd in compile build train graph summary; do
    expect_status "cli/$cmd-help" 0 "$KILN" $cmd --help
    grep -q "usage: kiln $cmd" "$TMP/out" || fail "cli/$cmd-help/text" "no usage line"
done
expect_status cli/no-args 2 "$KILN"
expect_status cli/unknown-command 2 "$KILN" complie models/mlp.lua
grep -qx "kiln: unknown command 'complie'; did you mean 'compile'? run 'kiln --help'" "$TMP/out" \
    && pass cli/unknown-command/suggest || fail cli/unknown-command/suggest "$(cat "$TMP/out")"
expect_status cli/missing-spec 2 "$KILN" compile
expect_status cli/unknown-option 2 "$KILN" compile models/mlp.lua --fast
expect_status cli/spec-not-found 1 "$KILN" compile "$TMP/nope.lua" -o "$TMP/nope.c"
grep -qx "$TMP/nope.lua: cannot read the spec: No such file or directory" "$TMP/out" \
    && pass cli/spec-not-found/message || fail cli/spec-not-found/message "$(cat "$TMP/out")"

for pair in "--dot --plan" "--kernels --plan" "--dot --kernels"; do
    # shellcheck disable=SC2086  # two flags
    expect_status "cli/graph-conflicting-views ($pair)" 2 "$KILN" graph models/mlp.lua $pair
    [ "$(wc -l <"$TMP/out")" -eq 1 ] && grep -q "are different views; give one" "$TMP/out" \
        && pass "cli/graph-conflicting-views/message ($pair)" || fail "cli/graph-conflicting-views/message ($pair)" "$(cat "$TMP/out")"
done

# summary: one row per layer, the exact totals (the MLP's 203,530 parameters,
# the book's LeNet's 61,706), FLOPs as bench/report.py counts the ResNet's
expect_status cli/summary 0 "$KILN" summary models/mlp.lua
for want in '^linear1 +linear +\(batch, 256\) +200,960 +401,408 +401,408$' '^linear2 +linear +\(batch, 10\) +2,570 +5,120 +10,240$' \
            '^flatten1 +flatten +\(batch, 784\) +0$' '^parameters +203,530 \(795\.0 KiB\)$' '^arena +136,192 floats' \
            '^FLOPs/example +forward 406,528, backward 411,648 '; do
    grep -Eq "$want" "$TMP/out" && pass "cli/summary/'$want'" || fail "cli/summary/'$want'" "$(cat "$TMP/out")"
done
"$KILN" summary models/lenet.lua 2>&1 | grep -Eq '^parameters +61,706 ' && pass cli/summary/lenet-params \
    || fail cli/summary/lenet-params "$("$KILN" summary models/lenet.lua 2>&1 | tail -5)"
"$KILN" summary models/resnet.lua >"$TMP/out" 2>&1
grep -Eq '^FLOPs/example +forward 40,367,872, backward 80,509,952 ' "$TMP/out" &&
    grep -Eq '^model state +1,120 floats' "$TMP/out" && grep -Eq '^optimizer state +175,530 floats' "$TMP/out" \
    && pass cli/summary/resnet-flops-and-state || fail cli/summary/resnet-flops-and-state "$(tail -6 "$TMP/out")"
expect_status cli/summary-no-o 2 "$KILN" summary models/mlp.lua -o x

# graph: one node per line with its shape, forward then backward
"$KILN" graph models/mlp.lua >"$TMP/graph.txt" 2>&1
for want in 'linear1.weight +\(784, 256\)' '^  linear1 +linear .*-> linear1 \(batch, 256\)' \
            '^backward' 'relu1.grad +relu.grad +relu1, d.relu1 -> d.linear1 \(batch, 256\)' \
            'linear1.grad_params .*-> d.linear1.weight \(784, 256\), d.linear1.bias \(256\)' '^update'; do
    grep -Eq "$want" "$TMP/graph.txt" && pass "cli/graph/'$want'" || fail "cli/graph/'$want'" "not in kiln graph output"
done
"$KILN" graph models/mlp.lua --dot >"$TMP/graph.dot" 2>&1
head -n 1 "$TMP/graph.dot" | grep -q '^digraph "mlp"' && tail -n 1 "$TMP/graph.dot" | grep -qx '}' \
    && pass cli/graph/dot || fail cli/graph/dot "not a digraph"
if command -v dot >/dev/null; then
    dot -Tsvg "$TMP/graph.dot" >/dev/null 2>&1 && pass cli/graph/dot-renders || fail cli/graph/dot-renders "dot rejected it"
fi
# every node of the picture is declared with a label (Adam's moments too),
# no box repeats its name, and there is a legend
"$KILN" graph models/mlp_adam.lua --dot >"$TMP/adam.dot" 2>&1
undeclared=$(grep -oE '^  [vn][0-9]+ -> [vn][0-9]+' "$TMP/adam.dot" | grep -oE '[vn][0-9]+' | sort -u |
             while read -r id; do grep -q "^  $id \[.*label=" "$TMP/adam.dot" || echo "$id"; done)
[ -z "$undeclared" ] && grep -q 'label="linear1.weight.adam_m' "$TMP/adam.dot" && pass cli/graph/dot-every-node-labelled \
    || fail cli/graph/dot-every-node-labelled "no label for:$undeclared"
repeats=$(grep -oE 'label="[^"\\]+\\n[^"\\]+"' "$TMP/adam.dot" | sed 's/label="//; s/"$//' |
          awk -F'\\\\n' '$1 == $2' | head -3)
[ -z "$repeats" ] && pass cli/graph/dot-no-name-twice || fail cli/graph/dot-no-name-twice "$repeats"
grep -q 'subgraph cluster_legend' "$TMP/adam.dot" && grep -q 'label="backward (gradients)"' "$TMP/adam.dot" \
    && pass cli/graph/dot-legend || fail cli/graph/dot-legend "no legend"
"$KILN" graph models/mlp.lua --kernels >"$TMP/kernels.txt" 2>&1
grep -q 'forward_linear1_relu1 ' "$TMP/kernels.txt" && pass cli/graph/kernels || fail cli/graph/kernels "$(head -3 "$TMP/kernels.txt")"

# compile -o - prints exactly what compile -o FILE writes
"$KILN" compile models/mlp.lua -o - >"$TMP/stdout.c" 2>"$TMP/stdout.err" && "$KILN" compile models/mlp.lua -o "$TMP/file.c" 2>"$TMP/file.err" &&
    cmp -s "$TMP/stdout.c" "$TMP/file.c" && pass cli/compile-stdout || fail cli/compile-stdout "differs"
# compile and build say in one line what they wrote (nothing when the C goes to stdout)
[ ! -s "$TMP/stdout.err" ] && grep -qx "kiln: wrote $TMP/file.c, the C trainer of models/mlp.lua; kiln build makes the program" "$TMP/file.err" \
    && pass cli/compile-says-what-it-wrote || fail cli/compile-says-what-it-wrote "$(cat "$TMP/stdout.err" "$TMP/file.err")"
"$KILN" build models/softmax_regression.lua -o "$TMP/says" 2>"$TMP/b1.err" >/dev/null
"$KILN" build models/softmax_regression.lua -o "$TMP/says" 2>"$TMP/b2.err" >/dev/null
grep -qx "kiln: built $TMP/says (and its source $TMP/says.c), the trainer of models/softmax_regression.lua; run $TMP/says --help" "$TMP/b1.err" &&
    grep -qx "kiln: $TMP/says is up to date with models/softmax_regression.lua" "$TMP/b2.err" \
    && pass cli/build-says-what-it-built || fail cli/build-says-what-it-built "$(cat "$TMP/b1.err" "$TMP/b2.err")"

# the spec runs inside kiln: no lua interpreter needed on PATH
env PATH=/nonexistent "$KILN" compile models/mlp.lua -o "$TMP/nopath.c" >/dev/null 2>&1 \
    && pass cli/no-lua-subprocess || fail cli/no-lua-subprocess "kiln needs something on PATH to compile"
ldd "$KILN" | grep -q 'liblua5.4' && pass cli/links-lua5.4 || fail cli/links-lua5.4 "kiln does not link Debian's liblua5.4"

# build, then a second build with nothing changed does not run cc again
if "$KILN" build models/softmax_regression.lua -o "$TMP/sr" >"$TMP/out" 2>&1 && [ -x "$TMP/sr" ] && [ -f "$TMP/sr.c" ]; then
    pass cli/build
    before=$(stat -c %Y.%N "$TMP/sr" 2>/dev/null; stat -c %y "$TMP/sr")
    KILN_CC=/nonexistent/cc "$KILN" build models/softmax_regression.lua -o "$TMP/sr" >"$TMP/out" 2>&1 \
        && [ "$before" = "$(stat -c %Y.%N "$TMP/sr" 2>/dev/null; stat -c %y "$TMP/sr")" ] \
        && pass cli/build/up-to-date || fail cli/build/up-to-date "rebuilt an up-to-date trainer: $(cat "$TMP/out")"
    touch "$TMP/sr.c"; sleep 0.01
    KILN_CC=/nonexistent/cc "$KILN" build models/softmax_regression.lua -o "$TMP/sr" >"$TMP/out" 2>&1
    [ $? -eq 1 ] && grep -q "cannot run the C compiler '/nonexistent/cc'" "$TMP/out" \
        && pass cli/build/stale-rebuilds || fail cli/build/stale-rebuilds "$(cat "$TMP/out")"
else
    fail cli/build "$(cat "$TMP/out")"
fi
