# t_static.sh — static checks: kiln and the runtime compile warning-free
# under clang as well as gcc (build.sh builds them with gcc -Werror; the
# cflags group does the same for every generated trainer), and cppcheck
# finds nothing in compiler/ and runtime/.
#
# cppcheck is told that _Noreturn means noreturn (it does not know C11's
# keyword, and would otherwise follow fail()'s callers past the exit).
# Any suppression must sit next to its line as cppcheck-suppress with a reason.
LUA_CFLAGS=$(pkg-config --cflags lua5.4 2>/dev/null)
# clang_clean DIR FLAGS...: DIR's C files compile warning-free under clang with FLAGS too
clang_clean() {
    local dir=$1; shift
    if clang -std=c11 -Wall -Wextra -Werror -fopenmp -fsyntax-only -I"$BUILD" "$@" "$dir"/*.c 2>"$TMP/clang.err"; then
        pass "static/clang/$dir"
    else
        fail "static/clang/$dir" "$(head -n 3 "$TMP/clang.err" | tr '\n' ' ')"
    fi
}
if command -v clang >/dev/null; then
    for dir in compiler compiler/ops compiler/lower runtime runtime/products runtime/conv; do
        clang_clean $dir $LUA_CFLAGS
    done
    # the MPI runtime, with mpicc's include path, when Open MPI is installed
    if command -v mpicc >/dev/null; then clang_clean runtime/mpi -Iruntime $(mpicc --showme:compile); fi
else
    skip static/clang "clang is not installed (apt-get install clang)"
fi
if command -v cppcheck >/dev/null; then
    if cppcheck --quiet --enable=warning,performance,portability --std=c11 --inline-suppr \
        --error-exitcode=1 "-D_Noreturn=__attribute__((noreturn))" -I compiler -I runtime -I "$BUILD" \
        compiler runtime >"$TMP/cppcheck.out" 2>&1; then
        pass static/cppcheck
    else
        fail static/cppcheck "$(grep -E ': (error|warning|performance|portability):' "$TMP/cppcheck.out" | head -n 5 | tr '\n' ' ')"
    fi
else
    skip static/cppcheck "cppcheck is not installed (apt-get install cppcheck)"
fi
