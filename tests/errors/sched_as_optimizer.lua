-- expect: tests/errors/sched_as_optimizer.lua:2: model: optimizer must be something like sgd { lr = 0.1 }, got step_lr()
return model {
  input = {784}, classes = 10, layers = { linear(10) }, loss = softmax_cross_entropy(),
  optimizer = step_lr {lr = 0.1, every = 5},
}
