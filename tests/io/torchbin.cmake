# PyTorch .bin reader: restricted unpickler and zip index (branch torchbin).
ldm_c_test(test_pickle SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pickle.c LIBS ldm_io LABELS unit)
ldm_c_test(test_torch_bin SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_torch_bin.c LIBS ldm_io
           LABELS unit golden)
