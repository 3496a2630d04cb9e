# tests/kernels: every kernel against torch goldens from
# tools/reference/make_kernel_goldens.py (tests/fixtures/kernels).
foreach(t conv2d linear norm elementwise resample embedding attention)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
    ldm_c_test(test_kernels_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c
               LIBS ldm_kernels LABELS unit golden)
  endif()
endforeach()
