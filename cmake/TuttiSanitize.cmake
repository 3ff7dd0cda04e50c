# TUTTI_SANITIZE: build every project target with AddressSanitizer + UndefinedBehaviorSanitizer.
#   -DTUTTI_SANITIZE=ON                 address,undefined (what `scripts/test.sh --sanitize` uses, in build-asan/)
#   -DTUTTI_SANITIZE=address            any other -fsanitize= list, e.g. only ASan to bisect a report
#   OFF (the default)                   nothing added; the normal build and CI stay uninstrumented
#
# Set directory-wide (add_compile_options / add_link_options) before any add_subdirectory, so every library,
# binary, test and the shared LibTorch precompiled header get the same flags: a PCH built without them
# would be refused by the targets that reuse it, and a static library left uninstrumented would hide
# exactly the bugs this build is for. Third-party libraries (LibTorch, gRPC, Open MPI, SQLite) are Debian's
# uninstrumented shared objects: ASan still checks every heap block they hand us (its malloc replaces
# theirs), it just does not check their own loads and stores.
#
# -fno-sanitize-recover=undefined: UBSan aborts at the first report instead of printing and going on,
#   so a test cannot pass past undefined behaviour (the runtime options alone cannot do that for code
#   compiled with recovery).
# -fno-omit-frame-pointer: ASan's fast unwinder walks frame pointers; without them reports lose frames.
#
# GCC 12 (the project's compiler) rather than clang: the sanitized build then checks the code as the
# normal build compiles it (same front end, same libstdc++ configuration, same LibTorch/gRPC flags). The
# flags are plain GCC/clang ones, so -DCMAKE_CXX_COMPILER=clang++ works too (bench/fuzz.sh's build is clang).
set(TUTTI_SANITIZE OFF CACHE STRING
    "Sanitizers for every project target: OFF, ON (= address,undefined) or a -fsanitize= list")

if(TUTTI_SANITIZE)
  if(TUTTI_SANITIZE STREQUAL "ON" OR TUTTI_SANITIZE STREQUAL "1" OR TUTTI_SANITIZE STREQUAL "TRUE")
    set(_tutti_sanitizers address,undefined)
  else()
    set(_tutti_sanitizers ${TUTTI_SANITIZE})
  endif()
  set(TUTTI_SANITIZE_FLAGS -fsanitize=${_tutti_sanitizers} -fno-omit-frame-pointer)
  if(_tutti_sanitizers MATCHES "undefined")
    list(APPEND TUTTI_SANITIZE_FLAGS -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${TUTTI_SANITIZE_FLAGS})
  add_link_options(${TUTTI_SANITIZE_FLAGS})
  list(JOIN TUTTI_SANITIZE_FLAGS " " _tutti_sanitize_text)
  message(STATUS "Tutti: sanitizers on every target: ${_tutti_sanitize_text}")
endif()
