# t_cflags.sh — every trainer kiln emits compiles with -std=c11 -Wall
# -Wextra -Werror under gcc and (when present) clang, and links against the
# runtime, libm, zlib and libgomp only.  The models are checked as many at a
# time as there are cores (compiling is all the group does), each writing
# its PASS/FAIL/SKIP lines to a file, reported in order afterwards.

# cf_check NAME SPEC: the checks of one model, as lines in $TMP/cf_NAME.lines
cf_check() {
    local name=$1 spec=$2 compiler libs
    local out=$TMP/cf_$name.lines err=$TMP/cf_$name.err
    if ! "$KILN" compile "$spec" -o "$TMP/$name.c" 2>/dev/null; then
        echo "FAIL cflags/$name: kiln failed" >"$out"; return
    fi
    for compiler in gcc clang; do
        command -v $compiler >/dev/null || { echo "SKIP cflags/$name/$compiler: $compiler not installed"; continue; }
        if $compiler -std=c11 -O2 -Wall -Wextra -Werror -fopenmp -I"$BUILD" -c "$TMP/$name.c" -o "$TMP/$name.$compiler.o" 2>"$err"; then
            echo "PASS cflags/$name/$compiler"
        else
            echo "FAIL cflags/$name/$compiler: $(head -n 3 "$err" | tr '\n' ' ')"
        fi
    done >"$out"
    if cc_trainer "$TMP/$name" "$TMP/$name.c" 2>"$err"; then
        libs=$(ldd "$TMP/$name" | awk '{print $1}' | grep -vE '^(linux-vdso|/lib64/ld-linux)' |
               grep -vE '^lib(c|m|z|gomp|asan|ubsan|stdc\+\+|gcc_s|pthread|dl|rt)\.so' || true)
        if [ -z "$libs" ]; then echo "PASS cflags/$name/links"
        else echo "FAIL cflags/$name/links: links more than runtime, libm, zlib, libgomp: $(echo $libs)"; fi
    else
        echo "FAIL cflags/$name/links: $(head -n 3 "$err" | tr '\n' ' ')"
    fi >>"$out"
}
for spec in models/*.lua; do side cf_check "$(basename "$spec" .lua)" "$spec"; done
sides_done
for spec in models/*.lua; do
    name=$(basename "$spec" .lua)
    [ -s "$TMP/cf_$name.lines" ] || { fail "cflags/$name" "no result (the check itself failed)"; continue; }
    tally "cflags/$name" cat "$TMP/cf_$name.lines"
done
