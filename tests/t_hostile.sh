# t_hostile.sh — a model name full of C-hostile characters
# (tests/hostile/name.lua): the emitted file's identifiers and file name are
# derived safely, the name appears only escaped (in string literals) or
# defused (in comments: no comment opener or closer, no trigraph), and the
# file compiles with -Wall -Wextra -Werror under gcc and clang.
spec=tests/hostile/name.lua
if "$KILN" compile "$spec" -o "$TMP/hostile.c" 2>"$TMP/hostile.err"; then
    pass hostile/compiles-to-c
    # outside comments, the raw name (an unescaped quote before system) must not appear
    # (the preprocessor strips the comments: -fpreprocessed expands nothing)
    if gcc -fpreprocessed -E -P "$TMP/hostile.c" 2>/dev/null | grep -F '"; system("' >/dev/null; then
        fail hostile/escaped "the raw name appears in code: $(gcc -fpreprocessed -E -P "$TMP/hostile.c" | grep -nF '"; system("' | head -2)"
    else
        pass hostile/escaped
    fi
    grep -F '.name = "x\"; system(\"rm -rf /\"); // */ /* \?\?/ \\ \012\011%s",' "$TMP/hostile.c" >/dev/null \
        && pass hostile/string-literal-exact || fail hostile/string-literal-exact "$(grep -n '\.name' "$TMP/hostile.c")"
    for compiler in gcc clang; do
        command -v $compiler >/dev/null || { skip "hostile/$compiler" "$compiler not installed"; continue; }
        $compiler -std=c11 -Wall -Wextra -Werror -fopenmp -I"$BUILD" -c "$TMP/hostile.c" -o "$TMP/hostile.o" 2>"$TMP/cc.err" \
            && pass "hostile/$compiler-Werror" || fail "hostile/$compiler-Werror" "$(head -n 3 "$TMP/cc.err" | tr '\n' ' ')"
    done
    # the default output file name is made of safe characters only
    root=$(pwd)
    mkdir -p "$TMP/hostile_default"
    (cd "$TMP/hostile_default" && "$root/$KILN" compile "$root/$spec" >/dev/null 2>&1)
    name=$(ls "$TMP/hostile_default/build" 2>/dev/null)
    if [ -n "$name" ] && echo "$name" | grep -Eq '^[A-Za-z0-9_]+\.c$'; then pass "hostile/safe-file-name ($name)"
    else fail hostile/safe-file-name "wrote '$name'"; fi
else
    fail hostile/compiles-to-c "$(cat "$TMP/hostile.err")"
fi
