-- expect: tests/errors/sched_gamma.lua:4: step_lr: gamma must be above 0 and at most 1, got 2
return model {
  input = {784}, classes = 10, layers = { linear(10) }, loss = softmax_cross_entropy(),
  optimizer = adam {lr = step_lr {lr = 0.1, every = 2, gamma = 2}},
}
