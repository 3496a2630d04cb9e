# Column slices and 2-D blocks of weights (io/weights.c), on the .safetensors
# and .bin copies of the tiny text encoder and on strided.bin.
ldm_c_test(test_weights_cols SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_weights_cols.c
           LIBS ldm_io LABELS unit)
