# io/npy.c and io/png.c. The .npy fixtures come from
# tools/reference/make_rng_goldens.py (numpy); PNG tests need no fixtures.
ldm_c_test(test_npy SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_npy.c LIBS ldm_io LABELS unit golden)
ldm_c_test(test_png SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_png.c LIBS ldm_io LABELS unit)
