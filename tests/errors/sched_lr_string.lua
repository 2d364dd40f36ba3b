-- expect: tests/errors/sched_lr_string.lua:4: sgd: option lr must be a number or a schedule like step_lr {lr = 0.1, every = 5}, got the string "fast"
return model {
  input = {784}, classes = 10, layers = { linear(10) }, loss = softmax_cross_entropy(),
  optimizer = sgd {lr = "fast"},
}
