-- expect: tests/errors/sched_cosine_warmup_spec_epochs.lua:5: cosine_lr: warmup (3) must be below the epochs it spans (the model's epochs, 3); give cosine_lr {epochs = N} with N above 3, or the model more epochs
-- cosine_lr spans the model's epochs unless it says otherwise.
return model {
  input = {784}, classes = 10, layers = { linear(10) }, loss = softmax_cross_entropy(),
  optimizer = sgd {lr = cosine_lr {lr = 0.1, warmup = 3}},
  epochs = 3,
}
