# t_mpi.sh — data parallel trainers (kiln build --mpi) under Open MPI's
# mpirun: the generated C compiles with -Werror and only it links MPI; two
# ranks train the MLP and LeNet as one process does (parameters after 3
# steps within the parity bound, 1e-5 of each tensor's largest value, as
# tests/parity/torch_parity.py explains), two runs with the same ranks are
# the same to the bit, checkpoints go both ways between an MPI run and a
# single process, uneven shares and a rank without rows work, Ctrl-C on
# mpirun saves and --resume ends where an unstopped run does, a killed rank
# is named in one line and the others stop, rank 0 alone prints, and ranks
# that do not run the same trainer or read the same data are refused at start.
M=$TMP/mpi
mkdir -p "$M"
if ! command -v mpirun >/dev/null 2>&1 || [ ! -f "$BUILD/libkiln_mpi.a" ]; then
    skip mpi "Open MPI is not installed (apt-get install openmpi-bin libopenmpi-dev, then ./build.sh)"
elif ! make_subset "$SMALL" 10000 2000 || ! make_subset "$M/d768" 768 300 || ! make_subset "$M/d257" 257 100; then
    skip mpi "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
else
    # as root Open MPI wants --allow-run-as-root; on 2 cores 3 ranks need --oversubscribe
    MPIRUN="mpirun --oversubscribe"
    [ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
    # under the sanitizers, LeakSanitizer would report Open MPI's own allocations (its
    # plugins, unloaded by MPI_Finalize, leave frames no suppression can name): leaks
    # are checked in every other group; here ASan and UBSan check the rest
    if [ "$SANITIZE" = 1 ]; then MPIRUN="$MPIRUN -x ASAN_OPTIONS=detect_leaks=0"; fi
    # every trainer the group runs, as many built at a time as there are cores
    for what in "mlp_mpi models/mlp.lua --mpi" "mlp models/mlp.lua" "lenet_mpi models/lenet.lua --mpi" \
        "lenet models/lenet.lua" "mlp_mpi_128 models/mlp.lua --mpi --batch 128"; do
        read -r -a w <<<"$what"   # NAME SPEC [FLAGS]
        side "$KILN" build "${w[@]:1}" -o "$M/${w[0]}" >/dev/null 2>"$M/${w[0]}.err"
    done
    sides_done
    [ -x "$M/mlp_mpi" ] && [ -x "$M/mlp" ] || fail mpi/build "$(cat "$M/mlp_mpi.err" "$M/mlp.err")"
    mpicc -std=c11 -Wall -Wextra -Werror -fopenmp -I"$BUILD" -c "$M/mlp_mpi.c" -o "$M/mlp_mpi.o" 2>"$M/cc.err" &&
        pass mpi/generated-c-compiles-with--Werror || fail mpi/generated-c-compiles-with--Werror "$(head -n 3 "$M/cc.err")"
    "$KILN" graph models/mlp.lua --kernels --mpi >"$M/kernels.txt" 2>&1
    grep -q "waits for all the gradients and sums them (kiln_mpi_sum): 4 tensors, 203530 floats" "$M/kernels.txt" &&
        ! grep -q "_sgd " "$M/kernels.txt" && pass mpi/graph---kernels-shows-the-sum ||
        fail mpi/graph---kernels-shows-the-sum "$(cat "$M/kernels.txt")"
    if ldd "$M/mlp_mpi" | grep -q libmpi && ! ldd "$M/mlp" | grep -q libmpi; then
        pass mpi/only-the---mpi-trainer-links-mpi
    else
        fail mpi/only-the---mpi-trainer-links-mpi "$(ldd "$M/mlp" | grep mpi)"
    fi

    # 3 steps (768 rows, batch 256): 2 ranks against one process, for the MLP and LeNet
    # (convolutions, and five buckets of gradients sent while the backward pass runs)
    [ -x "$M/lenet_mpi" ] && [ -x "$M/lenet" ] || fail mpi/build-lenet "$(cat "$M/lenet_mpi.err" "$M/lenet.err")"
    for model in mlp lenet; do
        $MPIRUN -np 2 "$M/${model}_mpi" --data "$M/d768" --epochs 1 --threads 1 --metrics "$M/np2.csv" \
            --save-npz "$M/np2.npz" >"$M/np2.out" 2>"$M/err"
        "$M/$model" --data "$M/d768" --epochs 1 --metrics "$M/one.csv" --save-npz "$M/one.npz" >"$M/one.out" 2>>"$M/err"
        if [ -s "$M/np2.npz" ] && "${PARITY_PY:-/usr/bin/python3}" - "$M/np2.npz" "$M/one.npz" "$M/np2.csv" "$M/one.csv" \
            >"$M/cmp.out" 2>&1 <<'PY'
import csv, sys
import numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
worst = 0.0
for k in b.files:
    s = max(float(np.max(np.abs(b[k]))), 1e-30)
    worst = max(worst, float(np.max(np.abs(a[k] - b[k]))) / s)
la = float(list(csv.DictReader(open(sys.argv[3])))[0]["loss"])
lb = float(list(csv.DictReader(open(sys.argv[4])))[0]["loss"])
print("parameters %.2g of each tensor's largest, loss %.2g" % (worst, abs(la - lb) / lb))
sys.exit(0 if worst <= 1e-5 and abs(la - lb) <= 1e-5 * lb and set(a.files) == set(b.files) else 1)
PY
        then
            pass "mpi/$model-np2-as-one-process-after-3-steps ($(cat "$M/cmp.out"))"
        else
            fail "mpi/$model-np2-as-one-process-after-3-steps" "$(cat "$M/cmp.out" "$M/err")"
        fi
    done
    # rank 0 alone prints: one line per epoch
    [ "$(wc -l <"$M/np2.out")" -eq 1 ] && grep -q '^epoch 1, loss' "$M/np2.out" && pass mpi/rank-0-alone-prints \
        || fail mpi/rank-0-alone-prints "$(cat "$M/np2.out")"

    # the same seed and ranks: the same bits (threads too may differ)
    for t in 1 2; do
        $MPIRUN -np 2 "$M/mlp_mpi" --data "$SMALL" --epochs 2 --threads $t --save "$M/r$t.ckpt" >"$M/r$t.out" 2>"$M/err"
    done
    if [ -s "$M/r1.ckpt" ] && cmp -s "$M/r1.ckpt" "$M/r2.ckpt" && cmp -s "$M/r1.out" "$M/r2.out"; then
        pass "mpi/np2-bitwise-reproducible ($(tail -n 1 "$M/r1.out"))"
    else
        fail mpi/np2-bitwise-reproducible "$(cat "$M/r1.out" "$M/r2.out" "$M/err")"
    fi

    # checkpoints go both ways: 2 ranks → one process, one process → 2 ranks
    "$M/mlp" --data "$SMALL" --epochs 3 --resume "$M/r1.ckpt" --quiet >"$M/to1.out" 2>"$M/err" &&
        grep -q '^epoch 3,' "$M/to1.out" && pass mpi/checkpoint-to-one-process ||
        fail mpi/checkpoint-to-one-process "$(cat "$M/err")"
    "$M/mlp" --data "$SMALL" --epochs 1 --save "$M/one.ckpt" --quiet >/dev/null 2>&1
    $MPIRUN -np 2 "$M/mlp_mpi" --data "$SMALL" --epochs 2 --resume "$M/one.ckpt" --quiet >"$M/to2.out" 2>"$M/err" &&
        [ "$(cat "$M/to2.out" | wc -l)" -eq 1 ] && grep -q '^epoch 2,' "$M/to2.out" && pass mpi/checkpoint-to-2-ranks ||
        fail mpi/checkpoint-to-2-ranks "$(cat "$M/to2.out" "$M/err")"

    # uneven shares (3 ranks of 256 rows), and 257 rows: the last minibatch's one row is rank 1's
    for np in 3 2; do
        data=$SMALL; [ $np = 2 ] && data=$M/d257
        $MPIRUN -np $np "$M/mlp_mpi" --data "$data" --epochs 1 --threads 1 >"$M/u.out" 2>"$M/err"
        rc=$?
        if [ $rc -eq 0 ] && grep -Eq '^epoch 1, loss [0-9]+\.[0-9]+, train acc' "$M/u.out"; then
            pass "mpi/np$np-on-$(basename "$data") ($(cat "$M/u.out"))"
        else
            fail "mpi/np$np-on-$(basename "$data")" "status $rc: $(cat "$M/u.out" "$M/err")"
        fi
    done

    # Ctrl-C on mpirun (which hands the ranks SIGTERM): every rank stops at the same
    # step, rank 0 saves and says so in one line, and --resume ends where a run never
    # stopped does, to the bit.  The whole data set, 10 epochs; the signal goes once
    # the first epoch's checkpoint is there, and mpirun hands it on about a second
    # later, some epochs before the end (a fixed delay was once as long as the whole
    # run, and mpirun passes the epoch lines on late)
    rm -f "$M/cut.ckpt"
    $MPIRUN -np 2 "$M/mlp_mpi" --epochs 10 --threads 1 --save "$M/cut.ckpt" >"$M/cut.out" 2>"$M/cut.err" &
    pid=$!
    for _ in $(seq 300); do [ -s "$M/cut.ckpt" ] && break; sleep 0.1; done
    kill -INT $pid
    wait $pid
    $MPIRUN -np 2 "$M/mlp_mpi" --epochs 10 --threads 1 --resume "$M/cut.ckpt" --save "$M/cut.ckpt" \
        >>"$M/cut.out" 2>>"$M/err"
    $MPIRUN -np 2 "$M/mlp_mpi" --epochs 10 --threads 1 --save "$M/whole.ckpt" >"$M/whole.out" 2>>"$M/err"
    # (Open MPI's own libevent may add an "[warn] Epoll MOD(1) on fd N failed" line as
    # mpirun tears the ranks down: that one is not the trainer's, so it is not counted)
    said=$(grep -vc '^\[warn\] Epoll [A-Z]*([0-9]*) on fd [0-9]* failed' "$M/cut.err")
    if [ "$said" -eq 1 ] && grep -q "; saved $M/cut.ckpt; continue with --resume" "$M/cut.err" &&
       cmp -s "$M/cut.ckpt" "$M/whole.ckpt" && cmp -s "$M/cut.out" "$M/whole.out"; then
        pass "mpi/ctrl-c-saves-and-resumes-exactly ($(cut -c 1-70 "$M/cut.err"))"
    else
        fail mpi/ctrl-c-saves-and-resumes-exactly "$(cat "$M/cut.err") | $(tr '\n' '|' <"$M/cut.out") vs $(tr '\n' '|' <"$M/whole.out")"
    fi

    # a rank killed (SIGKILL: nothing of it is left to say goodbye) while the others train:
    # the lowest survivor names it in one line and every rank stops, rather than waiting
    # for its gradients forever (mpirun adds a notice of its own, lines of dashes)
    for victim in 1 0; do
        $MPIRUN -np 2 "$M/mlp_mpi" --epochs 20 --threads 1 --seed $((40 + victim)) >"$M/k.out" 2>"$M/k.err" &
        pid=$!
        for _ in $(seq 300); do grep -q '^epoch 1,' "$M/k.out" && break; sleep 0.1; done
        for p in $(pgrep -f "$M/mlp_mpi --epochs 20 --threads 1 --seed $((40 + victim))"); do
            grep -qaz "^OMPI_COMM_WORLD_RANK=$victim\$" "/proc/$p/environ" 2>/dev/null && kill -KILL "$p"
        done
        start=$SECONDS
        ( sleep 60; kill -KILL $pid 2>/dev/null ) &   # a hang fails the check, not CI
        guard=$!
        wait $pid
        rc=$?
        kill $guard 2>/dev/null
        survivor="mlp_mpi"; [ $victim = 0 ] && survivor="mlp_mpi (rank 1)"
        said=$(grep -c "^$survivor: rank $victim (on [^)]*) stopped answering: died or was killed; every rank stops here" "$M/k.err")
        if [ $rc -ne 0 ] && [ "$said" = 1 ] && [ "$(grep -c 'stopped answering' "$M/k.err")" = 1 ]; then
            pass "mpi/killed-rank-$victim-named-by-a-survivor (in $((SECONDS - start)) s)"
        else
            fail "mpi/killed-rank-$victim-named-by-a-survivor" "status $rc after $((SECONDS - start)) s: $(grep -v -- '---' "$M/k.err" | head -n 5)"
        fi
    done

    # what does not train runs on rank 0 alone, as one process runs it
    timeout 120 $MPIRUN -np 2 "$M/mlp_mpi" --data "$SMALL" --load "$M/r1.ckpt" --predict 2 >"$M/p.out" 2>"$M/err"
    [ "$(grep -c '^image' "$M/p.out")" -eq 2 ] && pass mpi/predict-on-rank-0 || fail mpi/predict-on-rank-0 "$(cat "$M/p.out" "$M/err")"
    timeout 120 $MPIRUN -np 2 "$M/mlp_mpi" --data "$SMALL" --load "$M/r1.ckpt" --eval >"$M/e2.out" 2>"$M/err"
    "$M/mlp" --data "$SMALL" --load "$M/r1.ckpt" --eval >"$M/e1.out" 2>>"$M/err"
    [ -s "$M/e1.out" ] && cmp -s "$M/e1.out" "$M/e2.out" && pass "mpi/eval-on-rank-0 ($(cat "$M/e2.out"))" ||
        fail mpi/eval-on-rank-0 "$(cat "$M/e2.out" "$M/e1.out" "$M/err")"

    # ranks that run different trainers (another batch size), or the same trainer on
    # other data (another subset), are refused at start, in one line from rank 0
    for what in "trainers mlp_mpi_128 $SMALL" "data mlp_mpi $M/d768"; do
        read -r differ other data <<<"$what"   # WHAT RANK-1'S-TRAINER RANK-1'S-DATA
        $MPIRUN -np 1 "$M/mlp_mpi" --data "$SMALL" --epochs 1 : -np 1 "$M/$other" --data "$data" --epochs 1 \
            >"$M/mm.out" 2>"$M/mm.err"
        rc=$?
        if [ $rc -ne 0 ] && grep -q "rank 1 does not run what rank 0 runs" "$M/mm.err" && [ ! -s "$M/mm.out" ]; then
            pass "mpi/different-$differ-refused"
        else
            fail "mpi/different-$differ-refused" "status $rc: $(head -n 3 "$M/mm.err")"
        fi
    done
fi
