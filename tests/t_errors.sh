# t_errors.sh — broken and hostile specs (tests/errors/*.lua).  The first
# line of each names the exact message kiln must print; kiln must exit 1,
# print that one line, and leave no output file behind.
for spec in tests/errors/*.lua; do
    name="errors/$(basename "$spec" .lua)"
    want=$(head -n 1 "$spec" | sed -n 's/^-- expect: //p')
    [ -n "$want" ] || { fail "$name" "first line must be '-- expect: MESSAGE'"; continue; }
    rm -rf "$TMP/errout"; mkdir -p "$TMP/errout"
    got=$("$KILN" compile "$spec" -o "$TMP/errout/out.c" 2>&1); rc=$?
    if [ $rc -ne 1 ]; then fail "$name" "exit status $rc, want 1"
    elif [ "$got" != "$want" ]; then fail "$name" "printed '$got', want '$want'"
    elif [ -n "$(ls -A "$TMP/errout")" ]; then fail "$name" "left files behind: $(ls -A "$TMP/errout")"
    else pass "$name"; fi
done
