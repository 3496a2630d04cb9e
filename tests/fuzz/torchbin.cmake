# Fuzz targets of the PyTorch .bin reader: the unpickler alone, and the whole
# zip + data.pkl + storage-read path. Seeds: tools/reference/make_torchbin_fixtures.py
# (and inputs that once crashed, kept as regressions).
ldm_fuzz_target(fuzz_pickle SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_pickle.c LIBS ldm_io
                CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/pickle)
ldm_fuzz_target(fuzz_zip SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_zip.c LIBS ldm_io
                CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/zip)
