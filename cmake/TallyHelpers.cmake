# One helper per target kind, in the manner of abseil's AbseilHelpers.cmake:
# every target gets the shared warning flags and sanitizer options, and every
# test is registered with CTest.

set(TALLY_WARNING_FLAGS -Wall -Wextra -Wshadow=local -Wnon-virtual-dtor -Wno-missing-field-initializers)
if(TALLY_WERROR)
  list(APPEND TALLY_WARNING_FLAGS -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  list(APPEND TALLY_WARNING_FLAGS -Wthread-safety)
endif()

set(TALLY_SANITIZER_FLAGS "")
if(TALLY_SANITIZE STREQUAL "address")
  set(TALLY_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
elseif(TALLY_SANITIZE STREQUAL "thread")
  set(TALLY_SANITIZER_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # Asio's scheduler uses std::atomic_thread_fence, which GCC warns TSan
    # does not model (-Wtsan); asio's own locking is what TSan checks.
    list(APPEND TALLY_SANITIZER_FLAGS -Wno-tsan)
  endif()
elseif(NOT TALLY_SANITIZE STREQUAL "")
  message(FATAL_ERROR "TALLY_SANITIZE must be '', 'address' or 'thread', not '${TALLY_SANITIZE}'")
endif()

function(_tally_apply_flags target)
  target_compile_options(${target} PRIVATE ${TALLY_WARNING_FLAGS} ${TALLY_SANITIZER_FLAGS})
  target_link_options(${target} PRIVATE ${TALLY_SANITIZER_FLAGS})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src)
endfunction()

# tally_cc_library(NAME name SRCS ... DEPS ...)
function(tally_cc_library)
  cmake_parse_arguments(T "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${T_NAME} STATIC ${T_SRCS})
  _tally_apply_flags(${T_NAME})
  target_link_libraries(${T_NAME} PUBLIC ${T_DEPS})
endfunction()

# tally_cc_binary(NAME name SRCS ... DEPS ...)
function(tally_cc_binary)
  cmake_parse_arguments(T "" "NAME;OUTPUT_NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${T_NAME} ${T_SRCS})
  _tally_apply_flags(${T_NAME})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS})
  if(T_OUTPUT_NAME)
    set_target_properties(${T_NAME} PROPERTIES OUTPUT_NAME ${T_OUTPUT_NAME})
  endif()
endfunction()

# tally_cc_test(NAME name SRCS ... DEPS ... [LABELS ...])
# A GoogleTest binary registered with CTest; label "engine" marks the tests
# that CI also runs under TSan and ASan/UBSan.
function(tally_cc_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SRCS})
  _tally_apply_flags(${T_NAME})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT}
                       ENVIRONMENT "TALLY_TEST_TMPDIR=${CMAKE_BINARY_DIR}/testtmp")
  if(T_LABELS)
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()

# tally_cc_bench(NAME name SRCS ... DEPS ...): a Google Benchmark binary (not a test).
function(tally_cc_bench)
  cmake_parse_arguments(T "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${T_NAME} ${T_SRCS})
  _tally_apply_flags(${T_NAME})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS})
endfunction()
