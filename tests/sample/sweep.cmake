# Sweep specs: parsing, the item order, every bad-spec message.
ldm_c_test(test_sweep_spec SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sweep_spec.c
           LIBS ldm_sample LABELS unit)
