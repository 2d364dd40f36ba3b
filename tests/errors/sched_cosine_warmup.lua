-- expect: tests/errors/sched_cosine_warmup.lua:5: cosine_lr: warmup (4) must be below epochs (4): the cosine needs at least one epoch
-- warmup must leave the cosine at least one of the epochs it spans.
return model {
  input = {784}, classes = 10, layers = { linear(10) }, loss = softmax_cross_entropy(),
  optimizer = sgd {lr = cosine_lr {lr = 0.1, epochs = 4, warmup = 4}},
}
