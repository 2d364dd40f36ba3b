-- expect: tests/errors/terminal_escape.lua:3: \x1b[2J\x1b]0;owned\x07\xc2\x9b31m red \xff, but UTF-8 text such as × stays
-- Control characters (ESC, BEL, the C1 CSI U+009B, a stray byte) are written as escapes, not sent to the terminal.
error("\27[2J\27]0;owned\7\194\15531m red \255, but UTF-8 text such as × stays")
