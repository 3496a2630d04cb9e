# torch-compatible RNG: goldens from tools/reference/make_rng_goldens.py.
ldm_c_test(test_rng SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_rng.c LIBS ldm_sample
           LABELS unit golden)
