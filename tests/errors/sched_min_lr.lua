-- expect: tests/errors/sched_min_lr.lua:4: cosine_lr: min_lr must be from 0 to lr (0.1), got 0.5
return model {
  input = {784}, classes = 10, layers = { linear(10) }, loss = softmax_cross_entropy(),
  optimizer = sgd {lr = cosine_lr {lr = 0.1, min_lr = 0.5}},
}
