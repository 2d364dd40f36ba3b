# t_hostile_data.sh — broken data sets given to a real trainer: each gets one
# line on stderr naming the file and the problem, exit status 1, no crash
# (the sanitized build runs this too).  The IDX reader's own tests are in
# tests/unit/test_data.c.
if ! make_subset "$SMALL" 10000 2000; then
    skip hostile_data "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
else
    "$KILN" build models/softmax_regression.lua -o "$TMP/hd" >/dev/null 2>&1 || fail hostile_data/build "kiln build failed"
    broken() {  # NAME WORDS… : make $TMP/bad_NAME from $SMALL, then the caller breaks it
        rm -rf "$TMP/bad_$1"; cp -r "$SMALL" "$TMP/bad_$1"
    }
    expect_bad() {  # NAME FILE WORD [DIR]: the trainer must name FILE and say WORD
        local name=$1 file=$2 word=$3 dir=${4:-$TMP/bad_$1}
        "$TMP/hd" --data "$dir" --epochs 1 >"$TMP/hd.out" 2>"$TMP/hd.err"; local rc=$?
        if [ $rc -ne 1 ]; then fail "hostile_data/$name" "exit status $rc, want 1: $(head -c 300 "$TMP/hd.err")"
        elif [ "$(wc -l <"$TMP/hd.err")" -ne 1 ]; then fail "hostile_data/$name" "want one line: $(cat "$TMP/hd.err")"
        elif ! grep -q "$file" "$TMP/hd.err" || ! grep -qi "$word" "$TMP/hd.err"; then
            fail "hostile_data/$name" "want '$file' and '$word' in: $(cat "$TMP/hd.err")"
        else pass "hostile_data/$name"; fi
    }
    broken missing; rm "$TMP/bad_missing/t10k-labels-idx1-ubyte.gz"
    expect_bad missing t10k-labels-idx1-ubyte "not found"

    broken magic; cp "$SMALL/train-images-idx3-ubyte.gz" "$TMP/bad_magic/train-labels-idx1-ubyte.gz"
    expect_bad magic train-labels-idx1-ubyte "rank\|dimension\|labels"

    broken truncated; head -c 20000 "$SMALL/train-images-idx3-ubyte.gz" >"$TMP/bad_truncated/train-images-idx3-ubyte.gz"
    expect_bad truncated train-images-idx3-ubyte "truncated\|unexpected end"

    broken corrupt
    f=$TMP/bad_corrupt/train-images-idx3-ubyte.gz
    head -c 64 /dev/zero | tr '\0' 'Z' | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") / 2)) conv=notrunc 2>/dev/null
    expect_bad corrupt train-images-idx3-ubyte "corrupt\|invalid\|crc\|data error\|truncated"

    broken count; idx_part "$FMNIST/train-labels-idx1-ubyte.gz" 8 1 5000 1 | gzip -1 >"$TMP/bad_count/train-labels-idx1-ubyte.gz"
    expect_bad count train-labels-idx1-ubyte "5000\|count\|mismatch"

    cat >"$TMP/small_input.lua" <<'SPEC'
return model { name = "small_input", input = {1, 8, 8}, classes = 10,
  layers = { flatten(), linear(10) }, loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1} }
SPEC
    "$KILN" build "$TMP/small_input.lua" -o "$TMP/hd_small" >/dev/null 2>&1
    "$TMP/hd_small" --data "$SMALL" --epochs 1 >/dev/null 2>"$TMP/hd.err"; rc=$?
    [ $rc -eq 1 ] && grep -q "train-images-idx3-ubyte" "$TMP/hd.err" && grep -q "64" "$TMP/hd.err" \
        && pass hostile_data/image-size || fail hostile_data/image-size "status $rc: $(cat "$TMP/hd.err")"

    broken notadir; expect_bad not-a-directory "$TMP/hd.out" "not a directory\|directory" "$TMP/hd.out"
    if [ "$(id -u)" = 0 ]; then
        skip hostile_data/unreadable-directory "running as root, which reads any directory"
    else
        broken unreadable; chmod 000 "$TMP/bad_unreadable"
        expect_bad unreadable-directory bad_unreadable "permission"
        chmod 755 "$TMP/bad_unreadable"
    fi
fi
