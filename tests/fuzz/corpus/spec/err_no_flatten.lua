-- expect: tests/errors/no_flatten.lua:10: linear(256): expects (batch, features), got (batch, 1, 28, 28); add flatten() before it
-- The book's MLP without flatten(): images reach linear() as 1×28×28.
return model {
  name    = "no_flatten",
  input   = {1, 28, 28},
  classes = 10,
  layers  = {
    -- flatten() is missing here

    linear(256),
    relu(),
    linear(10),
  },
  loss      = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.1},
}
