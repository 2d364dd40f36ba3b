# t_hostile_spec.sh — hostile input to the compiler that tests/errors/*.lua
# cannot express: what the spec path is (a directory, a FIFO, a long path),
# how kiln was started (SIGALRM blocked or ignored), and where its output
# goes (devices, FIFOs, symbolic links, names that look like cc options).
# Each refusal is one line on stderr, exit status 1, nothing left behind.
HS=$TMP/hostile_spec
mkdir -p "$HS"
GOOD='return model { input = {4}, classes = 2, layers = {linear(2)}, loss = softmax_cross_entropy(), optimizer = sgd{lr=1} }'
echo "$GOOD" >"$HS/good.lua"

# expect_line NAME WANT COMMAND... : exit status 1 and exactly the line WANT
# on stderr (nothing on stdout); a hang past 60 s counts as a failure.
expect_line() {
    local name=$1 want=$2; shift 2
    timeout 60 "$@" >"$HS/out" 2>"$HS/err"; local rc=$?
    if [ $rc -ne 1 ]; then fail "hostile_spec/$name" "exit status $rc, want 1: $(head -c 300 "$HS/err")"
    elif [ "$(cat "$HS/err")" != "$want" ] || [ -s "$HS/out" ]; then
        fail "hostile_spec/$name" "printed '$(head -c 300 "$HS/err")', want '$want'"
    else pass "hostile_spec/$name"; fi
}

# ---- the 20-second wall clock, however kiln was started -------------------------
# A pattern match that runs in C for ever (the instruction limit cannot stop
# it) must be stopped at 20 s even when kiln inherits SIGALRM blocked or
# ignored.  Both runs start here in the background and are checked at the
# end, so the group takes ~20 s longer, not 40.
echo "string.find(('a'):rep(1e5), ('a*'):rep(100) .. 'b')" >"$HS/slow.lua"
cat >"$HS/sigblock.c" <<'C'
#include <signal.h>
#include <unistd.h>
int main(int argc, char **argv) {   /* exec argv[1..] with SIGALRM blocked */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    sigprocmask(SIG_BLOCK, &s, 0);
    (void)argc;
    execv(argv[1], argv + 1);
    return 127;
}
C
slow_want="$HS/slow.lua: spec still running after 20 seconds; kiln stops specs there"
if cc -o "$HS/sigblock" "$HS/sigblock.c" 2>"$HS/cc.err"; then
    timeout 60 "$HS/sigblock" "$KILN" compile "$HS/slow.lua" -o "$HS/slow_blocked.c" >"$HS/blocked.out" 2>&1 &
    blocked_pid=$!
else
    blocked_pid=
    fail hostile_spec/alarm-blocked "cannot build the helper: $(head -c 300 "$HS/cc.err")"
fi
(trap '' ALRM; exec timeout 60 "$KILN" compile "$HS/slow.lua" -o "$HS/slow_ignored.c") >"$HS/ignored.out" 2>&1 &
ignored_pid=$!

# ---- the spec path ----------------------------------------------------------
expect_line spec-directory \
    "$HS: cannot read the spec: it is a directory, not a file; give the path of a spec such as models/mlp.lua" \
    "$KILN" compile "$HS" -o "$HS/dir.c"
mkfifo "$HS/fifo.lua"
expect_line spec-fifo \
    "$HS/fifo.lua: cannot read the spec: it is a FIFO, not a file; give the path of a spec such as models/mlp.lua" \
    "$KILN" compile "$HS/fifo.lua" -o "$HS/fifo.c"
[ -e "$HS/dir.c" ] || [ -e "$HS/fifo.c" ] && fail hostile_spec/spec-not-file-output "an output file was written"

# Lua cuts a long chunk name to 60 characters behind "..."; kiln's messages
# name the spec by its full path all the same.
long=$HS/a-directory-with-a-rather-long-name/and-another-one-below-it
mkdir -p "$long"
printf 'local x = 1\nx = = 2\n' >"$long/syntax.lua"
expect_line long-path-syntax "$long/syntax.lua:2: unexpected symbol near '='" "$KILN" compile "$long/syntax.lua" -o "$HS/long.c"
printf 'local x = 1\nlocal y = x.field\n' >"$long/index.lua"
expect_line long-path-runtime "$long/index.lua:2: attempt to index a number value (local 'x')" \
    "$KILN" compile "$long/index.lua" -o "$HS/long.c"

# ---- the largest static arrays kiln accepts still link -------------------------
# tests/errors/static_*.lua are refused; 16120 units are the most the middle
# layer may have here (2031.9 MiB of parameters), and that trainer links.
cat >"$HS/largest.lua" <<'LUA'
return model {
  input = {16384}, classes = 2, batch = 1,
  layers = { linear(16384), linear(16120), linear(2) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
LUA
sed 's/linear(16120)/linear(16121)/' "$HS/largest.lua" >"$HS/too_large.lua"
if ! "$KILN" compile "$HS/too_large.lua" -o "$HS/too_large.c" >/dev/null 2>&1; then
    pass hostile_spec/static-limit-refuses
else
    fail hostile_spec/static-limit-refuses "one unit more than the largest model was accepted"
fi
if "$KILN" build "$HS/largest.lua" -o "$HS/largest" >"$HS/largest.out" 2>&1 && [ -x "$HS/largest" ]; then
    pass hostile_spec/static-limit-links
else
    fail hostile_spec/static-limit-links "$(grep -m 3 -v '^ ' "$HS/largest.out" | tr '\n' ' ')"
fi
rm -f "$HS/largest" "$HS/largest.c"

# ---- the wall clock's two runs, started at the top ------------------------------
expect_bg() {  # NAME PID OUT FILE: exit status 1, the one line, no output file
    local name=$1 pid=$2 out=$3 file=$4
    wait "$pid"; local rc=$?
    if [ $rc -ne 1 ]; then fail "hostile_spec/$name" "exit status $rc, want 1 (124: not stopped): $(head -c 300 "$out")"
    elif [ "$(cat "$out")" != "$slow_want" ]; then fail "hostile_spec/$name" "printed '$(head -c 300 "$out")', want '$slow_want'"
    elif [ -e "$file" ]; then fail "hostile_spec/$name" "left $file behind"
    else pass "hostile_spec/$name"; fi
}
[ -n "$blocked_pid" ] && expect_bg alarm-blocked "$blocked_pid" "$HS/blocked.out" "$HS/slow_blocked.c"
expect_bg alarm-ignored "$ignored_pid" "$HS/ignored.out" "$HS/slow_ignored.c"
