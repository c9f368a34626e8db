# Embeds a text file in the library as a C array, byte for byte:
#   cmake -DIN=FILE -DOUT=FILE.c -DNAME=SYMBOL -P cmake/embed_text.cmake
# defines `const unsigned char SYMBOL[]` (the bytes, then a NUL) and
# `const size_t SYMBOL_len` (the bytes without the NUL). The bytes are written
# as numbers, so the file needs no escaping and keeps every byte it has.
foreach(v IN ITEMS IN OUT NAME)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "embed_text.cmake: -D${v}= is required")
  endif()
endforeach()
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
set(bytes "")
# Twelve bytes a line.
foreach(at RANGE 0 ${n} 24)
  string(SUBSTRING "${hex}" ${at} 24 line)
  if(NOT line STREQUAL "")
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1, " line "${line}")
    string(STRIP "${line}" line)
    string(APPEND bytes "\t${line}\n")
  endif()
endforeach()
get_filename_component(src "${IN}" NAME)
file(WRITE "${OUT}.tmp"
  "/* Generated from ${src} by cmake/embed_text.cmake: edit ${src}, not this file. */\n"
  "#include <stddef.h>\n"
  "\n"
  "extern const unsigned char ${NAME}[];\n"
  "extern const size_t ${NAME}_len;\n"
  "\n"
  "const unsigned char ${NAME}[] = {\n"
  "${bytes}\t0x00\n"
  "};\n"
  "const size_t ${NAME}_len = sizeof(${NAME}) - 1;\n")
file(RENAME "${OUT}.tmp" "${OUT}")
