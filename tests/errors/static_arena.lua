-- expect: tests/errors/static_arena.lua:4: model: batch 65536 needs 2053.0 MiB of buffers besides 64.2 MiB of parameters, above the 2032 MiB a trainer's static arrays can hold; use a smaller batch
-- A batch of 65536 rows of 4096 features needs more activation memory (the arena)
-- than a static array can hold.
return model {
  input = {4096}, classes = 10, batch = 65536,
  layers = { linear(4096), relu(), linear(10) },
  loss = softmax_cross_entropy(), optimizer = sgd {lr = 0.1},
}
