# tests/models/vae.cmake: ResnetBlock2D, Downsample2D, Upsample2D and
# AutoencoderKL against diffusers goldens (tools/reference/make_vae_goldens.py,
# tests/fixtures/vae and tests/fixtures/tiny-ldm/vqvae).
ldm_c_test(test_models_resnet SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_resnet.c
           LIBS ldm_models LABELS unit golden)
ldm_c_test(test_models_vae SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_vae.c
           LIBS ldm_models LABELS golden)
# Real-size decoder against diffusers; needs LDM_VAE_REAL_DIR (see the test's
# header), skipped otherwise.
ldm_c_test(test_models_vae_real SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_vae_real.c
           LIBS ldm_models LABELS golden slow)
