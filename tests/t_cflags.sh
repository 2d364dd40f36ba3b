# t_cflags.sh — every trainer kiln emits compiles with -std=c11 -Wall
# -Wextra -Werror under gcc and (when present) clang, and links against the
# runtime, libm, zlib and libgomp only.
for spec in models/*.lua; do
    name=$(basename "$spec" .lua)
    "$KILN" compile "$spec" -o "$TMP/$name.c" 2>/dev/null || { fail "cflags/$name" "kiln failed"; continue; }
    for compiler in gcc clang; do
        command -v $compiler >/dev/null || { skip "cflags/$name/$compiler" "$compiler not installed"; continue; }
        if $compiler -std=c11 -O2 -Wall -Wextra -Werror -fopenmp -I"$BUILD" -c "$TMP/$name.c" -o "$TMP/$name.o" 2>"$TMP/cc.err"; then
            pass "cflags/$name/$compiler"
        else
            fail "cflags/$name/$compiler" "$(head -n 3 "$TMP/cc.err" | tr '\n' ' ')"
        fi
    done
    if cc_trainer "$TMP/$name" "$TMP/$name.c" 2>"$TMP/cc.err"; then
        libs=$(ldd "$TMP/$name" | awk '{print $1}' | grep -vE '^(linux-vdso|/lib64/ld-linux)' |
               grep -vE '^lib(c|m|z|gomp|asan|ubsan|stdc\+\+|gcc_s|pthread|dl|rt)\.so' || true)
        if [ -z "$libs" ]; then pass "cflags/$name/links"
        else fail "cflags/$name/links" "links more than runtime, libm, zlib, libgomp: $libs"; fi
    else
        fail "cflags/$name/links" "$(head -n 3 "$TMP/cc.err" | tr '\n' ' ')"
    fi
done
