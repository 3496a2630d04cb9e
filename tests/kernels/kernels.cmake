# tests/kernels: every kernel against torch goldens from
# tools/reference/make_kernel_goldens.py (tests/fixtures/kernels).
foreach(t conv2d linear norm elementwise resample embedding attention)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
    ldm_c_test(test_kernels_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c
               LIBS ldm_kernels LABELS unit golden)
  endif()
endforeach()

# tools/bench/bench_kernels: not a test (timings, no pass/fail); built so it
# keeps compiling. Links OpenBLAS (comparison only; the kernels never do).
find_library(LDM_OPENBLAS_LIBRARY NAMES openblas)
find_path(LDM_OPENBLAS_INCLUDE_DIR NAMES cblas.h
          PATH_SUFFIXES openblas-pthread openblas-openmp openblas x86_64-linux-gnu/openblas-pthread)
if(LDM_OPENBLAS_LIBRARY AND LDM_OPENBLAS_INCLUDE_DIR)
  add_executable(bench_kernels ${PROJECT_SOURCE_DIR}/tools/bench/bench_kernels.c)
  target_include_directories(bench_kernels PRIVATE ${LDM_OPENBLAS_INCLUDE_DIR} ${DNNL_INCLUDE_DIR})
  target_compile_options(bench_kernels PRIVATE -O2)
  target_link_libraries(bench_kernels PRIVATE ldm_kernels ${LDM_OPENBLAS_LIBRARY})
else()
  message(STATUS "OpenBLAS not found: tools/bench/bench_kernels not built")
endif()
