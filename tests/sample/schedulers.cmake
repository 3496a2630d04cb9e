# Schedulers (DDIM, PNDM, LMS) against diffusers' goldens in
# tests/fixtures/schedulers (tools/reference/make_scheduler_goldens.py).
ldm_c_test(test_schedulers SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_schedulers.c
           LIBS ldm_sample ldm_io LABELS unit golden)
