-- expect: tests/errors/forged_line.lua:3: bad input\nkiln: all is well
-- A message is one line: its newlines are escaped, so a spec cannot forge a second "kiln:" line.
error("bad input\nkiln: all is well")
