# kernels/attention.h's accumulate/finish API (keys in blocks) against
# ldm_attention itself and the torch attention goldens (tests/fixtures/kernels).
ldm_c_test(test_kernels_attention_partial
           SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_attention_partial.c
           LIBS ldm_kernels LABELS unit golden)
