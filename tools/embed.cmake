# cmake -DIN=file -DOUT=file.c -DNAME=symbol -P tools/embed.cmake
# Turns a data file into a C array NAME[] (NUL-terminated) and NAME_len, so
# that the binary needs no data file at run time.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}" "/* Generated from ${IN} by tools/embed.cmake: do not edit. */\n"
  "#include <stddef.h>\n"
  "extern const char ${NAME}[];\nextern const size_t ${NAME}_len;\n"
  "const char ${NAME}[] = { ${bytes} 0 };\n"
  "const size_t ${NAME}_len = ${len};\n")
