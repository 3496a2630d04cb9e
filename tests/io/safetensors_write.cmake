# The .safetensors writer (io/safetensors_write.c). Goldens: tools/reference/
# make_safetensors_write_golden.py (safetensors.torch.save_file).
ldm_c_test(test_safetensors_write SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_safetensors_write.c
           LIBS ldm_io LABELS unit golden)
