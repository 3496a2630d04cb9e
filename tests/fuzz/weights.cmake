# Fuzz targets of the weight-file and config readers; seed corpora hold
# valid and invalid samples and every crasher found so far.
ldm_fuzz_target(fuzz_safetensors SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_safetensors.c
                LIBS ldm_io CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/safetensors)
ldm_fuzz_target(fuzz_config SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_config.c
                LIBS ldm_io CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/config)
