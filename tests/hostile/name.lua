-- A model name full of C-hostile characters: quotes, a call, a comment
-- opener and closer, a trigraph, a backslash, a newline and a tab.  kiln
-- must derive identifiers safely and escape it wherever it appears.
return model {
  name    = 'x"; system("rm -rf /"); // */ /* ??/ \\ \n\t%s',
  input   = {4},
  classes = 2,
  batch   = 4,
  layers  = { linear(2) },
  loss    = softmax_cross_entropy(),
  optimizer = sgd {lr = 0.1},
}
