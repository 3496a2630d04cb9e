ldm_fuzz_target(fuzz_npy SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_npy.c LIBS ldm_io
                CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/npy)
