# t_golden.sh — the C kiln emits for every model in models/ must equal
# tests/golden/<model>.c byte for byte, and the MLP's data parallel trainer
# (kiln --mpi) tests/golden/mlp_mpi.c.  After an intended change to the
# emitted code, regenerate them with ./build.sh golden and review the diff.
for spec in models/*.lua; do
    name=$(basename "$spec" .lua)
    golden="tests/golden/$name.c"
    if [ ! -f "$golden" ]; then fail "golden/$name" "$golden is missing; run ./build.sh golden"; continue; fi
    if ! "$KILN" compile "$spec" -o "$TMP/$name.c" 2>"$TMP/golden.err"; then
        fail "golden/$name" "kiln failed: $(cat "$TMP/golden.err")"; continue
    fi
    if cmp -s "$golden" "$TMP/$name.c"; then pass "golden/$name"
    else fail "golden/$name" "emitted C differs from $golden (diff -u $golden <(kiln compile $spec -o -)); if intended, ./build.sh golden"; fi
    # same spec, same bytes: compiling twice gives the same file
    "$KILN" compile "$spec" -o "$TMP/$name.again.c" 2>/dev/null
    if cmp -s "$TMP/$name.c" "$TMP/$name.again.c"; then pass "golden/$name/deterministic"
    else fail "golden/$name/deterministic" "two compilations differ"; fi
done
# the data parallel schedule (kiln --mpi): the MLP's
if "$KILN" compile models/mlp.lua --mpi -o "$TMP/mlp_mpi.c" 2>"$TMP/golden.err" && cmp -s tests/golden/mlp_mpi.c "$TMP/mlp_mpi.c"
then pass golden/mlp_mpi
else fail golden/mlp_mpi "emitted C differs from tests/golden/mlp_mpi.c (kiln compile models/mlp.lua --mpi); if intended, ./build.sh golden $(cat "$TMP/golden.err")"; fi
for golden in tests/golden/*.c; do
    name=$(basename "$golden" .c)
    [ -f "models/$name.lua" ] || [ "$name" = mlp_mpi ] || fail "golden/$name.c" "no model in models/ for $golden; remove it"
done
