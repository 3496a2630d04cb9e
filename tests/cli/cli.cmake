# Command-line behaviour: help, and one clear message + exit 1 per bad flag.
add_test(NAME cli_help COMMAND $<TARGET_FILE:ldm> --help)
set_tests_properties(cli_help PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION "txt2img")
add_test(NAME cli_txt2img_help COMMAND $<TARGET_FILE:ldm> txt2img --help)
set_tests_properties(cli_txt2img_help PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION "--guidance-scale")
add_test(NAME cli_version COMMAND $<TARGET_FILE:ldm> --version)
set_tests_properties(cli_version PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION "ldm [0-9]+\\.[0-9]+")

ldm_cli_test(cli_no_command CODE 1 NEEDLE "usage: ldm" COMMAND)
ldm_cli_test(cli_unknown_command CODE 1 NEEDLE "unknown command \"frobnicate\"" COMMAND frobnicate)
ldm_cli_test(cli_unknown_flag CODE 1 NEEDLE "unknown option \"--stepz\"" COMMAND txt2img --prompt x --stepz 3)
ldm_cli_test(cli_missing_prompt CODE 1 NEEDLE "--prompt is required" COMMAND txt2img --steps 3)
ldm_cli_test(cli_steps_not_int CODE 1 NEEDLE "--steps: expected an integer" COMMAND txt2img --prompt x --steps abc)
ldm_cli_test(cli_steps_zero CODE 1 NEEDLE "--steps: expected an integer from 1" COMMAND txt2img --prompt x --steps 0)
ldm_cli_test(cli_guidance_nan CODE 1 NEEDLE "--guidance-scale: expected a number" COMMAND txt2img --prompt x --guidance-scale nan)
ldm_cli_test(cli_eta_range CODE 1 NEEDLE "--eta: expected a number from 0 to 1" COMMAND txt2img --prompt x --eta 1.5)
ldm_cli_test(cli_seed_negative CODE 1 NEEDLE "--seed: expected an integer from 0" COMMAND txt2img --prompt x --seed -4)
ldm_cli_test(cli_height_mult8 CODE 1 NEEDLE "--height must be a multiple of 8, got 100" COMMAND txt2img --prompt x --height 100)
ldm_cli_test(cli_width_mult8 CODE 1 NEEDLE "--width must be a multiple of 8, got 33" COMMAND txt2img --prompt x --width 33)
ldm_cli_test(cli_scheduler_unknown CODE 1 NEEDLE "--scheduler: expected ddim, pndm or lms, got \"euler\"" COMMAND txt2img --prompt x --scheduler euler)
ldm_cli_test(cli_output_not_png CODE 1 NEEDLE "--output must name a .png file" COMMAND txt2img --prompt x -o out.jpg)
ldm_cli_test(cli_flag_needs_value CODE 1 NEEDLE "--steps needs a value" COMMAND txt2img --prompt x --steps)
ldm_cli_test(cli_prompt_file_missing CODE 1 NEEDLE "--prompt-file: /nonexistent/prompts.txt" COMMAND txt2img --prompt-file /nonexistent/prompts.txt)
ldm_cli_test(cli_prompt_and_file CODE 1 NEEDLE "not both" COMMAND txt2img --prompt x --prompt-file ${CMAKE_CURRENT_LIST_DIR}/cli.cmake)
ldm_cli_test(cli_images_per_prompt CODE 1 NEEDLE "--num-images-per-prompt: expected an integer from 1 to 64" COMMAND txt2img --prompt x --num-images-per-prompt 0)

# ldm info on the fixture model, in both weight formats.
add_test(NAME cli_info_safetensors COMMAND $<TARGET_FILE:ldm> info --model ${LDM_FIXTURES}/tiny-ldm)
set_tests_properties(cli_info_safetensors PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "unet +UNet2DConditionModel +[0-9]+ params +F32.*vqvae +AutoencoderKL")
add_test(NAME cli_info_bin COMMAND $<TARGET_FILE:ldm> info --model ${LDM_FIXTURES}/tiny-ldm-bin)
set_tests_properties(cli_info_bin PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "unet +UNet2DConditionModel +[0-9]+ params +F32.*unet/diffusion_pytorch_model.bin")
ldm_cli_test(cli_info_missing_folder CODE 1 NEEDLE "/nonexistent/model: model folder not found" COMMAND info --model /nonexistent/model)
ldm_cli_test(cli_info_not_a_model CODE 1 NEEDLE "model_index.json" COMMAND info --model ${LDM_FIXTURES})

# txt2img end to end on the tiny fixture model, and its bad inputs.
set(LDM_CLI_TMP ${CMAKE_CURRENT_BINARY_DIR}/cli-tmp)
file(MAKE_DIRECTORY ${LDM_CLI_TMP})
add_test(NAME cli_txt2img_tiny
         COMMAND $<TARGET_FILE:ldm> txt2img --model ${LDM_FIXTURES}/tiny-ldm --prompt "a red circle"
                 --prompt "two blue squares" --num-images-per-prompt 2 --height 64 --width 64 --steps 3
                 --guidance-scale 6 --eta 0.3 --seed 1 --timings -o ${LDM_CLI_TMP}/tiny.png)
set_tests_properties(cli_txt2img_tiny PROPERTIES LABELS cli ENVIRONMENT "OMP_NUM_THREADS=1"
  PASS_REGULAR_EXPRESSION "wrote .*tiny-3.png.*timings: load")
ldm_cli_test(cli_txt2img_no_model CODE 1 NEEDLE "/nonexistent/model: model folder not found"
             COMMAND txt2img --model /nonexistent/model --prompt x)
ldm_cli_test(cli_txt2img_latents_missing CODE 1 NEEDLE "--latents: /nonexistent/l.npy"
             COMMAND txt2img --model ${LDM_FIXTURES}/tiny-ldm --prompt x --latents /nonexistent/l.npy)
ldm_cli_test(cli_txt2img_latents_shape CODE 1 NEEDLE "--latents: expected 256 values ([1, 4, 8, 8]), got 4096"
             COMMAND txt2img --model ${LDM_FIXTURES}/tiny-ldm --prompt x --height 64 --width 64
                     --latents ${LDM_FIXTURES}/npy/squirrel_latents.npy)
ldm_cli_test(cli_txt2img_invalid_utf8 CODE 1 NEEDLE "prompt 2: prompt: invalid UTF-8 at byte 3"
             COMMAND txt2img --model ${LDM_FIXTURES}/tiny-ldm --prompt-file ${LDM_FIXTURES}/cli/invalid_utf8_prompts.txt
                     --height 64 --width 64 --steps 2 -o ${LDM_CLI_TMP}/never.png)
ldm_cli_test(cli_txt2img_bad_output_dir CODE 1 NEEDLE "/nonexistent/dir/x.png"
             COMMAND txt2img --model ${LDM_FIXTURES}/tiny-ldm --prompt x --height 64 --width 64 --steps 2
                     -o /nonexistent/dir/x.png)
ldm_cli_test(cli_txt2img_steps_too_many CODE 1 NEEDLE "--steps 1000 with ${LDM_FIXTURES}/tiny-ldm/scheduler/scheduler_config.json: timestep 1000"
             COMMAND txt2img --model ${LDM_FIXTURES}/tiny-ldm --prompt x --steps 1000 --scheduler pndm)

# Broken copies of the tiny model: exit 1 and a message naming file and tensor/field.
add_test(NAME cli_bad_model COMMAND ${CMAKE_CURRENT_LIST_DIR}/bad_model.sh $<TARGET_FILE:ldm>
         ${LDM_FIXTURES} ${CMAKE_CURRENT_BINARY_DIR}/bad-model-tmp)
set_tests_properties(cli_bad_model PROPERTIES LABELS cli ENVIRONMENT "OMP_NUM_THREADS=1")

# txt2img --checkpoint: kill at exact write points, resume, same image.
add_test(NAME cli_txt2img_checkpoint
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/txt2img_checkpoint.sh $<TARGET_FILE:ldm> ${LDM_FIXTURES}
                 ${CMAKE_CURRENT_BINARY_DIR}/txt2img-checkpoint-tmp)
set_tests_properties(cli_txt2img_checkpoint PROPERTIES LABELS cli SKIP_RETURN_CODE 77)
