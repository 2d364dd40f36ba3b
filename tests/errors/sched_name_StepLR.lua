-- expect: tests/errors/sched_name_StepLR.lua:5: unknown learning-rate schedule 'StepLR'; did you mean step_lr()? (schedules: step_lr, cosine_lr)
-- PyTorch's name for a schedule maps to kiln's.
return model {
  input = {784}, classes = 10, layers = { linear(10) }, loss = softmax_cross_entropy(),
  optimizer = sgd {lr = StepLR {lr = 0.1, every = 5}},
}
