-- expect: tests/errors/sched_step_no_every.lua:4: step_lr: needs a base rate and a period, e.g. step_lr {lr = 0.1, every = 5, gamma = 0.1}
return model {
  input = {784}, classes = 10, layers = { linear(10) }, loss = softmax_cross_entropy(),
  optimizer = sgd {lr = step_lr {lr = 0.1}},
}
