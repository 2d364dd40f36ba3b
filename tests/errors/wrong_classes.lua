-- expect: tests/errors/wrong_classes.lua:11: softmax_cross_entropy(): expects logits (batch, 10) for the model's 10 classes, got (batch, 256) from the last layer; end the layers with linear(10)
-- The last layer is too wide for 10 classes.
return model {
  input   = {1, 28, 28},
  classes = 10,
  layers  = {
    flatten(),
    linear(256),
    relu(),
  },
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.1},
}
