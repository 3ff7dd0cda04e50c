# tutti_library / tutti_test: one target per component, sources listed, dependencies explicit.

set(TUTTI_WARNINGS -Wall -Wextra)

# tutti_library(NAME name SRCS a.cc b.cc DEPS dep1 dep2 [TORCH])
#   TORCH marks targets that include LibTorch: they get the shared precompiled header.
function(tutti_library)
  cmake_parse_arguments(ARG "TORCH" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${ARG_NAME} STATIC ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${ARG_NAME} PUBLIC ${ARG_DEPS})
  target_compile_options(${ARG_NAME} PRIVATE ${TUTTI_WARNINGS})
  if(ARG_TORCH)
    tutti_torch_pch(${ARG_NAME})
  endif()
endfunction()

# tutti_binary(NAME name SRCS main.cc DEPS ...)
function(tutti_binary)
  cmake_parse_arguments(ARG "TORCH" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  target_compile_options(${ARG_NAME} PRIVATE ${TUTTI_WARNINGS})
  if(ARG_TORCH)
    tutti_torch_pch(${ARG_NAME})
  endif()
endfunction()

# tutti_test(NAME name SRCS x_test.cc DEPS ... [LABELS l1 l2] [PROPERTIES prop value ...] [TORCH])
#   Test binaries get TUTTI_SOURCE_DIR, TUTTI_TESTDATA_DIR, TUTTI_BIN_DIR and TUTTI_LPD5_REAL_DIR
#   (../shared/lpd5-real beside the checkout; tests that need it skip with a message when it is absent).
function(tutti_test)
  cmake_parse_arguments(ARG "TORCH" "NAME" "SRCS;DEPS;LABELS;PROPERTIES" ${ARGN})
  if(NOT TUTTI_BUILD_TESTS)
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_options(${ARG_NAME} PRIVATE ${TUTTI_WARNINGS})
  get_filename_component(_shared "${PROJECT_SOURCE_DIR}/../shared" ABSOLUTE)
  target_compile_definitions(${ARG_NAME} PRIVATE
    TUTTI_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    TUTTI_TESTDATA_DIR="${PROJECT_SOURCE_DIR}/tests/testdata"
    TUTTI_BIN_DIR="${CMAKE_BINARY_DIR}/bin"
    TUTTI_LPD5_REAL_DIR="${_shared}/lpd5-real")
  if(ARG_TORCH)
    tutti_torch_pch(${ARG_NAME})
  endif()
  # Several labels: "a;b" passes through four list expansions on its way to set_tests_properties
  # (our PROPERTIES, gtest_discover_tests' argument parsing, GoogleTestAddTests' `properties` and its
  # add_command), each eating one level of escaping; unescaped, it is flattened into the key/value
  # list, "b" becomes a property name and every property after LABELS (RESOURCE_LOCK, TIMEOUT) is
  # lost. Hence 15 backslashes (CMake 3.25; check with `ctest -N --show-only=json-v1`).
  string(REPLACE ";" "\\\\\\\\\\\\\\\;" _labels "${ARG_LABELS}")
  set(_props LABELS "${_labels}" ${ARG_PROPERTIES})
  gtest_discover_tests(${ARG_NAME}
    DISCOVERY_MODE PRE_TEST
    WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
    PROPERTIES ${_props})
endfunction()

# One precompiled header shared by every LibTorch target (it saves ~10 s per translation unit).
function(tutti_torch_pch target)
  if(NOT TARGET tutti_torch_pch_anchor)
    return()
  endif()
  target_precompile_headers(${target} REUSE_FROM tutti_torch_pch_anchor)
endfunction()
