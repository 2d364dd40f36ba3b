-- ckpt_model.lua — the model tests/fuzz/fuzz_ckpt.c resumes checkpoints on:
-- every field a checkpoint carries matters to it (dropout's key and Adam's
-- step count, the classes' counters), and a step takes microseconds.
-- Its data (dir ".") is written by the harness and given with --data.
return model {
  name = "fuzz", input = {1, 4, 4}, classes = 3,
  layers = { flatten(), linear(8), relu(), dropout(0.25), linear(3) },
  loss = softmax_cross_entropy(), optimizer = adam {lr = 0.01},
  data = idx { dir = "." }, batch = 4, epochs = 2,
}
