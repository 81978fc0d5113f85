# cmake -DTEST_BINARY=<file> -P CheckTestNames.cmake: fails when a test case's name holds a `;`.
# catch_discover_tests cuts names there, and CTest then runs a filter that matches no test case,
# which Catch reports as a pass: the test would silently never run.
# (Catch2 v2 exits with the number of names listed, so the exit code says nothing here; a binary
# that cannot run fails catch_discover_tests right after.)
execute_process(COMMAND ${TEST_BINARY} --list-test-names-only OUTPUT_VARIABLE names)
string(REPLACE ";" "<semicolon>" names "${names}")
string(REPLACE "\n" ";" names "${names}")
foreach(name IN LISTS names)
  if(name MATCHES "<semicolon>")
    string(REPLACE "<semicolon>" ";" name "${name}")
    message(FATAL_ERROR "${TEST_BINARY}: test case \"${name}\" has a ';' in its name, where CTest "
                        "would cut it (and then run nothing): use a comma")
  endif()
endforeach()
