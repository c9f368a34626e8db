# Writes the man page of a tfattest binary from its own help, so that the page
# says what the program does: `BIN --help` for the command list, then
# `BIN CMD --help` for each command, as preformatted sections.
#   cmake -DBIN=path/to/tfattest -DNAME=tfattest -DVERSION=x.y.z -DOUT=tfattest.1 -P manpage.cmake
foreach(v BIN NAME VERSION OUT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "manpage.cmake: ${v} is not set")
  endif()
endforeach()

# Escapes text for roff: backslashes, and a leading dot or quote on a line.
function(roff_escape out text)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

execute_process(COMMAND ${BIN} --help OUTPUT_VARIABLE main RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "manpage.cmake: ${BIN} --help exited ${rc}")
endif()
# The commands: the lines "  NAME  summary" after "Commands:".
string(REGEX REPLACE "^.*\nCommands:\n" "" list "${main}")
string(REGEX REPLACE "\n\n.*$" "" list "${list}")
string(REPLACE "\n" ";" lines "${list}")

string(TOUPPER "${NAME}" upper)
set(page ".TH ${upper} 1 \"\" \"tfattest ${VERSION}\" \"User Commands\"\n")
string(APPEND page ".SH NAME\n${NAME} \\- signed, hash-chained records of Terraform deployments, verified offline\n")
string(APPEND page ".SH SYNOPSIS\n.B ${NAME}\n.I command\n[\n.I options\n]\n.br\n.B ${NAME}\n.I command\n.B \\-\\-help\n")
string(APPEND page ".SH DESCRIPTION\n")
string(APPEND page "tfattest records every Terraform deployment as a signed, hash\\-chained, write\\-once\n")
string(APPEND page "record, signed by a key in a PKCS#11 token or AWS KMS, and exports bundles that an\n")
string(APPEND page "auditor verifies offline, with this program or by hand with openssl.\n")
string(APPEND page "Each command's section below is what\n.B ${NAME}\n.I command\n.B \\-\\-help\nprints.\n")
string(APPEND page ".SH COMMANDS\n")
foreach(line IN LISTS lines)
  if(NOT line MATCHES "^  ([a-z0-9]+( list)?)  +(.*)$")
    continue()
  endif()
  set(cmd "${CMAKE_MATCH_1}")
  string(REPLACE " " ";" argv "${cmd}")
  execute_process(COMMAND ${BIN} ${argv} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "manpage.cmake: ${BIN} ${cmd} --help exited ${rc}")
  endif()
  roff_escape(help "${help}")
  string(APPEND page ".SS ${cmd}\n.nf\n${help}.fi\n")
endforeach()
string(APPEND page ".SH ENVIRONMENT\n")
foreach(pair
    "TFATTEST_STORE|the store, when --store is not given"
    "TFATTEST_SEQUENCER|the sequencer, when --sequencer is not given"
    "TFATTEST_KEY|the signing key URI, when --key is not given"
    "TFATTEST_PKCS11_PIN|the PKCS#11 PIN (never passed on to Terraform)"
    "TFATTEST_PKCS11_MODULE|the PKCS#11 module, for pkcs11 list")
  string(REPLACE "|" ";" kv "${pair}")
  list(GET kv 0 k)
  list(GET kv 1 v)
  roff_escape(v "${v}")
  string(APPEND page ".TP\n.B ${k}\n${v}\n")
endforeach()
string(APPEND page ".SH EXIT STATUS\n0 success; 1 verification failed or input rejected; 2 usage, configuration or environment error.\n")
string(APPEND page ".SH SEE ALSO\n")
string(APPEND page "docs/FORMAT.md (the bundle format and the verification rules), docs/WORKFLOW.md, README.md.\n")
file(WRITE "${OUT}.tmp" "${page}")
file(RENAME "${OUT}.tmp" "${OUT}")
