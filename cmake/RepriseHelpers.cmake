# Shared build settings for every reprise target.

# reprise_target_defaults(<target>): warnings, -Werror on request, sanitizers.
function(reprise_target_defaults target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough)
  if(REPRISE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(REPRISE_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${REPRISE_SANITIZE} -fno-omit-frame-pointer
                                              -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${REPRISE_SANITIZE})
    # -O1 with line tables, after (so instead of) the build type's -O and -g: the level ASan's
    # documentation recommends, and half the compile time of -O2 -g (the sanitizer build was
    # 17 of CI's 25 minutes). Reports still name the file and line of every frame.
    target_compile_options(${target} PRIVATE -O1 -g1)
    # GCC's -Wmaybe-uninitialized misfires on sanitizer-instrumented code (here inside
    # boost::optional in Beast's parser); the normal build keeps the warning. Clang has no such
    # warning.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
    endif()
  endif()
  if(REPRISE_FUZZ)
    # Coverage feedback for libFuzzer in every library the fuzz targets link (tests/fuzz/).
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()

# reprise_add_library(<name> SOURCES ...): a static library reprise_<name> with the alias
# reprise::<name>, public headers in <folder>/include.
function(reprise_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  add_library(reprise_${name} STATIC ${ARG_SOURCES})
  add_library(reprise::${name} ALIAS reprise_${name})
  target_include_directories(reprise_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  reprise_target_defaults(reprise_${name})
endfunction()

# reprise_add_test(<name> [SERIAL_TAG] SOURCES ... LIBS ...): one Catch2 executable whose test
# cases are registered with CTest one by one (their names checked first: CheckTestNames.cmake).
# With SERIAL_TAG, its cases tagged [serial] run with nothing else beside them (RUN_SERIAL): they
# assert timings that a neighbour loading the machine would move (e.g. "two runs of one release
# pass a latency gate").
function(reprise_add_test name)
  cmake_parse_arguments(ARG "SERIAL_TAG" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE reprise_test_main ${ARG_LIBS})
  reprise_target_defaults(${name})
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DTEST_BINARY=$<TARGET_FILE:${name}> -P ${PROJECT_SOURCE_DIR}/cmake/CheckTestNames.cmake
    VERBATIM)
  set(environment ENVIRONMENT "REPRISE_BIN=$<TARGET_FILE:reprise>")  # the source dir is compiled in
  if(ARG_SERIAL_TAG)
    catch_discover_tests(${name} TEST_SPEC "~[serial]"
      WORKING_DIRECTORY ${CMAKE_BINARY_DIR} PROPERTIES ${environment})
    catch_discover_tests(${name} TEST_SPEC "[serial]"
      WORKING_DIRECTORY ${CMAKE_BINARY_DIR} PROPERTIES ${environment} RUN_SERIAL TRUE)
  else()
    catch_discover_tests(${name} WORKING_DIRECTORY ${CMAKE_BINARY_DIR} PROPERTIES ${environment})
  endif()
endfunction()
